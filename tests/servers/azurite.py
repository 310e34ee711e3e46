"""Azure Blob Storage: Azurite (npm), in memory."""

from __future__ import annotations

import os

from tests.servers.base import HOST, LocalServer, free_port, http_ok

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "devstoreaccount1"
# Azurite's documented development key: public, not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteServer(LocalServer):
    name = "azurite"

    def launch(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}/{ACCOUNT}"
        binary = os.path.join(HERE, "node_modules", ".bin", "azurite-blob")
        self.spawn([binary, "--blobHost", HOST, "--blobPort", str(self.port), "--inMemoryPersistence",
                    "--loose", "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
                   log_name="azurite.log", cwd=self.dir)

    def is_ready(self) -> bool:
        # Any HTTP answer (even 400/403 for the bare account URL) means it listens.
        return http_ok(f"{self.endpoint}?comp=list", expect=lambda status, _body: status < 500)

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.endpoint};")

    def connection(self) -> dict:
        return {"conn_type": "wasb", "extra": {"connection_string": self.connection_string}}
