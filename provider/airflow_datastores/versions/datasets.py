"""Datasets: a name with immutable versions, each a manifest listing files of committed versions.

No bytes are copied: a dataset version names files that committed versions hold, with their sizes and
digests, so ``dataset://images/v3`` stages exactly those bytes and ``verify`` checks them. Layout::

    _datasets/<name>/<version>.json     one dataset version, written once with a create-only write

A dataset version is made by a step (``dataset_version="images/v3"``, or ``valohai.dataset-versions`` in
a file's sidecar) or by the CLI from committed versions, optionally on top of an earlier dataset version.
A version of a task that a dataset version lists is kept by purge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from airflow_datastores.errors import AlreadyExists, DataStoreError, InvalidSpec, NotFound
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.manifest import Version
from airflow_datastores.versions.references import DATASET_SCHEME, NAME

DATASETS = "_datasets"
DATASET_FORMAT = 1


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset: its files, each with the version of a task it comes from."""

    name: str
    version: str
    created_at: str
    files: list[FileEntry]
    origins: list[dict]  # per file, in order: {"dag_id", "task_id", "version_id"}

    def as_version(self, store: Store) -> Version:
        """The same files as a :class:`Version`, so verify and diff read them as any version."""
        return Version(version_id=self.version, dag_id=DATASET_SCHEME.rstrip("/"), task_id=self.name,
                       store=store.root, manifest_url=store.url_for(dataset_key(self.name, self.version)),
                       files=self.files, created_at=self.created_at, committed_at=self.created_at)


def check_dataset_version(text: str) -> tuple[str, str]:
    """``"images/v3"`` -> ``("images", "v3")``; names and versions of letters, digits, ``.``, ``-``, ``_``."""
    name, sep, version = text.partition("/") if isinstance(text, str) else ("", "", "")
    if not sep or not NAME.fullmatch(name) or not NAME.fullmatch(version) or version == "latest":
        raise InvalidSpec(f"Dataset version {text!r}: write <dataset>/<version>, e.g. images/v3, with letters, "
                          "digits, '.', '-' or '_' ('latest' is not a version name)")
    return name, version


def dataset_key(name: str, version: str) -> str:
    return f"{DATASETS}/{name}/{version}.json"


def create_dataset_version(store: Store, ref: str, *, versions: Iterable[tuple[Version, Sequence[FileEntry]]],
                           base: str | None = None) -> DatasetVersion:
    """Write the dataset version ``ref`` (``name/version``) listing the given files of committed versions,
    after the files of the dataset version ``base`` (``name/version``) if given; a path listed twice
    keeps the later file.

    :raises AlreadyExists: that dataset version exists (they are never overwritten).
    """
    name, version = check_dataset_version(ref)
    chosen: dict[str, tuple[FileEntry, dict]] = {}
    if base:
        earlier = load_dataset_version(store, *check_dataset_version(base))
        chosen.update({f.path: (f, o) for f, o in zip(earlier.files, earlier.origins, strict=True)})
    for source, files in versions:
        origin = {"dag_id": source.dag_id, "task_id": source.task_id, "version_id": source.version_id}
        chosen.update({f.path: (f, origin) for f in files})
    ordered = [chosen[p] for p in sorted(chosen)]
    made = DatasetVersion(name=name, version=version, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          files=[f for f, _ in ordered], origins=[o for _, o in ordered])
    body = {"format": DATASET_FORMAT, "name": name, "version": version, "created_at": made.created_at,
            "files": [{**f.to_dict(), "origin": o} for f, o in ordered]}
    try:
        store.write_bytes(dataset_key(name, version), json.dumps(body, indent=1, sort_keys=True).encode(),
                          create_only=True)
    except AlreadyExists:
        raise AlreadyExists(f"{store.url_for(dataset_key(name, version))}: dataset version {name}/{version} exists; "
                            "dataset versions are never overwritten: name a new one") from None
    return made


def load_dataset_version(store: Store, name: str, version: str = "latest") -> DatasetVersion:
    """A dataset version (``latest``: the newest one). :raises NotFound: naming what exists."""
    if version == "latest":
        versions = list_dataset_versions(store, name)
        if not versions:
            raise NotFound(f"{store.url_for(f'{DATASETS}/{name}/')}: dataset {name!r} has no version yet")
        version = versions[-1][0]
    key = dataset_key(name, version)
    try:
        data = json.loads(store.read_bytes(key))
    except NotFound:
        raise NotFound(f"{store.url_for(key)}: no dataset version {name}/{version}; list them with: "
                       f"airflow-datastores dataset ls {name}") from None
    except ValueError:
        raise DataStoreError(f"{store.url_for(key)}: the dataset version is not valid JSON") from None
    if data.get("format") != DATASET_FORMAT:
        raise DataStoreError(f"{store.url_for(key)}: dataset format {data.get('format')!r} is not one this provider "
                             f"reads ({DATASET_FORMAT}); upgrade it")
    files = [FileEntry.from_dict(f) for f in data["files"]]
    return DatasetVersion(name=name, version=version, created_at=data.get("created_at", ""), files=files,
                          origins=[f.get("origin", {}) for f in data["files"]])


def list_dataset_versions(store: Store, name: str | None = None) -> list[tuple[str, str, datetime | None]]:
    """``(version, name, written)`` of the dataset versions (of one dataset), oldest first."""
    found = []
    for info in store.list(f"{DATASETS}/{name}/" if name else f"{DATASETS}/"):
        parts = info.key[len(DATASETS) + 1:].split("/")
        if len(parts) == 2 and parts[1].endswith(".json"):
            found.append((parts[1][: -len(".json")], parts[0], info.modified))
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda v: (v[1], v[2] or epoch, v[0]))


def dataset_versions_in_use(store: Store) -> dict[tuple[str, str, str], list[str]]:
    """``(dag_id, task_id, version_id)`` -> the dataset versions listing files of it (purge keeps those)."""
    used: dict[tuple[str, str, str], list[str]] = {}
    for version, name, _ in list_dataset_versions(store):
        for origin in load_dataset_version(store, name, version).origins:
            owner = (origin.get("dag_id"), origin.get("task_id"), origin.get("version_id"))
            if f"{name}/{version}" not in used.setdefault(owner, []):
                used[owner].append(f"{name}/{version}")
    return used
