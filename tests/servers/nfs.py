"""nfs-ganesha for the tests: NFSv4 on 127.0.0.1, a free port, a temporary export, stopped by pid.

    with NfsServer(tmp_path) as server:
        (server.export_dir / "data.csv").write_text("...")
        Mount(server.source, "/mnt/data", options={"port": server.port})

Needs ``ganesha.nfsd`` with the VFS FSAL (apt-get install nfs-ganesha nfs-ganesha-vfs) and root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from airflow_datastores.errors import ShareUnreachable
from airflow_datastores.mounts.checks import ping_nfs

HOST = "127.0.0.1"
PSEUDO = "/export"
INSTALL_HINT = "apt-get install -y nfs-ganesha nfs-ganesha-vfs"

_CONFIG = """\
NFS_CORE_PARAM {{
    Bind_addr = {host};
    NFS_Port = {port};
    Protocols = 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
}}
NFSV4 {{
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = "{root}/recovery";
}}
EXPORT {{
    Export_Id = 1;
    Path = "{export}";
    Pseudo = {pseudo};
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = EVENT; }}
"""


class NfsServer:
    """One ganesha.nfsd process serving ``root/export`` as ``127.0.0.1:/export``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.export_dir = self.root / "export"
        self.host = HOST
        self.pseudo = PSEUDO
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def source(self) -> str:
        """The share as a mount source: ``127.0.0.1:/export``."""
        return f"{self.host}:{self.pseudo}"

    @property
    def log_file(self) -> Path:
        return self.root / "ganesha.log"

    def start(self, *, timeout: float = 20.0, attempts: int = 3) -> NfsServer:
        """Start on a free port and return once the server answers an NFS NULL call."""
        binary = shutil.which("ganesha.nfsd", path="/usr/bin:/usr/sbin:/bin:/sbin")
        if binary is None:
            raise RuntimeError(f"ganesha.nfsd is not installed: {INSTALL_HINT}")
        self.export_dir.mkdir(parents=True, exist_ok=True)
        (self.root / "recovery").mkdir(exist_ok=True)
        error = None
        for _ in range(attempts):  # a port found free can be taken before ganesha binds it
            self.port = _free_port()
            config = self.root / "ganesha.conf"
            config.write_text(
                _CONFIG.format(
                    host=self.host, port=self.port, root=self.root, export=self.export_dir, pseudo=self.pseudo
                )
            )
            self.process = subprocess.Popen(
                [
                    binary,
                    "-F",
                    "-f",
                    str(config),
                    "-L",
                    str(self.log_file),
                    "-p",
                    str(self.root / "ganesha.pid"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                self._wait_ready(timeout)
                return self
            except RuntimeError as err:
                error = err
                self.stop()
        raise error

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; by pid, never by name."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ganesha.nfsd exited with code {self.process.returncode}:\n{self._log_tail()}"
                )
            try:
                ping_nfs(self.host, self.port, timeout=1.0)
                return
            except ShareUnreachable:
                time.sleep(0.1)
        where = f"{self.host}:{self.port}"
        raise RuntimeError(
            f"ganesha.nfsd did not answer on {where} within {timeout:g} s:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> NfsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
