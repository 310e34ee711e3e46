"""Where a task keeps its input records between runs, for change detection.

A step keeps them in the asset state store (AIP-103, Airflow 3.3) of its own
``datastore://<dag>/<task>`` outlet: state there survives ``airflow db clean`` of XCom and XCom
backends' retention, which Airflow's docs say not to rely on across runs. The stored value is small:
the records themselves while they fit the state store's value limit, else a pointer to the version's
manifest, which keeps the same records as provenance.

For a task without the asset (``StageInputsOperator``, or when the state store is not offered) the
records come from the XCom of the newest earlier successful run. That lookup first asks whether such
a run exists, so a first run does not make the SDK client log "XCom not found" as an ERROR.

This module is Airflow glue only; :mod:`airflow_datastores.inputs.changes` gets plain records from it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_datastores.config import airflow_conf
from airflow_datastores.operators.assets import datastore_asset
from airflow_datastores.records import XCOM_INPUTS

log = logging.getLogger(__name__)


STATE_FORMAT = 1
#: Leave headroom under Airflow's ``[state_store] max_value_storage_bytes`` default (65535).
STATE_MAX_BYTES = 60_000


def state_key(map_index: int | None) -> str:
    """The asset-state key of one task's records (mapped task instances keep one each)."""
    return "inputs" if map_index is None or map_index < 0 else f"inputs.map-{map_index}"


def _map_index(context: Mapping[str, Any]) -> int:
    index = getattr(context["ti"], "map_index", -1)
    return -1 if index is None else index


def asset_state(context: Mapping[str, Any]):
    """The state accessor of this task's ``datastore://<dag>/<task>`` asset, or None when Airflow has
    no asset state store (before 3.3) or the task does not have that asset as an outlet."""

    accessors = context.get("asset_state_store")
    if accessors is None:
        return None
    ti = context["ti"]
    try:
        return accessors[datastore_asset(ti.dag_id, ti.task_id)]
    except (KeyError, TypeError):
        return None


def state_value(records: Sequence[Mapping], *, run_id: str, version: Mapping | None,
                max_bytes: int = STATE_MAX_BYTES) -> dict:
    """The JSON kept in the asset state for the next run.

    :param records: this run's input records (plain dicts).
    :param run_id: this run's id, reported as the previous run by the next one.
    :param version: the record of the version this run committed (``Version.to_record()``), whose
        manifest holds the records too; None when nothing was committed.
    :param max_bytes: above this size only a pointer to the manifest is kept.
    """
    value: dict[str, Any] = {"format": STATE_FORMAT, "run_id": run_id, "records": list(records)}
    if version is not None:
        value["version"] = {k: version.get(k) for k in ("store", "version_id", "manifest_url")}
    if version is not None and len(json.dumps(value)) > max_bytes:
        value.pop("records")
    return value


def records_from_state(value: Any, *, dag_id: str, task_id: str, conn_id: str | None = None) -> list[dict] | None:
    """The records a :func:`state_value` stands for (read from the version's manifest when the state
    holds only the pointer); None when ``value`` is not such a value."""
    if not isinstance(value, Mapping) or value.get("format") != STATE_FORMAT:
        return None
    if isinstance(value.get("records"), list):
        return list(value["records"])
    pointer = value.get("version")
    if not isinstance(pointer, Mapping) or not pointer.get("store") or not pointer.get("version_id"):
        return None
    from airflow_datastores.stores.registry import get_store
    from airflow_datastores.versions import load_version

    version = load_version(get_store(pointer["store"], conn_id=conn_id), dag_id, task_id, pointer["version_id"])
    return list(version.inputs)


def previous_records(context: Mapping[str, Any], *, conn_id: str | None = None) -> list[dict] | None:
    """This task's input records from its newest earlier successful run, or None if there is none.

    :param context: the task's Airflow context.
    :param conn_id: connection of the store, when a large record set must be read from the manifest.
    """
    from airflow.sdk.exceptions import AirflowRuntimeError

    ti = context["ti"]
    state = asset_state(context)
    if state is not None:
        try:
            value = state.get(state_key(_map_index(context)))
        except AirflowRuntimeError as err:  # e.g. the asset is not active yet: XCom still answers
            log.warning("Could not read the asset state of %s (%s); using XCom", ti.task_id, err)
            value = None
        records = records_from_state(value, dag_id=ti.dag_id, task_id=ti.task_id, conn_id=conn_id)
        if records is not None:
            return records
    return _records_from_xcom(context)


def save_records(context: Mapping[str, Any], records: Sequence[Mapping], *, version: Mapping | None) -> bool:
    """Keep this run's records in the asset state for the next run; False when there is no such store.

    :param records: this run's input records (plain dicts).
    :param version: the record of the version this run committed, or None.
    """
    from airflow.sdk.exceptions import AirflowRuntimeError

    state = asset_state(context)
    if state is None:
        return False
    value = state_value(records, run_id=context["ti"].run_id, version=version, max_bytes=_max_state_bytes())
    try:
        state.set(state_key(_map_index(context)), value)
    except AirflowRuntimeError as err:  # the version is committed; the next run compares via XCom
        log.warning("Could not keep the input records in the asset state (%s); the next run uses XCom", err)
        return False
    return True


def _max_state_bytes() -> int:
    """Our limit, or Airflow's ``[state_store] max_value_storage_bytes`` when that is smaller."""
    try:
        limit = airflow_conf().getint("state_store", "max_value_storage_bytes", fallback=0)
    except (ImportError, ValueError):  # an Airflow without the setting, or a bad value
        limit = 0
    return min(STATE_MAX_BYTES, limit - 1024) if limit > 1024 else STATE_MAX_BYTES


def _records_from_xcom(context: Mapping[str, Any]) -> list[dict] | None:
    ti = context["ti"]
    map_index = _map_index(context)
    if not _had_successful_run(ti, map_index):
        return None
    value = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_INPUTS, include_prior_dates=True, map_indexes=map_index)
    if isinstance(value, list) and value and isinstance(value[0], list):  # several map indexes
        value = value[0]
    return value if isinstance(value, list) else None


def _had_successful_run(ti: Any, map_index: int) -> bool:
    """Whether an earlier run of this task succeeded (so its XCom can be asked for without the SDK
    logging a missing one as an error). True when Airflow cannot tell."""
    get_previous_ti = getattr(ti, "get_previous_ti", None)
    if get_previous_ti is None:
        return True
    try:
        return get_previous_ti(state="success", map_index=map_index) is not None
    except Exception:  # an older API server without the call: ask for the XCom as before
        log.debug("Could not look up the previous task instance", exc_info=True)
        return True
