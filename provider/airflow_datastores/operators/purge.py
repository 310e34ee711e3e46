"""PurgeVersionsOperator: scheduled retention of versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from airflow_datastores.errors import DataStoreError
from airflow_datastores.operators._failures import fail_without_retry
from airflow_datastores.stores.registry import get_store
from airflow_datastores.units import human_size, parse_duration, plural
from airflow_datastores.versions.retention import PurgeRule, purge


class PurgeVersionsOperator(BaseOperator):
    """Delete versions by rule, and what unfinished writes left behind (uncommitted attempt files,
    incomplete multipart uploads, Swift segments, Azure uncommitted blocks, local temp files) once it
    is older than a grace period.

    :param store: store name or URL; default: ``[datastores] default_store``. (templated)
    :param dag_id: only this DAG's versions (default: all). (templated)
    :param task_id_filter: only this task's versions (needs ``dag_id``). (templated)
    :param keep_last: keep the newest N versions of each task.
    :param older_than: purge versions older than this (``timedelta`` or ``"30d"``, ``"12h"``).
    :param version_ids: purge exactly these versions. Version ids come from run ids, so an id that
        matches several tasks needs ``dag_id_filter`` or ``all_tasks``.
    :param all_tasks: let ``version_ids`` purge those versions in every task that has them.
    :param orphans_older_than: grace period for uncommitted attempt files and leftovers of unfinished
        writes (default 24 hours; ``None`` keeps them).
    :param dry_run: only log what would go.
    :param conn_id: Airflow connection for the store.
    """

    template_fields: Sequence[str] = ("store", "dag_id_filter", "task_id_filter")
    ui_color = "#fbe9e7"

    def __init__(
        self,
        *,
        store: str | None = None,
        dag_id_filter: str | None = None,
        task_id_filter: str | None = None,
        keep_last: int | None = None,
        older_than: timedelta | str | None = None,
        version_ids: Sequence[str] = (),
        all_tasks: bool = False,
        orphans_older_than: timedelta | str | None = timedelta(hours=24),
        dry_run: bool = False,
        conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.dag_id_filter = dag_id_filter
        self.task_id_filter = task_id_filter
        self.rule = PurgeRule(
            keep_last=keep_last,
            older_than=parse_duration(older_than) if isinstance(older_than, str) else older_than,
            version_ids=tuple(version_ids),
            orphans_older_than=parse_duration(orphans_older_than)
            if isinstance(orphans_older_than, str) else orphans_older_than,
        )
        self.all_tasks = all_tasks
        self.dry_run = dry_run
        self.conn_id = conn_id

    @fail_without_retry
    def execute(self, context) -> dict:
        result = purge(
            get_store(self.store, conn_id=self.conn_id),
            rule=self.rule,
            dag_id=self.dag_id_filter,
            task_id=self.task_id_filter,
            all_tasks=self.all_tasks,
            dry_run=self.dry_run,
            logger=self.log,
        )
        verb = "Would purge" if self.dry_run else "Purged"
        done = result.items if self.dry_run else result.removed
        for item in done:
            self.log.info("%s %s %s.%s %s: %s, %s (%s) %s", verb, item.kind, item.dag_id, item.task_id,
                          item.version_id, plural(item.files, "file"), human_size(item.bytes), item.reason, item.url)
        for item in result.kept:
            self.log.info("Kept %s %s: %s (%s)", item.kind, item.url, human_size(item.bytes), item.reason)
        self.log.info("%s %s, %s in all", verb, plural(len(done), "item"), human_size(sum(i.bytes for i in done)))
        if result.failed:
            raise DataStoreError(f"{plural(len(result.failed), 'item')} could not be removed: "
                                 + "; ".join(f"{i.url}: {i.error}" for i in result.failed))
        return {"dry_run": self.dry_run, "items": len(done), "bytes": sum(i.bytes for i in done),
                "kept": len(result.kept)}
