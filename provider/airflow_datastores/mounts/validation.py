"""Checks of mounts against the task they serve: its directories, each other, the worker's symlinks."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from airflow_datastores.errors import MountError
from airflow_datastores.mounts.spec import Mount, parse_mounts, system_path_conflict


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
    check_separate_destinations(parsed)
    guarded = _guarded_directories(inputs_dir=inputs_dir, outputs_dir=outputs_dir)
    seen: dict[str, int] = {}
    for index, mount in enumerate(parsed):
        where = f"mounts[{index}].destination: {mount.destination!r}"
        resolved = os.path.realpath(mount.destination)
        if resolved != mount.destination:
            conflict = system_path_conflict(resolved)
            if conflict:
                raise MountError(f"{where} leads to {resolved}, which {conflict}")
        for candidate in {mount.destination, resolved}:
            if candidate in seen:
                raise MountError(
                    f"{where} is also the destination of mounts[{seen[candidate]}]; give each its own"
                )
            seen[candidate] = index
            for label, directory, own in guarded:
                if own and _is_within(candidate, directory):
                    raise MountError(
                        f"{where} is inside the {label} ({directory}); the {label} belongs to the data "
                        "store, mount somewhere else such as /mnt/data"
                    )
                if _is_within(directory, candidate):
                    raise MountError(f"{where} would hide the {label} ({directory}); mount somewhere else")
    return parsed


def check_separate_destinations(mounts: Sequence[Mount]) -> None:
    """Refuse two mounts at one destination, or one inside another's (it would land on the share)."""
    for index, mount in enumerate(mounts):
        for other_index, other in enumerate(mounts[:index]):
            if mount.destination == other.destination:
                raise MountError(
                    f"mounts[{index}].destination: {mount.destination!r} is also the destination of "
                    f"mounts[{other_index}]; give each its own"
                )
            for inner, outer, i, o in (
                (mount, other, index, other_index),
                (other, mount, other_index, index),
            ):
                if _is_within(inner.destination, outer.destination):
                    raise MountError(
                        f"mounts[{i}].destination: {inner.destination!r} is inside mounts[{o}].destination "
                        f"{outer.destination!r}; give mounts separate directories"
                    )


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
