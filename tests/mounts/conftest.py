"""Fixtures of the mount tests: a real nfs-ganesha on 127.0.0.1, a share per test, mount points."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from airflow_datastores.mounts import Mount

try:
    from tests.servers.nfs import NfsServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from servers.nfs import NfsServer


@dataclass
class Share:
    """A directory of the export, served as its own share: ``127.0.0.1:/export/<name>``."""

    server: NfsServer
    name: str

    @property
    def dir(self) -> Path:
        """The share's files as the server sees them."""
        return self.server.export_dir / self.name

    @property
    def source(self) -> str:
        return f"{self.server.source}/{self.name}"

    def mount(self, destination, **kwargs) -> Mount:
        options = {"port": self.server.port, **kwargs.pop("options", {})}
        return Mount(self.source, str(destination), options=options, **kwargs)


@pytest.fixture(scope="session")
def nfs_server(tmp_path_factory):
    server = NfsServer(tmp_path_factory.mktemp("ganesha")).start()
    yield server
    server.stop()


@pytest.fixture
def nfs_share(nfs_server) -> Share:
    share = Share(nfs_server, f"share-{uuid.uuid4().hex[:8]}")
    share.dir.mkdir()
    return share


@pytest.fixture
def mount_point(tmp_path) -> Path:
    """A destination that does not exist yet: the runner creates it for the task and removes it after."""
    return tmp_path / "mnt" / "data"


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line mentions ``text`` (the FUSE daemon names its mount point)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if text in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def mounted_anywhere(path) -> list[int]:
    """Pids of every process on this machine whose mount namespace has something mounted at ``path``."""
    needle = f" {path} "
    pids = []
    for process in psutil.process_iter():
        try:
            with open(f"/proc/{process.pid}/mountinfo", encoding="utf-8", errors="replace") as info:
                if any(needle in line for line in info):
                    pids.append(process.pid)
        except OSError:
            continue
    return pids
