"""Did an input change since the previous run of the same task? And what to do about it.

Pure functions over records: the caller (an operator, the decorator) fetches the previous run's
records (from Airflow's asset state store, or XCom; see ``operators/_state.py``) and hands them in. "Changed" means the sha256 differs from the previous record of
the same source: the input URL, or for a file of an upstream step's version the DAG, task and path
(a version's URL is new every run). A source not seen before is new (``changed=None``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from airflow_datastores.errors import InputChanged, InvalidSpec
from airflow_datastores.inputs.resolve import SourceFile
from airflow_datastores.records import InputRecord

POLICIES = ("warn", "fail", "ignore")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeReport:
    """The outcome of comparing this run's inputs with the previous run's."""

    changed: list[InputRecord]
    new: list[InputRecord]
    removed: list[dict]
    previous_run_id: str | None

    @property
    def anything_changed(self) -> bool:
        return bool(self.changed or self.new or self.removed)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InvalidSpec(f"on_input_change={policy!r}: use one of {', '.join(POLICIES)}")
    return policy


def _key(record: Mapping | InputRecord) -> str:
    """What identifies "the same input file" across runs: its source (the URL, or the path inside an
    upstream step's versions, whose URLs change every run)."""
    if isinstance(record, Mapping):
        return record.get("source") or record["url"]
    return record.source or record.url


def _by_source(previous: Sequence[Mapping] | None) -> dict[str, Mapping]:
    return {_key(r): r for r in previous or () if isinstance(r, Mapping) and "url" in r}


def compare(records: Sequence[InputRecord], previous: Sequence[Mapping] | None) -> ChangeReport:
    """Fill ``changed``, ``previous_sha256`` and ``previous_run_id`` of ``records`` in place."""
    before = _by_source(previous)
    run_id = next((r.get("run_id") for r in before.values() if r.get("run_id")), None)
    changed, new = [], []
    for record in records:
        old = before.get(_key(record))
        if old is None:
            record.changed = None
            new.append(record)
            continue
        record.previous_sha256 = old.get("sha256")
        record.previous_run_id = old.get("run_id")
        record.changed = record.sha256 != record.previous_sha256
        if record.changed:
            changed.append(record)
    seen = {_key(r) for r in records}
    removed = [dict(r) for key, r in before.items() if key not in seen]
    return ChangeReport(changed=changed, new=new, removed=removed, previous_run_id=run_id)


def unchanged_by_identity(files: Iterable[SourceFile], previous: Sequence[Mapping] | None) -> bool:
    """True when every file has the same store identity and size as in the previous run, and the set
    of files is the same: the bytes are then the same without reading them."""
    before = _by_source(previous)
    files = list(files)
    if not before or len(files) != len(before):
        return False
    for f in files:
        old = before.get(f.source or f.url)
        if old is None or old.get("identity") != f.identity or old.get("size") != f.size:
            return False
    return True


def all_unchanged(report: ChangeReport, records: Sequence[InputRecord]) -> bool:
    """Every input is byte-identical to the previous run's (and there was a previous run)."""
    return bool(records) and not report.anything_changed and all(r.changed is False for r in records)


def apply_policy(report: ChangeReport, *, policy: str, logger: logging.Logger | None = None) -> None:
    """Log each changed input as a WARNING (``warn``), raise :class:`InputChanged` (``fail``), or
    say nothing (``ignore``)."""
    check_policy(policy)
    logger = logger or log
    if policy == "ignore" or not report.changed and not report.removed:
        return
    lines = [
        f"Input {r.name!r} changed since run {r.previous_run_id}: {r.source or r.url} "
        f"sha256 {r.previous_sha256} -> {r.sha256}"
        for r in report.changed
    ] + [
        f"Input {r.get('name')!r} is gone since run {r.get('run_id')}: {r.get('source') or r['url']} "
        f"(was sha256 {r.get('sha256')})"
        for r in report.removed
    ]
    if policy == "fail":
        raise InputChanged(
            "; ".join(lines) + ". The task's policy is on_input_change='fail'; review the data, then "
            "rerun with on_input_change='warn' to accept it"
        )
    for line in lines:
        logger.warning(line)
