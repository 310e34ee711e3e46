"""PostgreSQL (Debian's packages) as a private cluster in a temp directory, for the Celery test."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

from tests.servers.base import HOST, INSTALL_HINT, LocalServer, ServerError, free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerError(f"PostgreSQL's {name} is not installed; {INSTALL_HINT}")
    return found[-1]


class PostgresServer(LocalServer):
    """A cluster owned by the ``postgres`` system user (the server refuses to run as root)."""

    name = "postgres"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def launch(self) -> None:
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(self._as_postgres([_bin("initdb"), "-D", data, "-A", "trust", "-U", "airflow",
                                          "--no-sync"]), check=True, capture_output=True)
        self.spawn(self._as_postgres([_bin("postgres"), "-D", data, "-p", str(self.port), "-h", HOST,
                                      "-k", self.dir, "-c", "fsync=off", "-c", "max_connections=200"]),
                   log_name="postgres.log")
        self.url = f"postgresql+psycopg2://airflow@{HOST}:{self.port}/airflow"

    def is_ready(self) -> bool:
        result = subprocess.run([_bin("pg_isready"), "-h", HOST, "-p", str(self.port)], capture_output=True)
        if result.returncode != 0:
            return False
        created = subprocess.run([_bin("createdb"), "-h", HOST, "-p", str(self.port), "-U", "airflow", "airflow"],
                                 capture_output=True, text=True)
        return created.returncode == 0 or "already exists" in created.stderr


class RedisServer(LocalServer):
    name = "redis"

    def launch(self) -> None:
        self.port = free_port()
        self.spawn(["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                    "--dir", self.dir], log_name="redis.log")
        self.url = f"redis://{HOST}:{self.port}/0"

    def is_ready(self) -> bool:
        import socket

        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
