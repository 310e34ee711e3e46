"""Aliases: mutable names for immutable versions, with their history.

An alias is scoped to one task (``datastore://<dag>/<task>/@<alias>``) or global (``alias://<name>``).
Each move is a new history entry written with a create-only write under the next sequence number::

    _aliases/<dag_id>/<task_id>/<alias>/<sequence>.json    an alias of one task's versions
    _aliases/@global/<name>/<sequence>.json                a global alias (names its DAG and task)

So moving an alias is a compare-and-swap: of two movers that read the same last entry, one writes the
next number and the other finds it taken, reads again and writes after it. No move is lost, the history
is the order the moves happened in, and the alias points to its newest entry's version.

An alias may name one file of the version (``path``), as a Valohai datum alias names a file: a reference
through it then stages that file, and ``datum://<name>`` finds it (:mod:`.datums`).
"""

from __future__ import annotations

import json
import logging
import re
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from airflow_datastores.errors import AlreadyExists, InvalidSpec, NotFound
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.manifest import Version, latest_version, load_version
from airflow_datastores.versions.references import ALIAS_SCHEME

log = logging.getLogger(__name__)

ALIASES = "_aliases"
GLOBAL = "@global"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SEQUENCE_DIGITS = 10
#: A mover that loses the race this many times in a row gives up (a store that never settles).
_MAX_RACES = 50


@dataclass(frozen=True)
class AliasEntry:
    """One position of an alias: the version it pointed to from ``set_at`` until the next entry."""

    alias: str
    sequence: int
    dag_id: str
    task_id: str
    version_id: str
    set_at: str
    set_by: str
    scope: str  # "task" or "global"
    path: str = ""  # one file of the version, or "" for all of it

    def to_dict(self) -> dict:
        return asdict(self)


def check_alias_name(name: str) -> str:
    """``name`` if it can name an alias: letters, digits, ``.``, ``-``, ``_``; else a clear error."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidSpec(f"Alias name {name!r} is not usable: start with a letter or digit, then letters, digits, "
                          "'.', '-' or '_' (at most 128)")
    return name


def _prefix(*, name: str, dag_id: str | None, task_id: str | None) -> str:
    check_alias_name(name)
    if dag_id is None:
        return f"{ALIASES}/{GLOBAL}/{name}/"
    if not task_id:
        raise InvalidSpec(f"Alias {name!r}: a task's alias needs both a dag_id and a task_id")
    return f"{ALIASES}/{dag_id}/{task_id}/{name}/"


def _entry_keys(store: Store, prefix: str) -> list[str]:
    """The keys of an alias's entries, oldest first (fixed-width numbers sort as they count)."""
    keys = []
    for info in store.list(prefix):
        stem = info.key[len(prefix):].removesuffix(".json")
        if "/" not in stem and stem.isdigit():
            keys.append(info.key)
    return sorted(keys)


def _read(store: Store, key: str) -> AliasEntry:
    return _entry(json.loads(store.read_bytes(key)))


def history(store: Store, name: str, *, dag_id: str | None = None, task_id: str | None = None) -> list[AliasEntry]:
    """Every position the alias had, oldest first (empty when it was never set). Without ``dag_id`` and
    ``task_id``, the global alias ``name``."""
    return [_read(store, key) for key in _entry_keys(store, _prefix(name=name, dag_id=dag_id, task_id=task_id))]


def current(store: Store, name: str, *, dag_id: str | None = None, task_id: str | None = None) -> AliasEntry:
    """Where the alias points now. :raises NotFound: it was never set."""
    prefix = _prefix(name=name, dag_id=dag_id, task_id=task_id)
    keys = _entry_keys(store, prefix)
    if not keys:
        where = f"{dag_id}.{task_id}" if dag_id else "the store (global)"
        raise NotFound(f"{store.url_for(prefix)}: no alias {name!r} of {where}; set it with: "
                       "airflow-datastores alias set ...")
    return _read(store, keys[-1])


def set_alias(store: Store, name: str, *, dag_id: str, task_id: str, version_id: str = "latest",
              scope: str = "task", path: str = "", set_by: str | None = None,
              logger: logging.Logger | None = None) -> AliasEntry:
    """Point alias ``name`` at a committed version (``latest``: the newest now) and append that to its
    history. ``scope="task"`` names an alias of the task's versions, ``"global"`` one of the store.

    :param path: one file of the version the alias names (as a Valohai datum alias does); all of it if empty.
    :raises NotFound: the version is not committed, or has no file ``path``.
    :raises InvalidSpec: a bad name or scope.
    """
    logger = logger or log
    if scope not in ("task", "global"):
        raise InvalidSpec(f"scope={scope!r}: use 'task' or 'global'")
    version = (latest_version(store, dag_id, task_id) if version_id == "latest"
               else load_version(store, dag_id, task_id, version_id))
    path = path.strip("/")
    if not version.files:
        raise InvalidSpec(f"Alias {name!r}: version {version.version_id} of {dag_id}.{task_id} holds no file; an "
                          "alias never names an empty version")
    if path and not any(f.path == path for f in version.files):
        raise NotFound(f"Alias {name!r}: version {version.version_id} of {dag_id}.{task_id} has no file {path!r}; "
                       "it has: " + ", ".join(f.path for f in version.files[:10])
                       + (" ..." if len(version.files) > 10 else ""))
    prefix = _prefix(name=name, dag_id=None if scope == "global" else dag_id, task_id=task_id)
    for _race in range(_MAX_RACES):
        keys = _entry_keys(store, prefix)
        last = _read(store, keys[-1]) if keys else None
        entry = AliasEntry(alias=name, sequence=last.sequence + 1 if last else 1, dag_id=dag_id,
                           task_id=task_id, version_id=version.version_id, scope=scope, path=path,
                           set_at=datetime.now(UTC).isoformat(timespec="seconds"),
                           set_by=set_by or socket.gethostname())
        key = f"{prefix}{entry.sequence:0{_SEQUENCE_DIGITS}d}.json"
        try:
            store.write_bytes(key, json.dumps(entry.to_dict(), sort_keys=True).encode(), create_only=True)
        except AlreadyExists:
            continue  # another mover took this number: read again and go after it
        before = f" (was {last.version_id}{'/' + last.path if last.path else ''})" if last else ""
        logger.info("Alias %s of %s now points to version %s%s%s", name,
                    f"{dag_id}.{task_id}" if scope == "task" else "the store", version.version_id,
                    f" file {path}" if path else "", before)
        return entry
    raise AlreadyExists(f"{store.url_for(prefix)}: alias {name!r} kept moving under us ({_MAX_RACES} tries); "
                        "try again")


def list_aliases(store: Store, *, dag_id: str | None = None, task_id: str | None = None) -> list[AliasEntry]:
    """The current position of every alias (of one DAG or task when given), global ones included: one
    listing of the aliases, then one read per alias (its newest entry)."""
    newest: dict[tuple[str, ...], str] = {}
    for info in store.list(f"{ALIASES}/"):
        parts = info.key[len(ALIASES) + 1:].split("/")
        global_alias = len(parts) == 3 and parts[0] == GLOBAL
        if not (global_alias or (len(parts) == 4 and parts[0] != GLOBAL)):
            continue
        if not parts[-1].removesuffix(".json").isdigit():
            continue
        where = tuple(parts[:-1])
        newest[where] = max(newest.get(where, ""), info.key)  # fixed-width numbers: the key order is theirs
    entries = [_read(store, key) for key in newest.values()]
    return sorted((e for e in entries if (not dag_id or e.dag_id == dag_id) and (not task_id or e.task_id == task_id)),
                  key=lambda e: (e.scope, e.dag_id, e.task_id, e.alias))


def aliased_versions(store: Store) -> dict[tuple[str, str, str], list[str]]:
    """``(dag_id, task_id, version_id)`` -> the aliases that point to that version now (purge keeps them)."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for entry in list_aliases(store):
        name = entry.alias if entry.scope == "task" else f"{ALIAS_SCHEME}{entry.alias}"
        found.setdefault((entry.dag_id, entry.task_id, entry.version_id), []).append(name)
    return found


def resolve_alias(store: Store, name: str, *, dag_id: str | None = None,
                  task_id: str | None = None) -> tuple[AliasEntry, Version]:
    """The entry an alias points to now and the committed version it names."""
    entry = current(store, name, dag_id=dag_id, task_id=task_id)
    try:
        return entry, load_version(store, entry.dag_id, entry.task_id, entry.version_id)
    except NotFound:
        raise NotFound(f"Alias {name!r} points to version {entry.version_id} of {entry.dag_id}.{entry.task_id}, "
                       "which is not committed (any more); move the alias with: airflow-datastores alias set ...") from None


def _entry(data: dict) -> AliasEntry:
    return AliasEntry(**{k: data[k] for k in AliasEntry.__dataclass_fields__ if k in data})
