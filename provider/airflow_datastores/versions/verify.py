"""Verify a version against its manifest, and diff two versions by sha256."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from airflow_datastores.errors import NotFound
from airflow_datastores.hashing import Hasher
from airflow_datastores.records import FileEntry
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.manifest import Version


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
