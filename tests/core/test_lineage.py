"""OpenLineage: staged inputs and committed outputs reported as datasets named per the naming spec, read
back from the events a real DAG run emits through the OpenLineage file transport."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_datastores.operators._lineage import TaskLineage, dataset_name, operator_lineage

from .dagfiles import load_dag


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://bucket/raw/a.csv", ("s3://bucket", "raw/a.csv")),
    ("s3://key:secret@bucket/raw/a.csv", ("s3://bucket", "raw/a.csv")),
    ("gs://bucket/dir/b%20c.csv", ("gs://bucket", "dir/b c.csv")),
    ("az://container/blob/x.bin", ("wasbs://container@acct", "blob/x.bin")),
    ("swift://container/obj/y.txt", ("swift://container", "obj/y.txt")),
    ("file:///data/store/d/t/v/try-1-ab/out.csv", ("file", "/data/store/d/t/v/try-1-ab/out.csv")),
    ("https://user:pw@example.org:8443/files/z.csv?sig=abc", ("https://example.org:8443", "/files/z.csv")),
])
def test_dataset_names_follow_the_openlineage_naming_spec(url, expected):
    assert dataset_name(url, azure_account=lambda: "acct") == expected


def test_azure_without_a_known_account_names_the_container():
    assert dataset_name("az://container/k") == ("wasbs://container", "k")


def test_operator_lineage_carries_sha256_and_version_as_dataset_versions():
    lineage = operator_lineage(TaskLineage(
        inputs=[("s3://b/in.csv", "f" * 64), ("s3://b/in.csv", "f" * 64), ("ftp://h/x", None)],
        outputs=[("file:///s/d/t/v1/try-1-0/out.csv", "v1")],
    ))
    assert [(d.namespace, d.name, d.facets["version"].datasetVersion) for d in lineage.inputs] == [
        ("s3://b", "in.csv", "f" * 64)]  # deduplicated; an unknown scheme is left out with a warning
    assert [(d.namespace, d.name, d.facets["version"].datasetVersion) for d in lineage.outputs] == [
        ("file", "/s/d/t/v1/try-1-0/out.csv", "v1")]
    assert operator_lineage(None).inputs == []


def test_a_dag_run_emits_inputs_and_outputs_through_the_file_transport(airflow_db, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n1,2\n")
    events_file = tmp_path / "events.jsonl"
    load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator, StageInputsOperator

        with DAG(dag_id="lineage_run", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as d:
            StageInputsOperator(task_id="stage", inputs={{"table": "file://{data}/table.csv"}})
            DatastoreStepOperator(
                task_id="step", inputs={{"table": "file://{data}/table.csv"}},
                command='cp "$DATASTORE_INPUT_TABLE/table.csv" "$DATASTORE_OUTPUTS/copy.csv"',
            )
        """, "lineage_run")
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
    }
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "dags", "test", "lineage_run"], env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert events_file.exists(), "no OpenLineage event was written:\n" + result.stdout[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"]: e for e in events if e.get("eventType") == "COMPLETE" and "." in e["job"]["name"]}
    step, stage = complete["lineage_run.step"], complete["lineage_run.stage"]
    source = ("file", f"{data}/table.csv")
    assert [(d["namespace"], d["name"]) for d in stage["inputs"]] == [source] and stage["outputs"] == []
    assert [(d["namespace"], d["name"]) for d in step["inputs"]] == [source]
    [output] = step["outputs"]
    assert output["namespace"] == "file" and output["name"].endswith("/copy.csv")
    assert os.path.isfile(output["name"])  # the committed file, in the local store
    assert "/lineage_run/step/" in output["name"]
    assert len(step["inputs"][0]["facets"]["version"]["datasetVersion"]) == 64  # the input's sha256
