"""Cross-run state of change detection: Airflow's asset state store, no ERROR on a first run, and
``changed`` still right after XCom was cleaned (real ``dag.test()`` runs)."""

from __future__ import annotations

import json
import re

import pytest

from airflow_datastores.operators import XCOM_INPUTS
from airflow_datastores.operators._state import STATE_FORMAT, records_from_state, state_key, state_value

from .dagfiles import load_dag
from .test_dag_runs import step_dag, task_state, xcom

ERROR_LINE = re.compile(r"\[error\s*\]|\bERROR\b|\[critical", re.IGNORECASE)


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notes.txt").write_text("notes")
    return tmp_path


def asset_state(dag_id: str, task_id: str, key: str):
    from airflow.models.asset import AssetModel
    from airflow.models.asset_state_store import AssetStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_datastores.operators.assets import datastore_asset

    uri = datastore_asset(dag_id, task_id).uri
    with create_session() as session:
        row = session.scalars(
            select(AssetStateStoreModel).join(AssetModel, AssetModel.id == AssetStateStoreModel.asset_id)
            .where(AssetModel.uri == uri, AssetStateStoreModel.key == key)
        ).first()
        if row is None:
            return None
        return json.loads(row.value) if isinstance(row.value, str) else row.value


def delete_xcom(dag_id: str, key: str) -> int:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        return session.execute(delete(XComModel).where(XComModel.dag_id == dag_id, XComModel.key == key)).rowcount


def changed(run, name: str):
    return {r["name"]: r for r in xcom(run, "step", XCOM_INPUTS)}[name]["changed"]


def test_first_run_logs_no_error_and_changes_are_detected(airflow_db, data_dir, capfd):
    dag = step_dag("state_first_run", data_dir)
    capfd.readouterr()
    first = dag.test()
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert task_state(first, "step") == "success"
    assert "Staged 2 files" in log  # the task's log is what was captured
    assert "XCom not found" not in log
    assert [line for line in log.splitlines() if ERROR_LINE.search(line)] == []
    second = dag.test()
    (data_dir / "table.csv").write_text("a,b\n1,3\n")
    third = dag.test()
    assert [changed(run, "table") for run in (first, second, third)] == [None, False, True]
    assert [changed(run, "notes") for run in (first, second, third)] == [None, False, False]


def test_records_are_kept_in_the_asset_state_store(airflow_db, data_dir):
    dag = step_dag("state_kept", data_dir)
    run = dag.test()
    value = asset_state("state_kept", "step", state_key(-1))
    assert value["format"] == STATE_FORMAT and value["run_id"] == run.run_id
    assert sorted(r["name"] for r in value["records"]) == ["notes", "table"]
    assert value["version"]["manifest_url"] and value["version"]["version_id"]


def test_changed_is_right_after_xcom_was_cleaned(airflow_db, data_dir):
    dag = step_dag("state_after_clean", data_dir)
    first = dag.test()
    assert changed(first, "table") is None
    assert delete_xcom("state_after_clean", XCOM_INPUTS) >= 1  # what `airflow db clean` of XCom does
    second = dag.test()
    assert changed(second, "table") is False
    (data_dir / "table.csv").write_text("a,b\n9,9\n")
    assert delete_xcom("state_after_clean", XCOM_INPUTS) >= 1
    third = dag.test()
    assert changed(third, "table") is True
    third_table = {r["name"]: r for r in xcom(third, "step", XCOM_INPUTS)}["table"]
    assert third_table["previous_run_id"] == second.run_id


def test_large_record_sets_keep_only_a_pointer_to_the_manifest(airflow_db, data_dir):
    """Above the state store's value limit the state points at the version's manifest, whose inputs
    are the same records."""
    dag = step_dag("state_pointer", data_dir)
    dag.test()
    kept = asset_state("state_pointer", "step", state_key(-1))
    pointer = state_value(kept["records"], run_id=kept["run_id"], version=kept["version"], max_bytes=10)
    assert "records" not in pointer and pointer["version"] == kept["version"]
    from_manifest = records_from_state(pointer, dag_id="state_pointer", task_id="step")
    assert sorted(r["sha256"] for r in from_manifest) == sorted(r["sha256"] for r in kept["records"])


def test_stage_inputs_operator_first_run_logs_no_error(airflow_db, data_dir, capfd):
    """StageInputsOperator has no asset; its XCom lookup asks first whether a run succeeded before."""
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import StageInputsOperator

        with DAG(dag_id="state_stage_only", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as d:
            StageInputsOperator(task_id="stage", inputs={{"table": "file://{data_dir}/table.csv"}})
        """, "state_stage_only")
    capfd.readouterr()
    first = dag.test()
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "Staged 1 file" in log
    assert [line for line in log.splitlines() if ERROR_LINE.search(line)] == []
    (data_dir / "table.csv").write_text("a,b\n5,5\n")
    second = dag.test()
    assert [xcom(run, "stage", XCOM_INPUTS)[0]["changed"] for run in (first, second)] == [None, True]
