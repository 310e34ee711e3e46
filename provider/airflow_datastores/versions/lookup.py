"""Looking versions up by reference: the files a ``datastore://``, ``alias://`` or ``dataset://`` URL names."""

from __future__ import annotations

from dataclasses import dataclass, replace

from airflow_datastores.errors import NotFound
from airflow_datastores.patterns import has_wildcard, literal_prefix, matches
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions.aliases import resolve_alias
from airflow_datastores.versions.datasets import load_dataset_version
from airflow_datastores.versions.manifest import Version, latest_version, load_version
from airflow_datastores.versions.references import DATASET_SCHEME, REFERENCE_SCHEME, Reference, parse_reference


@dataclass(frozen=True)
class Selection:
    """The files of a version (or dataset version) a reference names.

    :param prefix: the literal part of the reference's path (its directory, or a wildcard's fixed
        start): what ``keep_directories="suffix"`` cuts off.
    :param alias: the alias the reference named, if it named one (``version`` is where it pointed).
    :param origin: what stays the same across runs, before a file's path: ``datastore://<dag>/<task>/`` or
        ``dataset://<name>/`` (a version's URL is new every run).
    """

    reference: Reference
    store: Store
    version: Version
    files: list[FileEntry]
    prefix: str
    origin: str
    alias: str | None = None

    def source(self, entry: FileEntry) -> str:
        """What change detection compares across runs for ``entry``."""
        return f"{self.origin}{entry.path}"


def resolve_reference(ref: str, *, conn_id: str | None = None) -> Selection:
    """The files a reference names: ``datastore://<dag>/<task>/<version id | latest | @alias>[/<path>]``,
    ``alias://<name>[/<path>]`` or ``dataset://<name>/<version | latest>[/<path>]``. ``latest`` and aliases
    are resolved now, when the task starts."""
    parsed = parse_reference(ref)
    store = get_store(parsed.store, conn_id=conn_id)
    if ref.startswith(DATASET_SCHEME):
        version = load_dataset_version(store, parsed.task_id, parsed.version).as_version(store)
        return _select(ref, parsed, store, version, origin=f"{DATASET_SCHEME}{parsed.task_id}/",
                       what=f"dataset version {parsed.task_id}/{version.version_id}")
    alias = None
    if parsed.version.startswith("@"):  # an alias: of the task, or (no task) of the store
        alias = parsed.version[1:]
        entry, version = resolve_alias(store, alias, dag_id=parsed.dag_id or None, task_id=parsed.task_id or None)
        parsed = replace(parsed, dag_id=entry.dag_id, task_id=entry.task_id, version=entry.version_id,
                         path=parsed.path or entry.path)  # an alias that names one file stages that file
    elif parsed.version == "latest":
        version = latest_version(store, parsed.dag_id, parsed.task_id)
    else:
        version = load_version(store, parsed.dag_id, parsed.task_id, parsed.version)
    return _select(ref, parsed, store, version, origin=f"{REFERENCE_SCHEME}{parsed.dag_id}/{parsed.task_id}/",
                   what=f"version {version.version_id} of {parsed.dag_id}.{parsed.task_id}", alias=alias)


def select_files(files: list[FileEntry], pattern: str) -> list[FileEntry]:
    """The files a path names: all (no path), one, a directory's, or a wildcard's matches."""
    return [
        f for f in files
        if not pattern or f.path == pattern or (has_wildcard(pattern) and matches(pattern, f.path))
        or f.path.startswith(pattern.rstrip("/") + "/")
    ]


def _select(ref: str, parsed: Reference, store: Store, version: Version, *, origin: str, what: str,
            alias: str | None = None) -> Selection:
    """The files of ``version`` the reference's path names: all, one, a directory or a wildcard's."""
    pattern = parsed.path
    selected = select_files(version.files, pattern)
    if pattern and not selected:
        raise NotFound(
            f"{ref}: {what} has no file matching {pattern!r}; it has: "
            + ", ".join(f.path for f in version.files[:10]) + (" ..." if len(version.files) > 10 else "")
        )
    prefix = literal_prefix(pattern) if has_wildcard(pattern) else (
        pattern.rstrip("/") + "/" if pattern and not any(f.path == pattern for f in selected) else "")
    return Selection(reference=parsed, store=store, version=version, files=selected, prefix=prefix, origin=origin,
                     alias=alias)
