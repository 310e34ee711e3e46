"""Looking versions up by reference: the files a ``datastore://`` reference or an ``alias://`` URL names."""

from __future__ import annotations

from dataclasses import dataclass, replace

from airflow_datastores.errors import NotFound
from airflow_datastores.patterns import has_wildcard, literal_prefix, matches
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions.aliases import resolve_alias
from airflow_datastores.versions.manifest import Version, latest_version, load_version
from airflow_datastores.versions.references import REFERENCE_SCHEME, Reference, parse_reference


@dataclass(frozen=True)
class Selection:
    """The files of a version a reference names.

    :param prefix: the literal part of the reference's path (its directory, or a wildcard's fixed
        start): what ``keep_directories="suffix"`` cuts off.
    :param alias: the alias the reference named, if it named one (``version`` is where it pointed).
    """

    reference: Reference
    store: Store
    version: Version
    files: list[FileEntry]
    prefix: str
    alias: str | None = None

    def source(self, entry: FileEntry) -> str:
        """What stays the same across runs for a file of this task's versions (its URL changes)."""
        return f"{REFERENCE_SCHEME}{self.reference.dag_id}/{self.reference.task_id}/{entry.path}"


def resolve_reference(ref: str, *, conn_id: str | None = None) -> Selection:
    """The files a reference names: ``datastore://<dag>/<task>/<version id | latest | @alias>[/<path>]`` or
    ``alias://<name>[/<path>]``. ``latest`` and aliases are resolved now, when the task starts."""
    parsed = parse_reference(ref)
    store = get_store(parsed.store, conn_id=conn_id)
    alias = None
    if parsed.version.startswith("@"):  # an alias: of the task, or (no task) of the store
        alias = parsed.version[1:]
        entry = resolve_alias(store, alias, dag_id=parsed.dag_id or None, task_id=parsed.task_id or None)
        parsed = replace(parsed, dag_id=entry.dag_id, task_id=entry.task_id, version=entry.version_id)
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
    return Selection(reference=parsed, store=store, version=version, files=selected, prefix=prefix, alias=alias)
