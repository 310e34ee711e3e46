"""Snapshot: upload a task's outputs under a prefix unique to the attempt, then commit the version.

The manifest is written last, with a create-only write, so a crash before it leaves nothing visible,
and of two attempts committing the same version exactly one wins. Nothing is ever overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from airflow_datastores.errors import AlreadyExists, DataStoreError, NotFound
from airflow_datastores.hashing import Hasher, HashingReader
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.units import human_size, plural
from airflow_datastores.versions.aliases import set_alias
from airflow_datastores.versions.datasets import check_dataset_version, create_dataset_version, dataset_key
from airflow_datastores.versions.layout import attempt_prefix, manifest_key
from airflow_datastores.versions.lineage import record_uses
from airflow_datastores.versions.manifest import Producer, Version
from airflow_datastores.versions.metadata import FileMetadata, check_properties, check_tags, split_sidecars
from airflow_datastores.versions.references import DATASET_SCHEME

log = logging.getLogger(__name__)


def collect_outputs(outputs_dir: str) -> list[tuple[str, str]]:
    """``(relative path, absolute path)`` of every file below ``outputs_dir``, sorted.

    Symlinks are followed only while they stay inside the outputs directory; one that points outside
    is refused, since a snapshot must not copy arbitrary files of the worker.
    """
    root = os.path.realpath(outputs_dir)
    if not os.path.isdir(root):
        raise DataStoreError(f"Outputs directory {outputs_dir} does not exist")
    found: list[tuple[str, str]] = []
    visited: set[str] = set()

    def walk(real_dir: str, rel_dir: str) -> None:
        if real_dir in visited:
            return
        visited.add(real_dir)
        for entry in sorted(os.scandir(real_dir), key=lambda e: e.name):
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            path = entry.path
            if entry.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([root, target]) != root:
                    raise DataStoreError(
                        f"Outputs: {os.path.join(outputs_dir, rel)} is a symlink to {target}, outside "
                        "the outputs directory; copy the file into the outputs directory instead"
                    )
                path = target
            if os.path.isdir(path):
                walk(path, rel)
            elif os.path.isfile(path):
                found.append((rel, path))
    walk(root, "")
    return found


def snapshot(
    outputs_dir: str,
    *,
    store: Store,
    producer: Producer,
    inputs: Sequence[Mapping] = (),
    tags: Sequence[str] = (),
    properties: Mapping | None = None,
    dataset_version: str | None = None,
    execution_metadata: Mapping | None = None,
    commit_empty: bool = False,
    max_concurrency: int = 8,
    logger: logging.Logger | None = None,
) -> Version | None:
    """Upload everything under ``outputs_dir`` and commit it as a new version of the producer's task.

    :param outputs_dir: the directory the task wrote.
    :param store: where the version goes.
    :param producer: the task instance (names the version and the layout).
    :param inputs: the input records of the run, kept in the manifest as provenance.
    :param tags: tags of the version (files get theirs from ``<file>.metadata.json`` sidecars, which are
        not uploaded; see :mod:`airflow_datastores.versions.metadata`).
    :param properties: JSON properties of the version.
    :param dataset_version: ``<dataset>/<version>`` to create from all the files of the committed version
        (files may also name dataset versions in their sidecars).
    :param execution_metadata: what the step printed as metadata (kept in the manifest).
    :param commit_empty: commit a version (a marker) even when the outputs directory holds no file;
        otherwise nothing is committed and ``None`` returned.
    :param max_concurrency: how many files upload at once. Each request of an upload (a PUT, a part,
        the commit) is retried under the ``[datastores]`` retry policy by the store.
    :raises AlreadyExists: another attempt committed this version first; this attempt's files are
        removed again.
    """
    logger = logger or log
    created_at = _now()
    version_id = producer.version_id
    prefix = attempt_prefix(producer.dag_id, producer.task_id, version_id, try_number=producer.try_number)
    version_tags = check_tags(list(tags), where="tags")
    version_properties = check_properties(properties, where="properties")
    files, sidecars = split_sidecars(collect_outputs(outputs_dir), outputs_dir=outputs_dir)
    datasets = _datasets_to_make(store, sidecars, dataset_version)
    if not files and not commit_empty:
        logger.info("No outputs in %s: no version committed", outputs_dir)
        return None
    if not files:
        logger.warning("Outputs directory %s is empty: committing an empty version (commit_empty)", outputs_dir)

    def upload(item: tuple[str, str]) -> FileEntry:
        rel, path = item
        key = prefix + rel
        size = os.path.getsize(path)
        hasher = Hasher(expected_size=size)
        try:
            with open(path, "rb") as raw:
                store.write(key, HashingReader(raw, hasher))
            digests = hasher.hexdigests()
        finally:
            hasher.close()
        if hasher.size != size:
            raise DataStoreError(f"{path} changed size while it was uploaded; do not write "
                                 "to the outputs directory while the snapshot runs")
        meta = sidecars.get(rel, FileMetadata())
        return FileEntry(path=rel, key=key, size=size, tags=meta.tags, properties=meta.properties, **digests)

    try:
        if len(files) <= 1 or max_concurrency <= 1:
            entries = [upload(f) for f in files]
        else:
            with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="snapshot") as pool:
                entries = list(pool.map(upload, files))
        version = Version(
            version_id=version_id,
            dag_id=producer.dag_id,
            task_id=producer.task_id,
            store=store.root,
            manifest_url=store.url_for(manifest_key(producer.dag_id, producer.task_id, version_id)),
            files=entries,
            run_id=producer.run_id,
            map_index=producer.map_index,
            try_number=producer.try_number,
            logical_date=producer.logical_date,
            hostname=producer.hostname,
            created_at=created_at,
            committed_at=_now(),
            data_prefix=prefix,
            inputs=[dict(r) for r in inputs],
            tags=version_tags,
            properties=version_properties,
            execution_metadata=dict(execution_metadata or {}),
        )
        body = json.dumps(version.to_manifest(), indent=1, sort_keys=True).encode()
        try:
            _commit(store, manifest_key(producer.dag_id, producer.task_id, version_id), body)
        except AlreadyExists:
            raise AlreadyExists(
                f"{version.manifest_url}: version {version_id} of {producer.dag_id}.{producer.task_id} "
                "was already committed by another attempt; versions are never overwritten, so this "
                "attempt's files were discarded. Read the committed version, or clear the task to "
                "run it as a new DAG run"
            ) from None
    except BaseException:
        _delete_prefix(store, prefix, logger)
        raise
    for ref, (base, paths) in datasets.items():
        chosen = version.files if paths is None else [f for f in version.files if f.path in paths]
        create_dataset_version(store, ref, versions=[(version, chosen)], base=base)
        logger.info("Created dataset version %s%s%s: %s", DATASET_SCHEME, ref, f" on {base}" if base else "",
                    plural(len(chosen), "file"))
    for name, path in sorted({(n, path) for path, meta in sidecars.items() for n in meta.aliases}):
        set_alias(store, name, dag_id=version.dag_id, task_id=version.task_id, version_id=version.version_id,
                  path=path, set_by=f"sidecar of {version.dag_id}.{version.task_id} {version.run_id}", logger=logger)
    record_uses(store, version, logger=logger)  # the "used by" index of what it was made from
    for entry in entries:
        logger.info("%s: %s, sha256 %s", entry.path, human_size(entry.size), entry.sha256)
    logger.info(
        "Committed version %s of %s.%s: %s, %s, manifest %s",
        version_id, producer.dag_id, producer.task_id, plural(len(entries), "file"),
        human_size(version.total_size),
        version.manifest_url,
    )
    return version


def _datasets_to_make(store: Store, sidecars: Mapping[str, FileMetadata], whole: str | None,
                      ) -> dict[str, tuple[str | None, set[str] | None]]:
    """``{dataset version: (its base, the paths it lists or None for all)}``, each checked to be new now, so
    a name already taken fails the snapshot before any upload."""
    wanted: dict[str, tuple[str | None, set[str] | None]] = {}
    if whole:
        check_dataset_version(whole)
        wanted[whole] = (None, None)
    for path, meta in sidecars.items():
        for ref, base in meta.datasets:
            earlier, paths = wanted.get(ref, (base, set()))
            if paths is not None:
                wanted[ref] = (earlier or base, paths | {path})
    for ref in wanted:
        name, version = check_dataset_version(ref)
        try:
            store.stat(dataset_key(name, version))
        except NotFound:
            continue
        raise AlreadyExists(f"{store.url_for(dataset_key(name, version))}: dataset version {ref} exists; dataset "
                            "versions are never overwritten: name a new one")
    return wanted


def _commit(store: Store, key: str, body: bytes) -> None:
    """The create-only manifest write. A commit whose answer was lost is repeated by the retry policy
    and then finds the key taken: by our own manifest when the bytes there are ours."""
    try:
        store.write_bytes(key, body, create_only=True)
    except AlreadyExists:
        try:
            if store.read_bytes(key) == body:  # the manifest holds a unique attempt prefix and times
                return
        except NotFound:
            pass
        raise


def _delete_prefix(store: Store, prefix: str, logger: logging.Logger) -> None:
    try:
        for info in store.list(prefix):
            store.delete(info.key)
    except DataStoreError as err:  # the orphan purge will get it later
        logger.warning("Could not remove the uncommitted files under %s: %s", store.url_for(prefix), err)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
