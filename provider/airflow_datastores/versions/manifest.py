"""The manifest: what a version is, where it lives, and how versions are listed and read.

Where the files and the manifest of a version are: :mod:`.layout` (one module writes and reads keys).
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from airflow_datastores.errors import DataStoreError, NotFound
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.layout import manifest_key, manifest_prefix, parse_manifest_key
from airflow_datastores.versions.references import make_reference

MANIFEST_FORMAT = 1
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
    tags: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)
    #: What the step printed as execution metadata (:meth:`MetadataCollector.summary`), or empty.
    execution_metadata: dict = field(default_factory=dict)

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
            "tags": self.tags,
            "properties": self.properties,
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
            files=[FileEntry.from_dict(f) for f in data.get("files", [])],
            **{k: v for k, v in data.items() if k in known},
        )


def slug(text: str) -> str:
    """``text`` made safe as one path segment of a key, still readable."""
    return _SAFE.sub("-", text).strip("-.") or "x"


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
    found = []
    for info in store.list(manifest_prefix(dag_id, task_id)):
        parsed = parse_manifest_key(info.key)
        if parsed is not None:
            found.append(VersionSummary(*parsed, info.key, info.modified))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda v: (v.committed or epoch, v.version_id))
    return found


def latest_version(store: Store, dag_id: str, task_id: str) -> Version:
    """The newest committed version of the task that holds a file (a marker committed empty is passed over)."""
    versions = list_versions(store, dag_id=dag_id, task_id=task_id)
    for summary in reversed(versions):
        version = load_version(store, dag_id, task_id, summary.version_id)
        if version.files:
            return version
    raise NotFound(
        f"{store.url_for(manifest_prefix(dag_id, task_id))}: {dag_id}.{task_id} has no committed "
        + ("version with files yet (only empty ones)" if versions else "version yet") + "; run it first"
    )
