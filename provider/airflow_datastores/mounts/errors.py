"""The errors of the mounts package: one for bad specs, a few for what goes wrong at run time."""

from __future__ import annotations


class MountError(ValueError):
    """A mount spec is malformed or not allowed here. The message names the mount and the field."""


class MountFailed(RuntimeError):
    """A mount could not be made, checked or kept while the task ran."""


class MountNotPermitted(MountFailed):
    """This process may not mount: it is not root and lacks CAP_SYS_ADMIN."""


class ShareUnreachable(MountFailed):
    """An NFS server did not answer, or a bind source is missing on this worker."""


class MountedProcessDied(MountFailed):
    """The process that held the mounts ended without reporting a result (killed, crashed)."""
