"""Outputs: immutable versions committed by a create-only manifest; references; verify; diff.

Layout below a store's root (readable by a person browsing the bucket)::

    <dag_id>/<task_id>/<version_id>/<attempt>/<path>   the files, one prefix per task attempt
    _manifests/<dag_id>/<task_id>/<version_id>.json     the commit: a version exists once this exists

The manifest is written last, with a create-only write, so a crash before it leaves nothing visible,
and of two attempts committing the same version exactly one wins. Nothing is ever overwritten.
Retention (purge) lives in :mod:`airflow_datastores.retention`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote, urlsplit

from airflow_datastores.errors import AlreadyExists, DataStoreError, InvalidSpec, NotFound
from airflow_datastores.hashing import Hasher, HashingReader
from airflow_datastores.patterns import has_wildcard, literal_prefix, matches
from airflow_datastores.stores.base import Store
from airflow_datastores.stores.registry import get_store
from airflow_datastores.units import human_size, plural

log = logging.getLogger(__name__)

MANIFESTS = "_manifests"
MANIFEST_FORMAT = 1
REFERENCE_SCHEME = "datastore://"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Producer:
    """Who produces a version: the task instance (or a person, outside Airflow)."""

    dag_id: str
    task_id: str
    run_id: str | None = None
    map_index: int = -1
    try_number: int = 1
    logical_date: str | None = None
    hostname: str = field(default_factory=socket.gethostname)

    @property
    def version_id(self) -> str:
        """One version per task run (and map index): every attempt of the run commits the same id."""
        base = slug(self.run_id) if self.run_id else datetime.now(UTC).strftime(
            "adhoc-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
        return base if self.map_index < 0 else f"{base}.map-{self.map_index}"


@dataclass
class FileEntry:
    """One file of a version."""

    path: str
    size: int
    md5: str
    sha1: str
    sha256: str
    key: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Version:
    """A committed version: its manifest, as stored."""

    version_id: str
    dag_id: str
    task_id: str
    store: str
    manifest_url: str
    files: list[FileEntry]
    run_id: str | None = None
    map_index: int = -1
    try_number: int = 1
    logical_date: str | None = None
    hostname: str | None = None
    created_at: str | None = None
    committed_at: str | None = None
    data_prefix: str = ""
    inputs: list[dict] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def reference(self, path: str = "") -> str:
        """A reference that stages exactly this version (or a path / wildcard inside it)."""
        return make_reference(
            dag_id=self.dag_id, task_id=self.task_id, version=self.version_id, path=path, store=self.store
        )

    def to_manifest(self) -> dict:
        data = asdict(self)
        data.pop("manifest_url")
        data["format"] = MANIFEST_FORMAT
        data["file_count"] = len(self.files)
        data["total_size"] = self.total_size
        return data

    def to_record(self) -> dict:
        """The JSON pushed to XCom as ``datastore_outputs``."""
        return {
            "version_id": self.version_id,
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "store": self.store,
            "manifest_url": self.manifest_url,
            "reference": self.reference(),
            "committed_at": self.committed_at,
            "total_size": self.total_size,
            "files": [{k: v for k, v in f.to_dict().items() if k != "key"} for f in self.files],
        }

    @classmethod
    def from_manifest(cls, data: Mapping, *, manifest_url: str) -> Version:
        if data.get("format") != MANIFEST_FORMAT:
            raise DataStoreError(
                f"{manifest_url}: manifest format {data.get('format')!r} is not one this version of "
                f"airflow-provider-datastores reads ({MANIFEST_FORMAT}); upgrade the provider"
            )
        known = set(cls.__dataclass_fields__) - {"files", "manifest_url"}
        return cls(
            manifest_url=manifest_url,
            files=[FileEntry(**f) for f in data.get("files", [])],
            **{k: v for k, v in data.items() if k in known},
        )


def slug(text: str) -> str:
    """``text`` made safe as one path segment of a key, still readable."""
    return _SAFE.sub("-", text).strip("-.") or "x"


def manifest_key(dag_id: str, task_id: str, version_id: str) -> str:
    return f"{MANIFESTS}/{dag_id}/{task_id}/{version_id}.json"


# Snapshot


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
    max_concurrency: int = 8,
    logger: logging.Logger | None = None,
) -> Version:
    """Upload everything under ``outputs_dir`` and commit it as a new version of the producer's task.

    :param outputs_dir: the directory the task wrote.
    :param store: where the version goes.
    :param producer: the task instance (names the version and the layout).
    :param inputs: the input records of the run, kept in the manifest as provenance.
    :param max_concurrency: how many files upload at once. Each request of an upload (a PUT, a part,
        the commit) is retried under the ``[datastores]`` retry policy by the store.
    :raises AlreadyExists: another attempt committed this version first; this attempt's files are
        removed again.
    """
    logger = logger or log
    created_at = _now()
    version_id = producer.version_id
    attempt = f"try-{producer.try_number}-{uuid.uuid4().hex[:8]}"
    prefix = f"{producer.dag_id}/{producer.task_id}/{version_id}/{attempt}/"
    files = collect_outputs(outputs_dir)
    if not files:
        logger.warning("Outputs directory %s is empty: committing an empty version", outputs_dir)

    def upload(item: tuple[str, str]) -> FileEntry:
        rel, path = item
        key = prefix + rel
        size = os.path.getsize(path)
        hasher = Hasher(expected_size=size)
        try:
            with open(path, "rb") as raw:
                store.write(key, HashingReader(raw, hasher), size=size)
            digests = hasher.hexdigests()
        finally:
            hasher.close()
        if hasher.size != size:
            raise DataStoreError(f"{path} changed size while it was uploaded; do not write "
                                 "to the outputs directory while the snapshot runs")
        return FileEntry(path=rel, key=key, size=size, **digests)

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
    for entry in entries:
        logger.info("%s: %s, sha256 %s", entry.path, human_size(entry.size), entry.sha256)
    logger.info(
        "Committed version %s of %s.%s: %s, %s, manifest %s",
        version_id, producer.dag_id, producer.task_id, plural(len(entries), "file"),
        human_size(version.total_size),
        version.manifest_url,
    )
    return version


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


# Reading versions


def load_version(store: Store, dag_id: str, task_id: str, version_id: str) -> Version:
    key = manifest_key(dag_id, task_id, version_id)
    try:
        body = store.read_bytes(key)
    except NotFound:
        raise NotFound(
            f"{store.url_for(key)}: no committed version {version_id!r} of {dag_id}.{task_id}; list "
            f"them with: airflow-datastores versions {dag_id} {task_id}"
        ) from None
    return _parse_manifest(store, key, body)


def _parse_manifest(store: Store, key: str, body: bytes) -> Version:
    try:
        data = json.loads(body)
    except ValueError:
        raise DataStoreError(f"{store.url_for(key)}: the manifest is not valid JSON") from None
    return Version.from_manifest(data, manifest_url=store.url_for(key))


@dataclass(frozen=True)
class VersionSummary:
    """A version known from the listing alone (no manifest read)."""

    dag_id: str
    task_id: str
    version_id: str
    manifest_key: str
    committed: datetime | None


def list_versions(store: Store, *, dag_id: str | None = None, task_id: str | None = None) -> list[VersionSummary]:
    """Committed versions, oldest first, from a listing of the manifests only."""
    prefix = f"{MANIFESTS}/"
    if dag_id:
        prefix += f"{dag_id}/"
        if task_id:
            prefix += f"{task_id}/"
    found = []
    for info in store.list(prefix):
        parts = info.key[len(MANIFESTS) + 1 :].split("/")
        if len(parts) != 3 or not parts[2].endswith(".json"):
            continue
        found.append(VersionSummary(parts[0], parts[1], parts[2][: -len(".json")], info.key, info.modified))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda v: (v.committed or epoch, v.version_id))
    return found


def latest_version(store: Store, dag_id: str, task_id: str) -> Version:
    versions = list_versions(store, dag_id=dag_id, task_id=task_id)
    if not versions:
        raise NotFound(
            f"{store.url_for(f'{MANIFESTS}/{dag_id}/{task_id}/')}: {dag_id}.{task_id} has no committed "
            "version yet; run it first"
        )
    return load_version(store, dag_id, task_id, versions[-1].version_id)


# References


def make_reference(*, dag_id: str, task_id: str, version: str = "latest", path: str = "",
                   store: str | None = None) -> str:
    """``datastore://<dag_id>/<task_id>/<version or latest>[/<path or wildcard>][?store=<name or URL>]``."""
    ref = f"{REFERENCE_SCHEME}{dag_id}/{task_id}/{version}"
    if path:
        ref += "/" + path.lstrip("/")
    if store:
        ref += "?store=" + quote(store, safe="")
    return ref


@dataclass(frozen=True)
class Reference:
    dag_id: str
    task_id: str
    version: str
    path: str
    store: str | None


def parse_reference(ref: str) -> Reference:
    parts = urlsplit(ref)
    segments = (parts.netloc + unquote(parts.path)).split("/", 3)
    if parts.scheme != "datastore" or len(segments) < 3 or not all(segments[:3]):
        raise InvalidSpec(
            f"{ref!r} is not a version reference; write "
            "datastore://<dag_id>/<task_id>/<version id or latest>[/<path or wildcard>][?store=<store>]"
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"store"}
    if unknown:
        raise InvalidSpec(f"{ref!r}: unknown reference options {sorted(unknown)}; only 'store' is known")
    store = query.get("store", [None])[0]
    return Reference(segments[0], segments[1], segments[2], segments[3] if len(segments) > 3 else "", store)


@dataclass(frozen=True)
class VersionFile:
    """A file of a version, as staging needs it: where it is and what its sha256 must be."""

    url: str
    store: Store
    key: str
    path: str
    size: int
    sha256: str
    identity: str
    pattern_prefix: str
    source: str


def resolve_reference(ref: str, *, conn_id: str | None = None) -> list[VersionFile]:
    """The files a reference names. ``latest`` is the newest committed version at this moment."""
    parsed = parse_reference(ref)
    store = get_store(parsed.store, conn_id=conn_id)
    if parsed.version == "latest":
        version = latest_version(store, parsed.dag_id, parsed.task_id)
    else:
        version = load_version(store, parsed.dag_id, parsed.task_id, parsed.version)
    pattern = parsed.path
    selected = [
        f for f in version.files
        if not pattern or f.path == pattern or (has_wildcard(pattern) and matches(pattern, f.path))
        or f.path.startswith(pattern.rstrip("/") + "/")
    ]
    if pattern and not selected:
        raise NotFound(
            f"{ref}: version {version.version_id} of {parsed.dag_id}.{parsed.task_id} has no file "
            f"matching {pattern!r}; it has: " + ", ".join(f.path for f in version.files[:10])
            + (" ..." if len(version.files) > 10 else "")
        )
    prefix = literal_prefix(pattern) if has_wildcard(pattern) else (
        pattern.rstrip("/") + "/" if pattern and not any(f.path == pattern for f in selected) else "")
    return [
        VersionFile(
            url=store.url_for(f.key), store=store, key=f.key, path=f.path, size=f.size, sha256=f.sha256,
            identity=f"sha256:{f.sha256}", pattern_prefix=prefix,
            source=f"{REFERENCE_SCHEME}{parsed.dag_id}/{parsed.task_id}/{f.path}",
        )
        for f in selected
    ]


# Verify and diff


@dataclass
class VerifyReport:
    version_id: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def verify_version(store: Store, version: Version, *, max_concurrency: int = 8) -> VerifyReport:
    """Re-read every file of ``version`` and check its size and sha256 against the manifest."""
    report = VerifyReport(version_id=version.version_id)

    def check(entry: FileEntry) -> tuple[str, str | None]:
        hasher = Hasher(expected_size=entry.size)
        try:
            for chunk in store.read(entry.key):
                hasher.update(chunk)
        except NotFound:
            hasher.close()
            return entry.path, "missing"
        digests = hasher.hexdigests()
        if hasher.size != entry.size or digests["sha256"] != entry.sha256:
            return entry.path, "corrupt"
        return entry.path, None

    with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
        for path, problem in pool.map(check, version.files):
            report.checked += 1
            if problem == "missing":
                report.missing.append(path)
            elif problem == "corrupt":
                report.corrupt.append(path)
    return report


@dataclass
class VersionDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int


def diff_versions(old: Version, new: Version) -> VersionDiff:
    """Files added, removed and changed (by sha256) from ``old`` to ``new``."""
    before = {f.path: f.sha256 for f in old.files}
    after = {f.path: f.sha256 for f in new.files}
    return VersionDiff(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        changed=sorted(p for p in set(before) & set(after) if before[p] != after[p]),
        unchanged=sum(1 for p in set(before) & set(after) if before[p] == after[p]),
    )


def iter_versions(store: Store, summaries: Sequence[VersionSummary]) -> Iterator[Version]:
    """Read the manifests of ``summaries`` (skipping any purged meanwhile)."""
    for summary in summaries:
        try:
            yield load_version(store, summary.dag_id, summary.task_id, summary.version_id)
        except NotFound:
            continue


__all__ = [
    "FileEntry", "Producer", "Version", "VersionSummary", "collect_outputs", "diff_versions",
    "iter_versions", "latest_version", "list_versions", "load_version", "make_reference",
    "parse_reference", "resolve_reference", "snapshot", "verify_version",
]
