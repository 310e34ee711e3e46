"""Reuse: a step whose inputs, parameters and code are the same as a committed version's does not run
again; it takes that version as its output.

The key is the sha256 of the inputs' sha256s (with their names and paths), the parameters and the code
version. Below a store's root::

    _reuse/<dag_id>/<task_id>/<key>.json   the version made with this key (written after its commit)
    _reuse/<dag_id>/<task_id>/<key>.lock   held (create-only) by the run computing it

Of two runs with one key at once, one takes the lock and computes; the other waits until the version is
recorded and reuses it (or, if the first failed and let go, takes the lock itself). A lock older than
the wait bound is taken to belong to a run that died.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_datastores.errors import AlreadyExists, DataStoreError, NotFound
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.manifest import Version, load_version

log = logging.getLogger(__name__)

REUSE = "_reuse"
#: How long a run waits for another run computing the same key, and when a lock counts as abandoned.
DEFAULT_WAIT_SECONDS = 3600.0


def reuse_key(*, inputs: Iterable[Mapping[str, Any]], parameters: Mapping[str, Any], code: str) -> str:
    """The sha256 of what determines a step's output.

    :param inputs: the staged input records (``name``, ``path``, ``sha256``); their order does not matter.
    :param parameters: the step's parameters (any JSON).
    :param code: the code version: the command text, a hash of the callable's source, or ``code_version``.
    """
    body = {
        "inputs": sorted((r["name"], r["path"], r["sha256"]) for r in inputs),
        "parameters": parameters,
        "code": code,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Reused:
    """What :func:`run_once` did: ``computed`` it, or took the ``version`` an earlier run made (``None``: the
    step ran and wrote nothing, so committed nothing)."""

    version: Version | None
    computed: bool
    key: str


def run_once(store: Store, *, dag_id: str, task_id: str, key: str, compute: Callable[[], Version | None], owner: str,
             wait_seconds: float = DEFAULT_WAIT_SECONDS, poll_seconds: float = 1.0,
             logger: logging.Logger | None = None) -> Reused:
    """The committed version made with ``key``, or ``compute()`` under the key's lock and recorded.

    :param compute: runs the step and commits its version (called at most once, only with the lock held).
    :param owner: who holds the lock (the run), for the log of a waiting run.
    :param wait_seconds: how long to wait for another run computing the key; a lock older than this is
        taken to be abandoned.
    """
    logger = logger or log
    started = time.monotonic()
    said: str | None = None
    while True:
        found = find_reusable(store, dag_id=dag_id, task_id=task_id, key=key)
        if found is not None:
            return Reused(version=found, computed=False, key=key)
        taken, holder = _take_lock(store, dag_id=dag_id, task_id=task_id, key=key, owner=owner,
                                   stale_after=wait_seconds, logger=logger)
        if taken:
            try:
                found = find_reusable(store, dag_id=dag_id, task_id=task_id, key=key)  # made meanwhile
                if found is not None:
                    return Reused(version=found, computed=False, key=key)
                version = compute()
                if version is not None:  # a run that wrote nothing committed nothing to reuse
                    _record(store, dag_id=dag_id, task_id=task_id, key=key, version=version)
                return Reused(version=version, computed=True, key=key)
            finally:
                _release(store, dag_id=dag_id, task_id=task_id, key=key)
        if holder and holder != said:
            logger.info("Waiting: %s is computing %s.%s with the same inputs, parameters and code", holder, dag_id,
                        task_id)
            said = holder
        if time.monotonic() - started > wait_seconds:
            raise DataStoreError(f"{store.url_for(_lock_key(dag_id, task_id, key))}: another run has computed "
                                 f"this step's output with the same inputs for over {wait_seconds:.0f} s; retry later")
        time.sleep(poll_seconds)


def find_reusable(store: Store, *, dag_id: str, task_id: str, key: str) -> Version | None:
    """The committed version recorded for ``key``, if it is still there (not purged)."""
    try:
        recorded = json.loads(store.read_bytes(_index_key(dag_id, task_id, key)))
        return load_version(store, dag_id, task_id, recorded["version_id"])
    except NotFound:
        return None


def _record(store: Store, *, dag_id: str, task_id: str, key: str, version: Version) -> None:
    body = json.dumps({"version_id": version.version_id, "committed_at": version.committed_at}).encode()
    try:
        store.write_bytes(_index_key(dag_id, task_id, key), body, create_only=True)
    except AlreadyExists:  # an earlier version with this key was purged; point the key at the new one
        store.write_bytes(_index_key(dag_id, task_id, key), body)


def _take_lock(store: Store, *, dag_id: str, task_id: str, key: str, owner: str, stale_after: float,
               logger: logging.Logger) -> tuple[bool, str | None]:
    """``(True, None)`` when this run now holds the lock, else ``(False, who holds it)``."""
    lock = _lock_key(dag_id, task_id, key)
    body = json.dumps({"owner": owner, "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode()
    try:
        store.write_bytes(lock, body, create_only=True)
        return True, None
    except AlreadyExists:
        pass
    try:
        info = store.stat(lock)
        holder = json.loads(store.read_bytes(lock)).get("owner")
    except (NotFound, ValueError):
        return False, None  # let go meanwhile: the next round looks again
    if info.modified is not None and (datetime.now(UTC) - info.modified).total_seconds() > stale_after:
        logger.warning("The reuse lock of %s.%s held by %s is older than %.0f s: taking it over", dag_id, task_id,
                       holder, stale_after)
        store.delete(lock)
        return False, None
    return False, holder


def _release(store: Store, *, dag_id: str, task_id: str, key: str) -> None:
    try:
        store.delete(_lock_key(dag_id, task_id, key))
    except DataStoreError as err:  # a later run takes it over once it is stale
        log.warning("Could not remove the reuse lock of %s.%s: %s", dag_id, task_id, err)


def _index_key(dag_id: str, task_id: str, key: str) -> str:
    return f"{REUSE}/{dag_id}/{task_id}/{key}.json"


def _lock_key(dag_id: str, task_id: str, key: str) -> str:
    return f"{REUSE}/{dag_id}/{task_id}/{key}.lock"
