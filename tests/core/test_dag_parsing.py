"""Parsing a DAG file, as Airflow's DAG processor does: mistakes in a Python DAG's steps fail the
import naming the task (as YAML pipelines do), and parsing a DAG of local inputs imports no cloud SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

HEADER = """
import pendulum
from airflow.sdk import dag, task
from airflow_datastores import DatastoreStepOperator, StageInputsOperator, outputs_of

@dag(dag_id="parsed", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def parsed():
"""


def parse(folder, body: str) -> dict[str, str]:
    """Import errors of a DAG file whose ``parsed()`` DAG has ``body``, as Airflow's DagBag reports them."""
    from airflow.dag_processing.dagbag import DagBag

    path = folder / "parsed_dag.py"
    path.write_text(textwrap.dedent(HEADER) + textwrap.indent(textwrap.dedent(body), "    ") + "\nparsed()\n")
    bag = DagBag(dag_folder=str(path))
    return {os.path.basename(k): v for k, v in bag.import_errors.items()} | (
        {} if bag.import_errors else {"dag_ids": ",".join(bag.dag_ids)})


MISTAKES = {
    "unknown key in an input": (
        'DatastoreStepOperator(task_id="clean", command="true", inputs={"raw": {"url": "file:///d/a", "opt": 1}})',
        ["Task 'clean'", "unknown keys ['opt']"]),
    "a URL without a known scheme": (
        'DatastoreStepOperator(task_id="clean", command="true", inputs={"raw": "ftp://host/a.csv"})',
        ["Task 'clean'", "'ftp://host/a.csv' is not a store URL"]),
    "a local path without three slashes": (
        'StageInputsOperator(task_id="fetch", inputs={"raw": "file://data/a.csv"})',
        ["Task 'fetch'", "file:///absolute/path"]),
    "an unknown change policy": (
        'DatastoreStepOperator(task_id="clean", command="true", inputs={}, on_input_change="shout")',
        ["Task 'clean'", "on_input_change='shout'", "warn, fail, ignore"]),
    "a malformed reference": (
        'StageInputsOperator(task_id="fetch", inputs={"m": "datastore://only-a-dag"})',
        ["Task 'fetch'", "is not a version reference"]),
    "a store URL without a bucket": (
        'DatastoreStepOperator(task_id="clean", command="true", store="s3://")',
        ["Task 'clean'", "names no bucket"]),
    "a TaskFlow step with a bad input": (
        '@task.datastore(inputs={"raw": ["s3://b/a.csv", 7]})\ndef clean(raw, outputs_dir): ...\nclean()',
        ["Task 'clean'", "7 is not a URL string"]),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_mistake_in_a_python_dag_fails_its_import_naming_the_task(mistake, tmp_path, airflow_db):
    body, words = MISTAKES[mistake]
    errors = parse(tmp_path, body)
    assert list(errors) == ["parsed_dag.py"], errors
    for word in words:
        assert word in errors["parsed_dag.py"]


def test_what_is_known_only_at_run_time_is_left_to_the_run(tmp_path, airflow_db):
    errors = parse(tmp_path, """
        prepare = DatastoreStepOperator(task_id="prepare", command="true",
                                        inputs={"raw": "s3://bucket/{{ params.day }}/*.csv"},
                                        store="{{ params.store }}")
        DatastoreStepOperator(task_id="train", command="true",
                              inputs={"features": outputs_of(prepare, "*.csv"), "extra": "{{ params.url }}"})
    """)
    assert errors == {"dag_ids": "parsed"}


CLOUD_MODULES = ("boto3", "botocore", "google.cloud.storage", "azure.storage.blob", "swiftclient",
                 "airflow.providers.amazon.aws.hooks", "airflow.providers.google.cloud.hooks",
                 "airflow.providers.microsoft.azure.hooks")


def test_parsing_a_dag_of_local_inputs_imports_no_cloud_sdk(tmp_path, airflow_db):
    (tmp_path / "local_dag.py").write_text(textwrap.dedent("""
        import pendulum
        from airflow.sdk import dag, task
        from airflow_datastores import DatastoreStepOperator

        @dag(dag_id="local", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
        def local():
            @task.datastore(inputs={"raw": "file:///data/raw/*.csv"})
            def clean(raw, outputs_dir): ...

            DatastoreStepOperator(task_id="train", command="true", inputs={"features": clean()})

        local()
    """))
    script = textwrap.dedent(f"""
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(tmp_path / "local_dag.py")!r})
        assert not bag.import_errors and bag.dag_ids == ["local"], (bag.import_errors, bag.dag_ids)
    """)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "airflow_datastores.operators.step" in imported  # the measurement saw our imports
    assert sorted(m for m in imported if m.startswith(CLOUD_MODULES)) == []
