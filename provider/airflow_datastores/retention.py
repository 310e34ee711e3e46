"""Purge: delete versions by rule, and the files of attempts that never committed.

Versions stay until purged. A version is removed manifest first, so a half-purged version is never
visible as whole; then its files. Uncommitted attempt prefixes (crashed or losing attempts) are
removed once they are older than a grace period, so a snapshot still uploading is left alone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from airflow_datastores.stores.base import DataStoreError, NotFound, ObjectInfo, Store
from airflow_datastores.versioning import MANIFESTS, list_versions, load_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeRule:
    """Which versions go. Rules combine: a version goes if any rule selects it.

    :param keep_last: keep the newest N versions of each task, purge the older ones.
    :param older_than: purge versions committed longer ago than this.
    :param version_ids: purge exactly these versions.
    :param orphans_older_than: remove uncommitted attempt files older than this grace period;
        ``None`` leaves them alone.
    """

    keep_last: int | None = None
    older_than: timedelta | None = None
    version_ids: tuple[str, ...] = ()
    orphans_older_than: timedelta | None = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.keep_last is not None and self.keep_last < 0:
            raise ValueError(f"keep_last={self.keep_last}: give 0 or more versions to keep")
        if self.keep_last is None and self.older_than is None and not self.version_ids \
                and self.orphans_older_than is None:
            raise ValueError("Purge needs a rule: keep_last, older_than, version_ids or orphans_older_than")


@dataclass
class PurgeItem:
    """One version or one orphaned attempt that goes (or would go, in a dry run)."""

    kind: str  # "version" | "orphan"
    dag_id: str
    task_id: str
    version_id: str
    prefix: str
    files: int = 0
    bytes: int = 0
    reason: str = ""


@dataclass
class PurgeResult:
    items: list[PurgeItem] = field(default_factory=list)
    dry_run: bool = True

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)


def purge(
    store: Store,
    *,
    rule: PurgeRule,
    dag_id: str | None = None,
    task_id: str | None = None,
    dry_run: bool = True,
    now: datetime | None = None,
    logger: logging.Logger | None = None,
) -> PurgeResult:
    """Select what ``rule`` purges in ``store`` (optionally one DAG or task) and delete it.

    :param dry_run: only report what would go and how many bytes.
    :param now: the time rules are measured from (tests).
    """
    logger = logger or log
    now = now or datetime.now(timezone.utc)
    result = PurgeResult(dry_run=dry_run)
    summaries = list_versions(store, dag_id=dag_id, task_id=task_id)
    by_task: dict[tuple[str, str], list] = defaultdict(list)
    for summary in summaries:
        by_task[(summary.dag_id, summary.task_id)].append(summary)

    committed_prefixes: set[str] = set()
    doomed = []
    for (dag, task), versions in by_task.items():
        keep_from = len(versions) - rule.keep_last if rule.keep_last is not None else None
        for index, summary in enumerate(versions):
            reasons = []
            if keep_from is not None and index < keep_from:
                reasons.append(f"not among the last {rule.keep_last}")
            if rule.older_than is not None and summary.committed and now - summary.committed > rule.older_than:
                reasons.append(f"older than {rule.older_than}")
            if summary.version_id in rule.version_ids:
                reasons.append("asked for by id")
            try:
                version = load_version(store, dag, task, summary.version_id)
            except NotFound:
                continue
            except DataStoreError as err:
                logger.warning("Skipping %s: %s", summary.manifest_key, err)
                continue
            if not reasons:
                committed_prefixes.add(version.data_prefix)
                continue
            doomed.append((summary, version))
            result.items.append(PurgeItem(
                kind="version", dag_id=dag, task_id=task, version_id=summary.version_id,
                prefix=version.data_prefix, files=len(version.files), bytes=version.total_size,
                reason=", ".join(reasons),
            ))

    orphans: dict[str, list[ObjectInfo]] = {}
    if rule.orphans_older_than is not None:
        orphans = _orphans(store, dag_id=dag_id, task_id=task_id,
                           committed=committed_prefixes | {v.data_prefix for _, v in doomed},
                           older_than=rule.orphans_older_than, now=now)
        for prefix, infos in orphans.items():
            dag, task, version_id = prefix.split("/")[:3]
            result.items.append(PurgeItem(
                kind="orphan", dag_id=dag, task_id=task, version_id=version_id, prefix=prefix,
                files=len(infos), bytes=sum(i.size for i in infos),
                reason=f"uncommitted attempt older than {rule.orphans_older_than}",
            ))

    if dry_run:
        return result
    for summary, version in doomed:
        store.delete(summary.manifest_key)  # first: the version stops existing as a whole
        for info in store.list(version.data_prefix):
            store.delete(info.key)
        logger.info("Purged version %s of %s.%s", summary.version_id, summary.dag_id, summary.task_id)
    for prefix, infos in orphans.items():
        for info in infos:
            store.delete(info.key)
        logger.info("Removed uncommitted files under %s", store.url_for(prefix))
    if rule.orphans_older_than is not None and hasattr(store, "remove_stale_temp_files"):
        store.remove_stale_temp_files(older_than=rule.orphans_older_than.total_seconds())
    return result


def _orphans(store: Store, *, dag_id: str | None, task_id: str | None, committed: set[str],
             older_than: timedelta, now: datetime) -> dict[str, list[ObjectInfo]]:
    """Attempt prefixes (``dag/task/version/attempt/``) that no manifest commits, all of whose files
    are older than the grace period."""
    prefix = f"{dag_id}/" if dag_id else ""
    if dag_id and task_id:
        prefix += f"{task_id}/"
    groups: dict[str, list[ObjectInfo]] = defaultdict(list)
    for info in store.list(prefix):
        if info.key.startswith(f"{MANIFESTS}/"):
            continue
        parts = info.key.split("/")
        if len(parts) < 5 or not parts[3].startswith("try-"):
            continue  # not written by a snapshot
        groups["/".join(parts[:4]) + "/"].append(info)
    return {
        p: infos for p, infos in groups.items()
        if p not in committed and all(i.modified and now - i.modified > older_than for i in infos)
    }


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` -> timedelta."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{text!r} is not a duration; write a number and a unit, e.g. 30m, 12h, 7d, 2w")
    return timedelta(**{units[text[-1]]: int(text[:-1])})
