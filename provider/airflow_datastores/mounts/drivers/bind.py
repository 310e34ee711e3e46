"""Bind mounts: a directory of the worker (the on-premises case), read-only on request."""

from __future__ import annotations

import os

from airflow_datastores.errors import MountFailed
from airflow_datastores.mounts.drivers.base import ActiveMount, Driver, run_mount
from airflow_datastores.mounts.spec import Mount


class BindDriver(Driver):
    """``mount --bind`` a worker directory, then remount it read-only (and nosuid...) when asked."""

    name = "bind"
    label = "bind mount"

    def mount(self, mount: Mount, *, log_fd: int) -> ActiveMount:
        bind, *remount = bind_mount_arguments(mount)
        run_mount(bind, mount=mount)
        active = ActiveMount(mount, driver=self.name)
        try:
            for arguments in remount:
                run_mount(arguments, mount=mount)
            if mount.readonly and not os.statvfs(mount.destination).f_flag & os.ST_RDONLY:
                raise MountFailed(f"Mount {mount.describe()} is not read-only after the read-only remount")
        except BaseException:
            active.unmount()
            raise
        return active


def bind_mount_arguments(mount: Mount) -> list[list[str]]:
    """The ``mount(8)`` argument lists of a bind mount: the bind, then a remount for ro & co. if asked.

    A bind mount ignores ``ro``, ``nosuid``... when it is made; they take effect on a remount.
    """
    commands = [["--bind", "--", mount.source, mount.destination]]
    flags = [*(["ro"] if mount.readonly else []), *(name for name, _ in mount.option_items)]
    if flags:
        commands.append(["-o", ",".join(["remount", "bind", *flags]), "--", mount.destination])
    return commands
