"""Change detection across real DAG runs (dag.test): records in XCom, warn, fail, skip."""

from __future__ import annotations

import pytest

from airflow_datastores.operators import XCOM_INPUTS, XCOM_OUTPUTS

from .dagfiles import load_dag


def xcom(run, task_id: str, key: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id,
                                    XComModel.task_id == task_id, XComModel.key == key)
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def task_state(run, task_id: str) -> str:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(TaskInstance.state).where(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id,
            TaskInstance.task_id == task_id))


def step_dag(dag_id: str, data_dir, **step_kwargs):
    return load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            DatastoreStepOperator(
                task_id="step",
                inputs={{"table": "file://{data_dir}/table.csv", "notes": "file://{data_dir}/notes.txt"}},
                command='cat "$DATASTORE_INPUT_TABLE/table.csv" > "$DATASTORE_OUTPUTS/copy.csv"',
                **{step_kwargs!r},
            )
        """, dag_id)


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notes.txt").write_text("notes")
    return tmp_path


def test_three_runs_record_hashes_and_warn_about_the_change(airflow_db, data_dir, capfd):
    dag = step_dag("changes_warn", data_dir)
    runs = [dag.test()]
    runs.append(dag.test())
    (data_dir / "table.csv").write_text("a,b\n1,3\n")
    capfd.readouterr()
    runs.append(dag.test())
    out = capfd.readouterr().out

    records = [xcom(run, "step", XCOM_INPUTS) for run in runs]
    by_name = [{r["name"]: r for r in run_records} for run_records in records]
    assert [r["table"]["changed"] for r in by_name] == [None, False, True]
    assert [r["notes"]["changed"] for r in by_name] == [None, False, False]
    first, third = by_name[0]["table"], by_name[2]["table"]
    assert third["previous_sha256"] == first["sha256"] != third["sha256"]
    assert set(first) >= {"name", "url", "path", "size", "md5", "sha1", "sha256", "identity", "changed",
                          "previous_sha256"}
    assert (f"Input 'table' changed since run {runs[1].run_id}: file://{data_dir}/table.csv "
            f"sha256 {first['sha256']} -> {third['sha256']}") in out
    assert "Input 'notes' changed" not in out
    outputs = xcom(runs[2], "step", XCOM_OUTPUTS)
    assert outputs["files"][0]["path"] == "copy.csv" and outputs["version_id"]


def test_fail_policy_fails_the_task_and_commits_nothing(airflow_db, data_dir):
    dag = step_dag("changes_fail", data_dir, on_input_change="fail")
    assert task_state(dag.test(), "step") == "success"
    (data_dir / "notes.txt").write_text("edited")
    run = dag.test()
    assert task_state(run, "step") == "failed"
    assert xcom(run, "step", XCOM_OUTPUTS) is None


def test_skip_if_unchanged_skips_without_downloading(airflow_db, data_dir):
    dag = step_dag("changes_skip", data_dir, skip_if_unchanged=True)
    assert task_state(dag.test(), "step") == "success"
    assert task_state(dag.test(), "step") == "skipped"
    (data_dir / "notes.txt").write_text("edited")
    assert task_state(dag.test(), "step") == "success"


def test_stage_inputs_operator_hands_directory_and_records_downstream(airflow_db, data_dir):
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG, task
        from airflow_datastores.operators import StageInputsOperator

        with DAG(dag_id="stage_only", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            staged = StageInputsOperator(task_id="stage", inputs={{"table": "file://{data_dir}/*.csv"}})

            @task
            def use(staged):
                return open(staged["files"]["table"][0]).read()

            use(staged.output)
        """, "stage_only")
    run = dag.test()
    assert task_state(run, "stage") == task_state(run, "use") == "success"
    assert xcom(run, "use", "return_value") == "a,b\n1,2\n"
    records = xcom(run, "stage", XCOM_INPUTS)
    assert [r["name"] for r in records] == ["table"] and records[0]["changed"] is None
