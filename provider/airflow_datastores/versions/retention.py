"""Purge: delete versions by rule, and everything that writes which never committed left behind.

Versions stay until purged. A version is removed manifest first, so a half-purged version is never
visible as whole; then its files. What unfinished writes left is removed once it is older than a grace
period (24 hours by default), so a snapshot still uploading is left alone:

* uncommitted attempt prefixes (files of a crashed or losing attempt, no manifest names them);
* leftovers outside the key space, as each store keeps them (:meth:`Store.leftovers`): incomplete S3
  multipart uploads, Swift segments whose manifest was never written, Azure uncommitted blocks, local
  temp files.

A dry run lists what would go, and what is kept because it is younger than the grace period; a real
run reports exactly what it removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from airflow_datastores.errors import AmbiguousVersionId, DataStoreError, InvalidSpec, NotFound
from airflow_datastores.stores.base import Leftover, ObjectInfo, Store
from airflow_datastores.units import format_duration
from airflow_datastores.versions.aliases import aliased_versions
from airflow_datastores.versions.datasets import dataset_versions_in_use
from airflow_datastores.versions.layout import parse_attempt_key, parse_manifest_key
from airflow_datastores.versions.lineage import forget
from airflow_datastores.versions.manifest import VersionSummary, list_versions, load_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeRule:
    """Which versions go. Rules combine: a version goes if any rule selects it.

    :param keep_last: keep the newest N versions of each task, purge the older ones.
    :param older_than: purge versions committed longer ago than this.
    :param version_ids: purge exactly these versions.
    :param orphans_older_than: the grace period: remove uncommitted attempt files and leftovers of
        unfinished writes older than this (default 24 hours); ``None`` leaves them all alone.
    """

    keep_last: int | None = None
    older_than: timedelta | None = None
    version_ids: tuple[str, ...] = ()
    orphans_older_than: timedelta | None = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.keep_last is not None and self.keep_last < 0:
            raise InvalidSpec(f"keep_last={self.keep_last}: give 0 or more versions to keep")
        if self.keep_last is None and self.older_than is None and not self.version_ids \
                and self.orphans_older_than is None:
            raise InvalidSpec("Purge needs a rule: keep_last, older_than, version_ids or orphans_older_than")


@dataclass
class PurgeItem:
    """One thing that goes (or would go, in a dry run), or that is kept because it is too young.

    :param kind: ``"version"``, ``"orphan"`` (an uncommitted attempt prefix), or a leftover's kind
        (``"multipart upload"``, ``"segments"``, ``"uncommitted blocks"``, ``"temp file"``).
    :param dag_id: the DAG it belongs to, ``"-"`` when not known (local temp files).
    :param task_id: the task it belongs to, ``"-"`` when not known.
    :param version_id: the version (or uncommitted version) it belongs to, ``"-"`` when not known.
    :param prefix: key prefix of a version's or an attempt's files; ``""`` for leftovers.
    :param files: how many files (parts, segments, blocks) it is.
    :param bytes: bytes it holds.
    :param reason: why it goes, or why it is kept.
    :param url: where it is (leftovers; versions and orphans: their prefix's URL).
    :param modified: last written, when known (orphans and leftovers).
    :param removed: a real run removed it.
    :param error: why a real run could not remove it.
    """

    kind: str
    dag_id: str
    task_id: str
    version_id: str
    prefix: str
    files: int = 0
    bytes: int = 0
    reason: str = ""
    url: str = ""
    modified: datetime | None = None
    removed: bool = False
    error: str = ""
    leftover: Leftover | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict:
        """Plain JSON of this item (without the backend's handle)."""
        record = {name: getattr(self, name) for name in (
            "kind", "dag_id", "task_id", "version_id", "prefix", "files", "bytes", "reason", "url", "removed",
            "error")}
        record["modified"] = self.modified.isoformat() if self.modified else None
        return record


@dataclass
class PurgeResult:
    """What a purge selected, kept and removed.

    :param items: what goes (a dry run) or was meant to go (a real run: see each item's ``removed``).
    :param kept: uncommitted files and leftovers kept because they are younger than the grace period.
    :param version_matches: for each version id asked for, the ``dag.task`` names it matched.
    :param dry_run: nothing was deleted.
    """

    items: list[PurgeItem] = field(default_factory=list)
    kept: list[PurgeItem] = field(default_factory=list)
    version_matches: dict[str, list[str]] = field(default_factory=dict)
    dry_run: bool = True

    @property
    def bytes(self) -> int:
        """Bytes of everything selected."""
        return sum(i.bytes for i in self.items)

    @property
    def removed(self) -> list[PurgeItem]:
        """The items a real run removed."""
        return [i for i in self.items if i.removed]

    @property
    def failed(self) -> list[PurgeItem]:
        """The items a real run could not remove."""
        return [i for i in self.items if i.error]


def purge(
    store: Store,
    *,
    rule: PurgeRule,
    dag_id: str | None = None,
    task_id: str | None = None,
    all_tasks: bool = False,
    dry_run: bool = True,
    now: datetime | None = None,
    logger: logging.Logger | None = None,
) -> PurgeResult:
    """Select what ``rule`` purges in ``store`` (optionally one DAG or task) and delete it.

    :param store: the store to purge.
    :param rule: which versions go, and the grace period of uncommitted files and leftovers.
    :param dag_id: only this DAG's versions, attempts and leftovers (default: all).
    :param task_id: only this task's (needs ``dag_id``).
    :param all_tasks: let a version id of ``rule`` purge that version in every task that has it.
        Version ids come from run ids, so one id is in every task of a run: without ``dag_id`` or this,
        an id that matches several tasks raises :class:`AmbiguousVersionId` and nothing is deleted.
    :param dry_run: only report what would go and how many bytes.
    :param now: the time rules are measured from (tests).
    :param logger: where the lines about each removal go.
    """
    logger = logger or log
    now = now or datetime.now(UTC)
    if task_id and not dag_id:
        raise InvalidSpec(f"task_id={task_id!r} needs a dag_id: task ids are unique only within a DAG")
    result = PurgeResult(dry_run=dry_run)
    summaries = list_versions(store, dag_id=dag_id, task_id=task_id)
    _check_version_ids(store, rule, summaries, result, narrowed=bool(dag_id) or all_tasks)
    doomed, committed = _select_versions(store, rule, summaries, result, now=now, logger=logger)
    orphans: list[tuple[PurgeItem, list[ObjectInfo]]] = []
    leftovers: list[PurgeItem] = []
    if rule.orphans_older_than is not None:
        prefix = _scope(dag_id, task_id)
        orphans = _select_orphans(store, prefix, committed | {v.data_prefix for _, v, _ in doomed},
                                  rule.orphans_older_than, result, now=now)
        leftovers = _select_leftovers(store, prefix, rule.orphans_older_than, result, now=now)
    if dry_run:
        return result
    for summary, version, item in doomed:
        _remove(item, logger, lambda s=summary, v=version: _delete_version(store, s.manifest_key, v.data_prefix))
        if item.removed:
            forget(store, version, logger=logger)
            logger.info("Purged version %s of %s.%s", summary.version_id, summary.dag_id, summary.task_id)
    for item, infos in orphans:
        _remove(item, logger, lambda infos=infos: _delete_all(store, [info.key for info in infos]))
        if item.removed:
            logger.info("Removed uncommitted files under %s", item.url)
    for item in leftovers:
        _remove(item, logger, lambda item=item: store.remove_leftover(item.leftover))
        if item.removed:
            logger.info("Removed %s %s (%d pieces, %d bytes)", item.kind, item.url, item.files, item.bytes)
    return result


def _check_version_ids(store: Store, rule: PurgeRule, summaries: list[VersionSummary], result: PurgeResult, *,
                       narrowed: bool) -> None:
    """Record which tasks each asked-for version id matches; refuse an id of several tasks unless the
    purge was narrowed to a DAG or told ``all_tasks``."""
    for version_id in rule.version_ids:
        result.version_matches[version_id] = [f"{s.dag_id}.{s.task_id}" for s in summaries
                                              if s.version_id == version_id]
    ambiguous = {v: tasks for v, tasks in result.version_matches.items() if len(tasks) > 1}
    if ambiguous and not narrowed:
        lines = "; ".join(f"{v!r} matches {len(t)} tasks: {', '.join(t)}" for v, t in ambiguous.items())
        raise AmbiguousVersionId(
            f"{store.root}: version id {lines}. Version ids come from run ids, so one id names a version "
            "of every task of that run. Nothing was deleted: narrow it with --dag-id (and --task-id), or "
            "give --all-tasks (all_tasks=True) to purge it in every task listed"
        )


def _reasons(rule: PurgeRule, summary: VersionSummary, *, index: int, count: int, now: datetime) -> list[str]:
    """Why ``rule`` purges the version ``summary``, the ``index``-th oldest of its task's ``count``."""
    reasons = []
    if rule.keep_last is not None and index < count - rule.keep_last:
        reasons.append(f"not among the last {rule.keep_last}")
    if rule.older_than is not None and summary.committed and now - summary.committed > rule.older_than:
        reasons.append(f"older than {format_duration(rule.older_than)}")
    if summary.version_id in rule.version_ids:
        reasons.append("asked for by id")
    return reasons


def _select_versions(store: Store, rule: PurgeRule, summaries: list[VersionSummary], result: PurgeResult, *,
                     now: datetime, logger: logging.Logger) -> tuple[list, set[str]]:
    """The versions that go, as ``(summary, version, item)``, and the data prefixes of those that stay."""
    by_task: dict[tuple[str, str], list[VersionSummary]] = defaultdict(list)
    for summary in summaries:
        by_task[(summary.dag_id, summary.task_id)].append(summary)
    kept: set[str] = set()
    doomed = []
    named: list[dict] = []  # what aliases and datasets name: read once, when a version would go
    for (dag, task), versions in by_task.items():
        for index, summary in enumerate(versions):
            reasons = _reasons(rule, summary, index=index, count=len(versions), now=now)
            try:
                version = load_version(store, dag, task, summary.version_id)
            except NotFound:
                continue
            except DataStoreError as err:
                logger.warning("Skipping %s: %s", summary.manifest_key, err)
                continue
            if not reasons:
                kept.add(version.data_prefix)
                continue
            item = PurgeItem(
                kind="version", dag_id=dag, task_id=task, version_id=summary.version_id,
                prefix=version.data_prefix, files=len(version.files), bytes=version.total_size,
                reason=", ".join(reasons), url=store.url_for(version.data_prefix),
            )
            if not named:
                named = [aliased_versions(store), dataset_versions_in_use(store)]
            why = _still_named(*(n.get((dag, task, summary.version_id)) for n in named))
            if why:  # an alias points to it, or a dataset version lists its files: never purged while so
                item.reason = f"kept: {why} ({item.reason})"
                kept.add(version.data_prefix)
                result.kept.append(item)
                continue
            doomed.append((summary, version, item))
            result.items.append(item)
    return doomed, kept


def _still_named(aliases: list[str] | None, datasets: list[str] | None) -> str:
    parts = []
    if aliases:
        parts.append(f"alias {', '.join(aliases)} points to it")
    if datasets:
        parts.append(f"dataset version {', '.join(datasets)} lists its files")
    return "; ".join(parts)


def _select_orphans(store: Store, prefix: str, committed: set[str], grace: timedelta, result: PurgeResult, *,
                    now: datetime) -> list[tuple[PurgeItem, list[ObjectInfo]]]:
    """Attempt prefixes no manifest names, older than ``grace``; younger ones are listed as kept."""
    orphans = []
    for attempt, infos in _attempts(store, prefix=prefix, committed=committed).items():
        key = parse_attempt_key(attempt)
        dag, task, version_id = key.dag_id, key.task_id, key.version_id
        times = [i.modified for i in infos]
        item = PurgeItem(kind="orphan", dag_id=dag, task_id=task, version_id=version_id, prefix=attempt,
                         files=len(infos), bytes=sum(i.size for i in infos), url=store.url_for(attempt),
                         modified=max((t for t in times if t), default=None))
        if all(t is not None and now - t > grace for t in times):
            item.reason = f"uncommitted attempt, older than {format_duration(grace)}"
            orphans.append((item, infos))
            result.items.append(item)
        else:
            item.reason = _young(item.modified, grace, now)
            result.kept.append(item)
    return orphans


def _select_leftovers(store: Store, prefix: str, grace: timedelta, result: PurgeResult, *,
                      now: datetime) -> list[PurgeItem]:
    """Unfinished writes outside the key space (multipart uploads, blocks, segments, temp files)."""
    leftovers = []
    for leftover in store.leftovers(prefix):
        dag, task, version_id = _owner(leftover.key)
        item = PurgeItem(kind=leftover.kind, dag_id=dag, task_id=task, version_id=version_id, prefix="",
                         files=leftover.pieces, bytes=leftover.size, url=leftover.url,
                         modified=leftover.modified, leftover=leftover)
        if leftover.modified is not None and now - leftover.modified > grace:
            item.reason = f"{_UNFINISHED.get(leftover.kind, 'unfinished write')}, older than {format_duration(grace)}"
            leftovers.append(item)
            result.items.append(item)
        else:
            item.reason = _young(leftover.modified, grace, now)
            result.kept.append(item)
    return leftovers


#: How the reason of a leftover that goes names it.
_UNFINISHED = {
    "multipart upload": "incomplete multipart upload",
    "segments": "segments of an upload whose manifest was never written",
    "uncommitted blocks": "blocks never committed",
    "temp file": "partial write of a crashed writer",
}


def _delete_version(store: Store, manifest_key: str, data_prefix: str) -> None:
    store.delete(manifest_key)  # first: the version stops existing as a whole
    _delete_all(store, [info.key for info in store.list(data_prefix)])


def _delete_all(store: Store, keys: list[str]) -> None:
    for key in keys:
        store.delete(key)


def _remove(item: PurgeItem, logger: logging.Logger, remove) -> None:
    """Run ``remove()`` for ``item`` and record whether it worked; one failure does not stop the rest."""
    try:
        remove()
    except DataStoreError as err:
        item.error = str(err)
        logger.error("Could not remove %s %s: %s", item.kind, item.url, err)
    else:
        item.removed = True


def _scope(dag_id: str | None, task_id: str | None) -> str:
    """The key prefix of one DAG or task (``""``: the whole store)."""
    if not dag_id:
        return ""
    return f"{dag_id}/{task_id}/" if task_id else f"{dag_id}/"


def _owner(key: str | None) -> tuple[str, str, str]:
    """``(dag, task, version)`` of a key below an attempt prefix or of a manifest, ``"-"`` for what it does
    not tell."""
    attempt = parse_attempt_key(key or "")
    if attempt is not None:
        return attempt.dag_id, attempt.task_id, attempt.version_id
    return parse_manifest_key(key or "") or ("-", "-", "-")


def _young(modified: datetime | None, grace: timedelta, now: datetime) -> str:
    if modified is None:
        return "kept: the store does not say how old it is"
    age = max(timedelta(0), now - modified)
    return f"kept: {format_duration(age)} old, younger than the grace period {format_duration(grace)}"


def _attempts(store: Store, *, prefix: str, committed: set[str]) -> dict[str, list[ObjectInfo]]:
    """Attempt prefixes (``dag/task/version/attempt/``) that no manifest commits, with their files."""
    groups: dict[str, list[ObjectInfo]] = defaultdict(list)
    for info in store.list(prefix):
        attempt = parse_attempt_key(info.key)
        if attempt is None or not attempt.path:
            continue  # not a file a snapshot wrote
        if attempt.prefix not in committed:
            groups[attempt.prefix].append(info)
    return groups
