"""A step that writes nothing commits nothing (real DAG runs): its log and XCom record say so, `latest`
still names the last version with files, a step fed by it fails naming it (or stages nothing when the
input is optional), and commit_empty=True (or a YAML step's commit-empty) keeps a marker version."""

from __future__ import annotations

import os
import textwrap

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import latest_version, list_versions

from .dagfiles import dags_folder, load_dag
from .test_dag_runs import task_state, xcom

DAG = """
    import pendulum
    from airflow.sdk import DAG
    from airflow_datastores.operators import DatastoreStepOperator, outputs_of

    with DAG(dag_id="empty_outputs", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        use = DatastoreStepOperator(task_id="use",
            command='if [ "{{ dag_run.conf.get(\\'write\\', 1) }}" = "1" ]; then echo x > "$DATASTORE_OUTPUTS/a.txt"; fi')
        DatastoreStepOperator(task_id="must_read", inputs={"a": outputs_of(use)},
            command='ls "$DATASTORE_INPUT_A" > "$DATASTORE_OUTPUTS/seen.txt"')
        DatastoreStepOperator(task_id="may_read", inputs={"a": {**outputs_of(use), "optional": True}},
            command='echo ok > "$DATASTORE_OUTPUTS/ok.txt"')
        DatastoreStepOperator(task_id="latest", inputs={"a": "datastore://empty_outputs/use/latest"},
            command='cat "$DATASTORE_INPUT_A/a.txt" > "$DATASTORE_OUTPUTS/latest.txt"')
        DatastoreStepOperator(task_id="marker", commit_empty=True, command="true")
"""


def test_a_step_that_writes_nothing_commits_nothing(airflow_db, capfd):
    dag = load_dag(DAG, "empty_outputs")
    first = dag.test(run_conf={"write": 1})
    assert task_state(first, "use") == "success" and task_state(first, "must_read") == "success"
    store = get_store()
    with_files = xcom(first, "use", "datastore_outputs")["version_id"]
    capfd.readouterr()
    second = dag.test(run_conf={"write": 0})
    out = capfd.readouterr()
    assert task_state(second, "use") == "success"
    assert xcom(second, "use", "datastore_outputs") == {
        "committed": False, "why": "no outputs", "version_id": None, "dag_id": "empty_outputs", "task_id": "use",
        "run_id": second.run_id, "files": []}
    assert "No outputs: no version committed" in out.out + out.err
    assert [v.version_id for v in list_versions(store, dag_id="empty_outputs", task_id="use")] == [with_files]
    assert latest_version(store, "empty_outputs", "use").version_id == with_files
    assert task_state(second, "must_read") == "failed"
    assert "the upstream step empty_outputs.use wrote no outputs in this run" in out.out + out.err
    assert task_state(second, "may_read") == "success"
    assert task_state(second, "latest") == "success"  # `latest` is the last version with files
    assert xcom(second, "latest", "datastore_inputs")[0]["version_id"] == with_files
    marker = xcom(second, "marker", "datastore_outputs")
    assert marker["version_id"] and marker["files"] == []  # commit_empty keeps today's marker


def test_a_yaml_steps_commit_empty_keeps_a_marker(airflow_db):
    folder = os.path.join(dags_folder(), "empty_yaml")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "valohai.yaml"), "w") as handle:
        handle.write(textwrap.dedent("""\
            - step:
                name: mark
                command: "true"
                commit-empty: true
            - step:
                name: skip
                command: "true"
            """))
    import sys

    load_dag('from airflow_datastores import load_pipelines\n'
             'dags = load_pipelines("empty_yaml/valohai.yaml", namespace=globals())\n', "mark", name="empty_yaml_dags")
    dags = sys.modules["empty_yaml_dags"].dags  # one DAG file for both DAGs: an id is defined once
    mark, skip = dags["mark"].test(), dags["skip"].test()
    assert xcom(mark, "mark", "datastore_outputs")["files"] == []
    assert xcom(skip, "skip", "datastore_outputs")["committed"] is False
