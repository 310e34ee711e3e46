"""How a mount is made, one module per driver, and which driver a mount gets.

Every driver runs inside the task's private mount namespace and returns an
:class:`~airflow_datastores.mounts.drivers.base.ActiveMount` that undoes it. Specs reach
``mount(8)`` and the FUSE daemon as argument lists, never through a shell.
"""

from __future__ import annotations

from airflow_datastores.errors import MountFailed
from airflow_datastores.mounts.drivers.base import ActiveMount, Driver
from airflow_datastores.mounts.drivers.bind import BindDriver, bind_mount_arguments
from airflow_datastores.mounts.drivers.kernel_nfs import (
    KernelNfsDriver,
    kernel_nfs_arguments,
    kernel_nfs_unavailable,
)
from airflow_datastores.mounts.drivers.userspace_nfs import (
    UserspaceNfsDriver,
    userspace_config,
    userspace_nfs_unavailable,
)
from airflow_datastores.mounts.spec import Mount

__all__ = [
    "ActiveMount",
    "BindDriver",
    "Driver",
    "KernelNfsDriver",
    "UserspaceNfsDriver",
    "bind_mount_arguments",
    "kernel_nfs_arguments",
    "kernel_nfs_unavailable",
    "select_driver",
    "userspace_config",
    "userspace_nfs_unavailable",
]


def select_driver(mount: Mount) -> tuple[Driver, str]:
    """The driver for ``mount`` and one line saying which it is and why; raise if none can work.

    ``auto`` takes the kernel's NFS client where there is one, else the userspace driver.
    """
    if mount.type == "bind":
        return BindDriver(), BindDriver.label
    kernel_problem = kernel_nfs_unavailable()
    if mount.driver == "kernel" or (mount.driver == "auto" and kernel_problem is None):
        if kernel_problem:
            raise MountFailed(
                f"NFS mount {mount.describe()} asks for the kernel driver, but {kernel_problem}"
            )
        return KernelNfsDriver(), KernelNfsDriver.label
    user_problem = userspace_nfs_unavailable()
    if user_problem:
        because = f"{kernel_problem}, and " if mount.driver == "auto" else ""
        raise MountFailed(f"NFS mount {mount.describe()} cannot be made: {because}{user_problem}")
    userspace_config(mount, connect_timeout=1.0)  # raises now for options user space cannot honour
    why = f" because {kernel_problem}" if mount.driver == "auto" else " (asked for)"
    return UserspaceNfsDriver(), UserspaceNfsDriver.label + why
