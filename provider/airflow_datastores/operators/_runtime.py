"""The Airflow glue shared by the operators, the decorator and YAML steps.

It turns a task's context into plain arguments for the core modules (staging, changes, versioning)
and moves records through XCom. Tasks use the Task SDK only: they never touch the metadata database.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_datastores import config
from airflow_datastores.cache import InputCache
from airflow_datastores.changes import all_unchanged, apply_policy, compare, unchanged_by_identity
from airflow_datastores.staging import InputRecord, StagingResult, parse_inputs, resolve_inputs, stage_files
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versioning import Producer, Version, slug, snapshot

XCOM_INPUTS = "datastore_inputs"
XCOM_OUTPUTS = "datastore_outputs"


@dataclass(frozen=True)
class TaskDirs:
    """The local directories of one task attempt."""

    base: str
    inputs: str
    outputs: str

    def create(self) -> TaskDirs:
        os.makedirs(self.inputs, exist_ok=True)
        os.makedirs(self.outputs, exist_ok=True)
        return self

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def task_dirs(context: Mapping[str, Any]) -> TaskDirs:
    """Inputs and outputs directories unique to this task attempt, under ``[datastores] work_dir``."""
    ti = context["ti"]
    parts = [ti.dag_id, ti.task_id, slug(ti.run_id)]
    if getattr(ti, "map_index", -1) >= 0:
        parts.append(f"map-{ti.map_index}")
    parts.append(f"try-{ti.try_number}")
    base = os.path.join(config.work_dir(), *parts)
    return TaskDirs(base=base, inputs=os.path.join(base, "inputs"), outputs=os.path.join(base, "outputs"))


def producer(context: Mapping[str, Any]) -> Producer:
    ti = context["ti"]
    logical_date = context.get("logical_date")
    return Producer(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=getattr(ti, "map_index", -1),
        try_number=ti.try_number,
        logical_date=logical_date.isoformat() if logical_date else None,
    )


def previous_records(context: Mapping[str, Any]) -> list[dict] | None:
    """This task's input records from its newest earlier successful run (pulled before pushing)."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    value = ti.xcom_pull(
        task_ids=ti.task_id, key=XCOM_INPUTS, include_prior_dates=True,
        map_indexes=map_index if map_index is not None else -1,
    )
    if isinstance(value, list) and value and isinstance(value[0], list):  # several map indexes
        value = value[0]
    return value if isinstance(value, list) else None


class SkipUnchanged(Exception):
    """Every input is byte-identical to the previous run's; the caller raises AirflowSkipException."""


def stage_for_task(
    context: Mapping[str, Any],
    *,
    inputs: Mapping | Sequence | None,
    inputs_dir: str,
    on_input_change: str,
    skip_if_unchanged: bool,
    logger: logging.Logger,
) -> StagingResult:
    """Stage a task's inputs, compare them with its previous run, and apply the change policy.

    :raises SkipUnchanged: ``skip_if_unchanged`` and nothing changed (decided from store metadata
        alone when every identity matches, so nothing is downloaded).
    :raises airflow_datastores.changes.InputChanged: ``on_input_change="fail"`` and an input changed.
    """
    ti = context["ti"]
    files = resolve_inputs(parse_inputs(inputs))
    previous = previous_records(context)
    if skip_if_unchanged and unchanged_by_identity(files, previous):
        raise SkipUnchanged(
            f"Skipping: all {len(files)} input files are unchanged since run "
            f"{previous[0].get('run_id')} (same store identity and size, nothing downloaded)"
        )
    result = stage_files(
        files,
        inputs_dir=inputs_dir,
        cache=InputCache(directory=config.cache_dir(), max_bytes=config.cache_max_bytes()),
        max_concurrency=config.max_concurrency(),
        logger=logger,
    )
    for record in result.records:
        record.run_id = ti.run_id
    report = compare(result.records, previous)
    if skip_if_unchanged and all_unchanged(report, result.records):
        raise SkipUnchanged(
            f"Skipping: all {len(result.records)} input files are byte-identical to run "
            f"{report.previous_run_id} (same sha256)"
        )
    apply_policy(report, policy=on_input_change, logger=logger)
    logger.info(
        "Staged %d files into %s: %d downloaded, %d from the cache",
        len(result.records), inputs_dir, result.files_downloaded, result.files_cached,
    )
    return result


def push_inputs(context: Mapping[str, Any], records: Sequence[InputRecord]) -> list[dict]:
    value = [r.to_dict() for r in records]
    context["ti"].xcom_push(key=XCOM_INPUTS, value=value)
    return value


def commit_for_task(
    context: Mapping[str, Any],
    *,
    outputs_dir: str,
    store: str | None,
    conn_id: str | None,
    inputs: Sequence[InputRecord] = (),
    logger: logging.Logger,
) -> Version:
    """Snapshot ``outputs_dir`` as this task run's version, push its record, and announce the asset."""
    version = snapshot(
        outputs_dir,
        store=get_store(store, conn_id=conn_id),
        producer=producer(context),
        inputs=[r.to_dict() for r in inputs],
        max_concurrency=config.max_concurrency(),
        logger=logger,
    )
    record = version.to_record()
    context["ti"].xcom_push(key=XCOM_OUTPUTS, value=record)
    _announce(context, version)
    return version


def datastore_asset(dag_id: str, task_id: str):
    """The Airflow asset a step's versions are published as (one per DAG and task)."""
    from airflow.sdk import Asset

    return Asset(uri=f"datastore://{dag_id}/{task_id}", name=f"datastore://{dag_id}/{task_id}")


def _announce(context: Mapping[str, Any], version: Version) -> None:
    """Put the version into the outlet event of the task's asset, for asset-scheduled DAGs."""
    events = context.get("outlet_events")
    if events is None:
        return
    asset = datastore_asset(version.dag_id, version.task_id)
    task = context.get("task")
    if task is None or not any(getattr(o, "uri", None) == asset.uri for o in getattr(task, "outlets", ())):
        return
    events[asset].extra = {
        "version_id": version.version_id,
        "manifest_url": version.manifest_url,
        "reference": version.reference(),
        "files": len(version.files),
        "bytes": version.total_size,
    }


def outputs_of(task: Any, path: str = "") -> dict:
    """An input that stages exactly the version ``task`` commits in the same DAG run.

    :param task: the upstream step: an operator, or what calling a ``@task.datastore`` function
        returned.
    :param path: a file or wildcard inside the version (default: all of it).

    Passing it as an input also makes ``task`` an upstream of the consuming step.
    """
    from airflow.sdk import XComArg

    operator = getattr(task, "operator", task)
    return {"version": XComArg(operator, key=XCOM_OUTPUTS), "path": path}
