"""Checks of mounts against the task they serve: its directories, each other, the worker's symlinks."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from airflow_datastores.errors import MountError
from airflow_datastores.mounts.paths import system_path_conflict
from airflow_datastores.mounts.spec import Mount, parse_mounts


def validate_mounts(
    mounts: Sequence[Mount | dict | str],
    *,
    inputs_dir: str | os.PathLike | None,
    outputs_dir: str | os.PathLike | None,
) -> list[Mount]:
    """Refuse mounts that would hide the task's own directories, the system or each other.

    On top of what each :class:`Mount` checks on its own: a destination must not be inside (or
    above) the inputs or outputs directory, nor above the Python environment that runs the task;
    two mounts must not share a destination; and a destination that is a symlink on this worker is
    judged by where it leads. Returns the mounts as :class:`Mount` objects.
    """
    parsed = parse_mounts(list(mounts))
    for index, mount in enumerate(parsed):
        _check_where_it_leads(index, mount)
    check_separate_destinations(parsed, follow_symlinks=True)
    guarded = _guarded_directories(inputs_dir=inputs_dir, outputs_dir=outputs_dir)
    for index, mount in enumerate(parsed):
        _check_clear_of_guarded(index, mount, guarded)
    return parsed


def check_separate_destinations(mounts: Sequence[Mount], *, follow_symlinks: bool = False) -> None:
    """Refuse two mounts at one destination, or one inside another's (it would land on the share).

    With ``follow_symlinks``, two destinations that lead to one directory on this worker are one.
    """
    paths = [_destination_paths(mount, follow_symlinks=follow_symlinks) for mount in mounts]
    for index, mount in enumerate(mounts):
        for other_index in range(index):
            if set(paths[index]) & set(paths[other_index]):
                raise MountError(
                    f"mounts[{index}].destination: {mount.destination!r} is also the destination of "
                    f"mounts[{other_index}]; give each its own"
                )
            for inner, outer in ((index, other_index), (other_index, index)):
                if _is_within(mounts[inner].destination, mounts[outer].destination):
                    raise MountError(
                        f"mounts[{inner}].destination: {mounts[inner].destination!r} is inside mounts[{outer}]"
                        f".destination {mounts[outer].destination!r}; give mounts separate directories"
                    )


def _check_where_it_leads(index: int, mount: Mount) -> None:
    """A destination that is a symlink (or lies below one) must not lead into the system."""
    resolved = os.path.realpath(mount.destination)
    conflict = system_path_conflict(resolved) if resolved != mount.destination else None
    if conflict:
        raise MountError(f"mounts[{index}].destination: {mount.destination!r} leads to {resolved}, which {conflict}")


def _check_clear_of_guarded(index: int, mount: Mount, guarded: list[tuple[str, str, bool]]) -> None:
    """Neither the destination nor where it leads may hide a guarded directory or lie inside the task's own."""
    where = f"mounts[{index}].destination: {mount.destination!r}"
    for path in _destination_paths(mount, follow_symlinks=True):
        for label, directory, own in guarded:
            if own and _is_within(path, directory):
                raise MountError(
                    f"{where} is inside the {label} ({directory}); the {label} belongs to the data "
                    "store, mount somewhere else such as /mnt/data"
                )
            if _is_within(directory, path):
                raise MountError(f"{where} would hide the {label} ({directory}); mount somewhere else")


def _destination_paths(mount: Mount, *, follow_symlinks: bool) -> list[str]:
    """The destination, and with ``follow_symlinks`` where it leads on this worker if that is elsewhere."""
    resolved = os.path.realpath(mount.destination) if follow_symlinks else mount.destination
    return [mount.destination] if resolved == mount.destination else [mount.destination, resolved]


def _guarded_directories(*, inputs_dir, outputs_dir) -> list[tuple[str, str, bool]]:
    """(label, directory, whether a mount inside it is refused too); a mount above one never is allowed."""
    guarded = []
    for label, directory in (("inputs directory", inputs_dir), ("outputs directory", outputs_dir)):
        if directory:
            guarded.append((label, os.path.realpath(os.fspath(directory)), True))
    for prefix in {sys.prefix, sys.base_prefix}:
        guarded.append(("Python environment that runs the task", os.path.realpath(prefix), False))
    return guarded


def _is_within(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` or below it."""
    if directory == "/":
        return True
    return path == directory or path.startswith(directory.rstrip("/") + "/")
