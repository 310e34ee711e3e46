"""NFS through user space, for kernels without an NFS client: a FUSE daemon over nfs-rs.

The daemon (:mod:`airflow_datastores.mounts.nfs_fuse`) is a fresh Python process started inside
the task's private namespace, so its FUSE mount exists there only; the kernel kills it if the
process that started it dies (PR_SET_PDEATHSIG). It says ``ready`` on a pipe once mounted, or why not.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time

from airflow_datastores.errors import MountFailed
from airflow_datastores.mounts.drivers.base import ActiveMount, Driver
from airflow_datastores.mounts.namespace import detach_mount, die_with_parent, is_mount_point
from airflow_datastores.mounts.options import unknown_options
from airflow_datastores.mounts.spec import Mount

log = logging.getLogger(__name__)

#: nfs(5) ``vers`` -> the versions nfs-rs tries, in order. NFSv4 unless asked: it needs no portmapper.
VERSIONS = {None: ["4.1", "4.0"], "4": ["4.1", "4.0"], "4.0": ["4.0"], "4.1": ["4.1"], "3": ["3"]}
_FUSE_FLAGS = ("nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime")
_STOP_TIMEOUT = 10.0


class UserspaceNfsDriver(Driver):
    """A FUSE file system over the nfs-rs userspace client, served by a daemon in this namespace."""

    name = "userspace"
    label = "userspace NFS client (nfs-rs over FUSE)"

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self.connect_timeout = connect_timeout

    def mount(self, mount: Mount, *, log_fd: int) -> ActiveMount:
        config = userspace_config(mount, connect_timeout=self.connect_timeout)
        ready_r, ready_w = os.pipe()
        try:
            daemon = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "airflow_datastores.mounts.nfs_fuse",
                    json.dumps(config),
                    str(ready_w),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(ready_w,),
                preexec_fn=die_with_parent,  # safe: the mounting process has a single thread
                close_fds=True,
            )
        finally:
            os.close(ready_w)
        try:
            message = _read_ready(ready_r, daemon, timeout=self.connect_timeout + 20)
        finally:
            os.close(ready_r)
        if message != "ready":
            _stop_daemon(daemon, mount.destination)
            raise MountFailed(f"NFS mount {mount.describe()} through the userspace driver failed: {message}")
        return _FuseMount(mount, driver=self.name, daemon=daemon)


class _FuseMount(ActiveMount):
    def __init__(self, mount: Mount, *, driver: str, daemon: subprocess.Popen) -> None:
        super().__init__(mount, driver=driver)
        self.daemon = daemon

    @property
    def helper_pids(self) -> set[int]:
        return {self.daemon.pid}

    def unmount(self) -> None:
        _stop_daemon(self.daemon, self.mount.destination)


def userspace_config(mount: Mount, *, connect_timeout: float) -> dict:
    """What the FUSE daemon needs to know, as JSON-able data; raise for what user space cannot do."""
    version = mount.nfs_version
    if version not in VERSIONS:
        raise MountFailed(
            f"NFS mount {mount.describe()}: the userspace driver speaks NFS 3, 4.0 and 4.1, not {version}"
        )
    options = mount.options
    unknown = unknown_options(mount)
    if unknown:
        raise MountFailed(f"NFS mount {mount.describe()}: the userspace driver does not know the option(s) "
                          f"{', '.join(map(repr, unknown))}; remove them, or mount with the kernel's NFS client "
                          "(driver: kernel) on a worker that has one")
    if options.get("sec", "sys") != "sys":
        raise MountFailed(f"NFS mount {mount.describe()}: the userspace driver supports sec=sys only")
    if options.get("proto", "tcp") not in ("tcp", "tcp6"):
        raise MountFailed(f"NFS mount {mount.describe()}: the userspace driver speaks NFS over TCP only")
    timeo = options.get("timeo")
    return {
        "source": mount.source,
        "server": mount.server,
        "export": mount.export,
        "mountpoint": mount.destination,
        "readonly": mount.readonly,
        "versions": VERSIONS[version],
        "port": mount.port,
        "mountport": int(options["mountport"]) if options.get("mountport") else None,
        "noresvport": "noresvport" in options,
        "connect_timeout": connect_timeout,
        # nfs(5) timeo is in tenths of a second; an operation that takes longer fails with ETIMEDOUT.
        "operation_timeout": int(timeo) / 10 if timeo else 60.0,
        "flags": [name for name in _FUSE_FLAGS if name in options],
    }


def userspace_nfs_unavailable() -> str | None:
    """Why the userspace NFS driver cannot be used here, or None when it can."""
    missing = [name for name in ("nfs_rs", "mfusepy") if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"the Python packages {' and '.join(missing)} are not installed "
            "(pip install 'airflow-provider-datastores[nfs]')"
        )
    if not (ctypes.util.find_library("fuse3") or ctypes.util.find_library("fuse")):
        return "libfuse is not installed (apt-get install fuse3)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (load the fuse module, or give the container /dev/fuse)"
    return None


def _read_ready(fd: int, daemon: subprocess.Popen, *, timeout: float) -> str:
    """``ready``, or why the daemon did not mount: its ``error: ...`` line, its exit, or its silence."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], min(0.5, max(deadline - time.monotonic(), 0)))
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            if data.endswith(b"\n"):
                break
    text = data.decode("utf-8", "replace").strip()
    if text == "ready":
        return text
    if text.startswith("error: "):
        return text[len("error: ") :]
    code = daemon.poll()
    if code is None:
        return f"the FUSE daemon did not report within {timeout:g} s"
    return f"the FUSE daemon exited with code {code} before mounting"


def _stop_daemon(daemon: subprocess.Popen, mountpoint: str) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)  # libfuse unmounts and returns from its loop
        try:
            daemon.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning(
                "The FUSE daemon for %s did not stop within %g s; killing it", mountpoint, _STOP_TIMEOUT
            )
            daemon.kill()
            daemon.wait()
    if is_mount_point(mountpoint):
        detach_mount(mountpoint)
