"""Where each staged file lands, checked before any byte moves: a name the local file system can hold,
no path that is a file and a directory at once, and room for the bytes.

A bucket holds keys no file system can (``c/x`` and ``c/x/y``, a segment of 1,024 bytes, a NUL); each
fails the staging here with the key, the input and what to do, so nothing half-staged is left.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence

from airflow_datastores.errors import InvalidSpec, NotEnoughSpace
from airflow_datastores.inputs.resolve import SourceFile
from airflow_datastores.units import human_size

#: What to do about a name, said once in each message.
_RENAME = ("rename the object in the store, or stage it under another name (keep_directories='none' keeps "
           "only the file name; separate inputs keep files apart)")


def target_path(inputs_dir: str, source: SourceFile) -> str:
    """The local path ``source`` is staged to."""
    return os.path.join(inputs_dir, source.input_name, *source.relpath.split("/"))


def check_targets(files: Sequence[SourceFile], *, inputs_dir: str) -> None:
    """Refuse what the local file system cannot hold, before anything is staged.

    :raises InvalidSpec: naming the key(s), the input and what to do: a name with a NUL or one the file
        system's encoding cannot write, a name over the file system's limit (usually 255 bytes), a path
        that would be a file and a directory at once.
    """
    limit = _name_max(inputs_dir)
    files_at: dict[str, SourceFile] = {}
    for source in files:
        for part in (source.input_name, *source.relpath.split("/")):
            _check_name(source, part, limit)
        files_at[f"{source.input_name}/{source.relpath}"] = source
    for path, source in files_at.items():
        parent = path.rpartition("/")[0]
        while parent:
            if parent in files_at:
                file = files_at[parent]
                raise InvalidSpec(
                    f"Input {source.input_name!r}: {file.url} and {source.url} cannot both be staged: "
                    f"{os.path.join(inputs_dir, parent)} would be a file and a directory at once. Stage them as "
                    "separate inputs, or with keep_directories='none' (the file names only), or rename one of "
                    "the objects")
            parent = parent.rpartition("/")[0]


def _check_name(source: SourceFile, part: str, limit: int) -> None:
    try:
        encoded = os.fsencode(part)
    except UnicodeError:
        encoded = b"\0"
    if b"\0" in encoded:
        raise InvalidSpec(f"Input {source.input_name!r}: {source.url!r} cannot be staged: its name {part!r} holds a "
                          f"character no local file name can; {_RENAME}")
    if len(encoded) > limit:
        raise InvalidSpec(f"Input {source.input_name!r}: {source.url} cannot be staged: its name is {len(encoded)} "
                          f"bytes, and the local file system takes at most {limit} bytes in one name (S3 allows "
                          f"1,024); {_RENAME}")


def _name_max(directory: str) -> int:
    """The longest file name the file system at ``directory`` takes, in bytes."""
    try:
        return os.pathconf(_existing(directory), "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _existing(path: str) -> str:
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def check_space(files: Iterable[SourceFile], *, inputs_dir: str) -> None:
    """Refuse a staging whose files (those to download) do not fit in the free space at ``inputs_dir``.

    :raises NotEnoughSpace: naming each input that needs bytes, the directory, the bytes needed and free.
    """
    needs: dict[str, int] = {}
    for source in files:
        needs[source.input_name] = needs.get(source.input_name, 0) + source.size
    if not needs:
        return
    free = free_bytes(inputs_dir)
    if sum(needs.values()) > free:
        raise NotEnoughSpace(no_space_message(needs, inputs_dir=inputs_dir, free=free))


def free_bytes(directory: str) -> int:
    """Bytes an unprivileged writer may still use at ``directory``."""
    return shutil.disk_usage(_existing(directory)).free


def no_space_message(needs: dict[str, int], *, inputs_dir: str, free: int, url: str | None = None) -> str:
    """Input(s), directory, bytes needed and free, and what to do, for a staging that does not fit."""
    names = ", ".join(f"{name!r} needs {size:,} bytes ({human_size(size)})" for name, size in needs.items())
    total = sum(needs.values())
    where = f" while {url} was staged" if url else ""
    return (f"Not enough space in {inputs_dir} to stage the inputs{where}: input {names}; {total:,} bytes in all, "
            f"{free:,} bytes ({human_size(free)}) are free. Nothing was left there. Free space on that file system, "
            "or set [datastores] work_dir to a larger one")
