"""NFS through the kernel's client: ``mount -t nfs`` (mount.nfs) with the spec's nfs(5) options."""

from __future__ import annotations

import os
import shutil

from airflow_datastores.mounts.drivers.base import SBIN_PATH, ActiveMount, Driver, run_mount
from airflow_datastores.mounts.spec import Mount


class KernelNfsDriver(Driver):
    """The kernel's NFS client, where the kernel has one."""

    name = "kernel"
    label = "kernel NFS client (mount.nfs)"

    def mount(self, mount: Mount, *, log_fd: int) -> ActiveMount:
        run_mount(kernel_nfs_arguments(mount), mount=mount)
        return ActiveMount(mount, driver=self.name)


def kernel_nfs_arguments(mount: Mount) -> list[str]:
    """The ``mount(8)`` argument list of an NFS mount through the kernel, options as given."""
    options = mount.options_string(*(["ro"] if mount.readonly else []))
    return ["-t", "nfs", *(["-o", options] if options else []), "--", mount.source, mount.destination]


def kernel_nfs_unavailable() -> str | None:
    """Why the kernel's NFS client cannot be used here, or None when it can."""
    if not _kernel_has_nfs():
        release = os.uname().release
        return f"the kernel ({release}) has no NFS client (no nfs in /proc/filesystems, no nfs module)"
    if not shutil.which("mount.nfs", path=SBIN_PATH):
        return "mount.nfs is not installed (apt-get install nfs-common)"
    return None


def _kernel_has_nfs() -> bool:
    """NFS is registered, built in, or a module the kernel can load on the first mount."""
    try:
        with open("/proc/filesystems", encoding="ascii") as filesystems:
            if any(line.split()[-1] in ("nfs", "nfs4") for line in filesystems if line.strip()):
                return True
    except OSError:
        pass
    modules = f"/lib/modules/{os.uname().release}"
    try:
        with open(f"{modules}/modules.builtin", encoding="utf-8") as builtin:
            if any(line.rstrip().endswith("/nfs.ko") for line in builtin):
                return True
    except OSError:
        pass
    return any(os.path.exists(f"{modules}/kernel/fs/nfs/nfs.ko{ext}") for ext in ("", ".xz", ".zst", ".gz"))
