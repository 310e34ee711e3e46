"""A task's inputs staged for it: resolved, downloaded (or taken from the cache), compared with its previous
run under the change policy, and their records made plain JSON for XCom and the manifest."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_datastores import config
from airflow_datastores.errors import SkipUnchanged
from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.changes import all_unchanged, apply_policy, compare, unchanged_by_identity
from airflow_datastores.inputs.resolve import resolve_inputs
from airflow_datastores.inputs.spec import parse_inputs
from airflow_datastores.inputs.stage import StagingResult, stage_files
from airflow_datastores.operators._state import previous_records
from airflow_datastores.records import XCOM_INPUTS, InputRecord
from airflow_datastores.units import plural


def stage_for_task(
    context: Mapping[str, Any],
    *,
    inputs: Mapping | Sequence | None,
    inputs_dir: str,
    on_input_change: str,
    skip_if_unchanged: bool,
    logger: logging.Logger,
    conn_id: str | None = None,
) -> StagingResult:
    """Stage a task's inputs, compare them with its previous run, and apply the change policy.

    The previous run's records come from :func:`~airflow_datastores.operators._state.previous_records`
    (the asset state store, else XCom); ``conn_id`` is the store's connection, used when they must be
    read from the previous version's manifest.

    :raises SkipUnchanged: ``skip_if_unchanged`` and nothing changed (decided from store metadata
        alone when every identity matches, so nothing is downloaded).
    :raises airflow_datastores.errors.InputChanged: ``on_input_change="fail"`` and an input changed.
    """
    ti = context["ti"]
    files = resolve_inputs(parse_inputs(inputs))
    previous = previous_records(context, conn_id=conn_id)
    if skip_if_unchanged and unchanged_by_identity(files, previous):
        raise SkipUnchanged(
            f"Skipping: {_every(len(files))} unchanged since run "
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
            f"Skipping: {_every(len(result.records))} byte-identical to run "
            f"{report.previous_run_id} (same sha256)"
        )
    apply_policy(report, policy=on_input_change, logger=logger)
    logger.info(
        "Staged %s into %s: %d downloaded, %d from the cache",
        plural(len(result.records), "file"), inputs_dir, result.files_downloaded, result.files_cached,
    )
    return result


def _every(count: int) -> str:
    """``the input file is`` / ``all 3 input files are``."""
    return "the input file is" if count == 1 else f"all {count} input files are"


def record_dicts(records: Sequence[InputRecord], *, inputs_dir: str) -> list[dict]:
    """The records as plain JSON, each ``path`` relative to the inputs directory (``table/a.csv``).

    The inputs directory belongs to one task attempt and a step removes it when it ends, so an
    absolute path would name a file that is gone; relative to wherever the inputs are staged, the
    path stays true (it is also the file's place under ``DATASTORE_INPUTS`` in the next run).
    """
    values = []
    for record in records:
        value = record.to_dict()
        value["path"] = _relative(record.path, inputs_dir)
        values.append(value)
    return values


def _relative(path: str, inputs_dir: str) -> str:
    if not path or not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, inputs_dir)
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")


def push_inputs(context: Mapping[str, Any], records: Sequence[Mapping]) -> list[dict]:
    """Push the records (from :func:`record_dicts`) to XCom as ``datastore_inputs``."""
    value = [dict(r) for r in records]
    context["ti"].xcom_push(key=XCOM_INPUTS, value=value)
    return value
