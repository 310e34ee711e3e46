"""Every error this package raises, under one base: :class:`DataStoreError`.

Two branches say who has to act. :class:`InvalidSpec` (also a :class:`ValueError`) is a mistake in what
the user wrote -- an input spec, a purge rule, a pipeline file, a mount -- and its message names the
field and what to write instead. The others are what happened at run time: a store's answer, a check
that failed, a mount that could not be made. Messages name the URL or file and never carry a secret.
"""

from __future__ import annotations


class DataStoreError(Exception):
    """Base of every error of airflow-datastores. The message names the URL or file and what to do."""


# -- the stores' answers ---------------------------------------------------------------------------


class NotFound(DataStoreError, FileNotFoundError):
    """The object, bucket or container does not exist."""


class AlreadyExists(DataStoreError, FileExistsError):
    """A create-only write found the key already taken."""


class AccessDenied(DataStoreError, PermissionError):
    """The store refused the credentials of the connection."""


class IntegrityError(DataStoreError):
    """Bytes do not match the checksum the store or a manifest says they should have."""


class TransientError(DataStoreError):
    """A failure worth retrying: connection reset, timeout, 5xx, throttling."""


class ObjectChanged(DataStoreError):
    """The object was replaced while it was read: its identity is no longer the one first seen."""


class NotEnoughSpace(DataStoreError, OSError):
    """The local file system has no room for what is to be staged; the message names the input, the
    directory, the bytes needed and the bytes free."""


class ReadOnlyStore(DataStoreError):
    """A write or delete was asked of a store that can only be read (HTTP)."""


class MissingExtra(DataStoreError, ImportError):
    """A backend needs an optional dependency that is not installed."""

    def __init__(self, *, scheme: str, extra: str, missing: list[str] | None = None) -> None:
        super().__init__(
            f"The {scheme}:// store needs the '{extra}' extra, which is not installed"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + f". Install it with: pip install 'airflow-provider-datastores[{extra}]'"
        )
        self.extra = extra
        self.missing = missing or []


class BrokenExtra(DataStoreError, ImportError):
    """A backend's extra is installed but does not import (versions that do not work together).

    The message gives the underlying error and the installed version of Airflow and of each package the
    extra needs (``versions``, Airflow's first); ``outside`` are those outside the ranges the extra
    declares, which a reinstall of the extra moves.
    """

    def __init__(self, *, scheme: str, extra: str, error: BaseException, versions: list[str],
                 outside: list[str]) -> None:
        if outside:
            advice = (f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the range the extra "
                      f"needs: pip install 'airflow-provider-datastores[{extra}]' moves "
                      f"{'it' if len(outside) == 1 else 'them'} into it")
        else:
            names = " ".join(v.split(" ")[0] for v in versions[1:])
            advice = ("every one is within the ranges the extra declares, so reinstalling the extra changes "
                      f"nothing: upgrade them (pip install --upgrade {names}) and tell the maintainers of "
                      "airflow-provider-datastores, whose declared floors are then too low")
        super().__init__(
            f"The {scheme}:// store's extra '{extra}' is installed but does not import: "
            f"{type(error).__name__}: {error}. Installed: {', '.join(versions)}; {advice}"
        )
        self.extra = extra
        self.outside = outside


# -- what the user wrote ---------------------------------------------------------------------------


class InvalidSpec(DataStoreError, ValueError):
    """Something the user wrote cannot be used; the message names the field and what to write instead."""


class AmbiguousVersionId(InvalidSpec):
    """A version id asked for matches versions of several tasks, and no DAG or task narrows it."""


class PipelineError(InvalidSpec):
    """A mistake in a pipeline file; the message starts with ``file:line:``."""


class SweepError(InvalidSpec):
    """A sweep rule that cannot be expanded; the message says which rule and why."""


class MountError(InvalidSpec):
    """A mount spec is malformed or not allowed here. The message names the mount and the field."""


# -- checks a task asked for -----------------------------------------------------------------------


class InputChanged(DataStoreError):
    """An input changed and the task's policy is ``on_input_change="fail"``."""


class SkipUnchanged(DataStoreError):
    """Every input is byte-identical to the previous run's and the task asked to be skipped then
    (``skip_if_unchanged``); the operator turns it into Airflow's skip, never a failure."""


# -- mounts at run time ----------------------------------------------------------------------------


class MountFailed(DataStoreError, RuntimeError):
    """A mount could not be made, checked or kept while the task ran."""


class MountNotPermitted(MountFailed):
    """This process may not mount: it is not root and lacks CAP_SYS_ADMIN."""


class ShareUnreachable(MountFailed):
    """An NFS server did not answer, or a bind source is missing on this worker."""


class MountedProcessDied(MountFailed):
    """The process that held the mounts ended without reporting a result (killed, crashed)."""
