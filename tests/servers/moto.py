"""S3: moto server."""

from __future__ import annotations

import os
import sys

from tests.servers.base import HOST, LocalServer, free_port, http_ok


class MotoServer(LocalServer):
    name = "moto"

    def launch(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.spawn([moto, "-H", HOST, "-p", str(self.port)], log_name="moto.log")

    def is_ready(self) -> bool:
        return http_ok(f"{self.endpoint}/moto-api/data.json")

    def connection(self) -> dict:
        return {"conn_type": "aws", "login": "testing", "password": "testing",
                "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}
