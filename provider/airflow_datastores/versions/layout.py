"""Where a version lives below a store's root: each key is built here and read back here, side by side, so
the commit that writes a layout and the purge that takes it apart can never disagree::

    <dag>/<task>/<version>/try-<n>-<8 hex>/<path>   the files of one attempt (a version's data prefix)
    _manifests/<dag>/<task>/<version>.json          the commit: a version exists once this exists

(Aliases, datasets, the lineage index and reuse keep their own prefixes, ``_aliases/``, ``_datasets/``,
``_lineage/``, ``_reuse/``, each in its module; none of them starts like a DAG's files.)
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

MANIFESTS = "_manifests"
#: An attempt's directory: a commit writes 8 hex digits; any token is read back (what other writers left, too).
_ATTEMPT = re.compile(r"try-(\d+)-([0-9A-Za-z]+)")


@dataclass(frozen=True)
class AttemptKey:
    """A key below an attempt prefix: ``<dag>/<task>/<version>/try-<n>-<token>/<path>``."""

    dag_id: str
    task_id: str
    version_id: str
    try_number: int
    token: str
    path: str = ""

    @property
    def prefix(self) -> str:
        """The attempt's data prefix, ``<dag>/<task>/<version>/try-<n>-<token>/``."""
        return attempt_prefix(self.dag_id, self.task_id, self.version_id, try_number=self.try_number,
                              token=self.token)


def attempt_prefix(dag_id: str, task_id: str, version_id: str, *, try_number: int, token: str | None = None) -> str:
    """Where one attempt writes a version's files: unique to it (``token``: 8 hex digits, new when not given)."""
    token = token or uuid.uuid4().hex[:8]
    return f"{dag_id}/{task_id}/{version_id}/try-{try_number}-{token}/"


def parse_attempt_key(key: str) -> AttemptKey | None:
    """The parts of a key below an attempt prefix (the prefix itself included), or None for any other key."""
    parts = key.split("/", 4)
    if len(parts) < 4 or parts[0].startswith("_") or not all(parts[:3]):
        return None
    match = _ATTEMPT.fullmatch(parts[3])
    if match is None:
        return None
    return AttemptKey(dag_id=parts[0], task_id=parts[1], version_id=parts[2], try_number=int(match[1]),
                      token=match[2], path=parts[4] if len(parts) > 4 else "")


def manifest_key(dag_id: str, task_id: str, version_id: str) -> str:
    """The manifest of a version: the object whose create-only write commits it."""
    return f"{MANIFESTS}/{dag_id}/{task_id}/{version_id}.json"


def manifest_prefix(dag_id: str | None = None, task_id: str | None = None) -> str:
    """Where the manifests of every version (of one DAG, of one task) are listed."""
    prefix = f"{MANIFESTS}/"
    if dag_id:
        prefix += f"{dag_id}/"
        if task_id:
            prefix += f"{task_id}/"
    return prefix


def parse_manifest_key(key: str) -> tuple[str, str, str] | None:
    """``(dag, task, version)`` of a manifest's key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != MANIFESTS or not parts[3].endswith(".json") or not all(parts[1:3]):
        return None
    version_id = parts[3][: -len(".json")]
    return (parts[1], parts[2], version_id) if version_id else None
