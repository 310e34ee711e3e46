"""What every driver shares: the :class:`Driver` and :class:`ActiveMount` interface, and mount(8)."""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from typing import ClassVar

from airflow_datastores.errors import MountFailed
from airflow_datastores.mounts.namespace import detach_mount
from airflow_datastores.mounts.spec import Mount

log = logging.getLogger(__name__)

#: Where mount(8), umount(8) and mount.nfs live, whatever PATH the worker was started with.
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
MOUNT_TIMEOUT = 120.0


class ActiveMount:
    """A mount made by a driver; :meth:`unmount` undoes it."""

    def __init__(self, mount: Mount, *, driver: str) -> None:
        self.mount = mount
        self.driver = driver

    @property
    def helper_pids(self) -> set[int]:
        """Processes that serve this mount and must live until it is unmounted."""
        return set()

    def unmount(self) -> None:
        umount(self.mount.destination)


class Driver:
    """Makes one kind of mount inside the current (private) mount namespace."""

    name: ClassVar[str]
    #: One line for the task log: what this driver is.
    label: ClassVar[str]

    def mount(self, mount: Mount, *, log_fd: int) -> ActiveMount:
        """Make ``mount``; a helper process it starts writes its log lines to ``log_fd``."""
        raise NotImplementedError


def run_mount(arguments: list[str], *, mount: Mount) -> None:
    """Run ``mount --no-mtab ARGUMENTS``; raise :class:`MountFailed` with its own words if it fails."""
    binary = shutil.which("mount", path=SBIN_PATH)
    if binary is None:
        raise MountFailed("mount(8) is not installed on this worker (util-linux)")
    argv = [binary, "--no-mtab", *arguments]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=MOUNT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise MountFailed(f"Mounting {mount.describe()} did not finish within {MOUNT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        raise MountFailed(f"Mounting {mount.describe()} failed: {detail} (ran: {shlex.join(argv)})")


def umount(path: str) -> None:
    """Unmount ``path``; if it is busy (a file still open), detach it for the kernel to free later."""
    binary = shutil.which("umount", path=SBIN_PATH)
    if binary is not None:
        done = subprocess.run([binary, "--no-mtab", "--", path], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        log.debug("umount %s: %s; detaching it instead", path, done.stderr.strip())
    detach_mount(path)
