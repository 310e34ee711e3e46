"""Execution metadata: what a step prints as JSON objects is kept with its version and in XCom, within
bounds (a step that prints many lines keeps at most MAX_POINTS, the last values exact), through a shell
command and a Python step (print or log_metadata), with no secret in it."""

from __future__ import annotations

import json

from airflow_datastores.execution_metadata import (
    MAX_LAST_BYTES,
    MAX_LINE_BYTES,
    MAX_SERIES_BYTES,
    MetadataCollector,
    numeric_series,
)
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom


def test_a_million_lines_keep_the_last_values_exactly_and_an_even_thinned_series():
    collector = MetadataCollector(max_points=1000)
    assert not collector.feed("epoch 1 done") and not collector.feed("[1, 2]") and not collector.feed("{oops}")
    for step in range(1, 1_000_001):
        collector.add({"step": step, "loss": 1 / step})
    summary = collector.summary()
    assert summary["count"] == 1_000_000 and summary["last"] == {"step": 1_000_000, "loss": 1e-06}
    seqs = [p["seq"] for p in summary["series"]]
    assert len(seqs) <= 1000 and seqs[0] == 1
    gaps = {b - a for a, b in zip(seqs, seqs[1:], strict=False)}
    assert gaps == {summary["stride"]}  # evenly spaced over the whole run
    assert seqs[-1] > 1_000_000 - summary["stride"]  # the newest are there too
    assert len(json.dumps(summary)) < 200_000  # about MAX_POINTS times a line
    assert not collector.feed('{"big": "' + "x" * MAX_LINE_BYTES + '"}')
    assert collector.summary()["lines_too_long"] == 1
    assert numeric_series(summary)["step"][:2] == [(1, 1), (1 + summary["stride"], 1 + summary["stride"])]


def test_a_commands_printed_metadata_is_bounded_in_xcom_and_the_manifest(airflow_db, tmp_path):
    dag = load_dag("""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        with DAG(dag_id="metadata_many_lines", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            DatastoreStepOperator(
                task_id="train",
                command=(
                    "for i in $(seq 1 30000); do echo \\"{\\\\\\"epoch\\\\\\": $i, \\\\\\"loss\\\\\\": 0.$i}\\"; done; "
                    "echo 'not metadata'; echo done > $DATASTORE_OUTPUTS/model.txt"
                ),
            )
        """, "metadata_many_lines")
    run = dag.test()
    assert task_state(run, "train") == "success"
    metadata = xcom(run, "train", "datastore_metadata")
    assert metadata["count"] == 30000 and metadata["last"] == {"epoch": 30000, "loss": 0.3}
    assert len(metadata["series"]) <= 1000 and metadata["series"][0]["values"] == {"epoch": 1, "loss": 0.1}
    record = xcom(run, "train", "datastore_outputs")
    version = load_version(get_store(), "metadata_many_lines", "train", record["version_id"])
    assert version.execution_metadata["last"] == metadata["last"]


def test_a_python_steps_prints_and_log_metadata_are_kept_without_secrets(airflow_db):
    dag = load_dag("""
        import json
        import pendulum
        from airflow.sdk import DAG, task
        from airflow.sdk.log import mask_secret
        from airflow_datastores import log_metadata

        with DAG(dag_id="metadata_python", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            @task.datastore
            def fit(outputs_dir):
                mask_secret("s3cr3t-token-value")
                print(json.dumps({"epoch": 1, "accuracy": 0.5}))
                log_metadata(epoch=2, accuracy=0.75, token="s3cr3t-token-value",
                             source="https://bob:pa55word@host/data.csv")
                (outputs_dir / "model.txt").write_text("m")

            fit()
        """, "metadata_python")
    run = dag.test()
    assert task_state(run, "fit") == "success"
    metadata = xcom(run, "fit", "datastore_metadata")
    assert metadata["count"] == 2 and metadata["last"]["epoch"] == 2 and metadata["last"]["accuracy"] == 0.75
    text = json.dumps(metadata)
    assert "s3cr3t-token-value" not in text and "pa55word" not in text
    assert metadata["last"]["source"] == "https://bob:***@host/data.csv"


def test_big_values_keep_the_summary_within_its_byte_budgets():
    collector = MetadataCollector(max_points=1000)
    line = "y" * (MAX_LINE_BYTES - 100)  # each line just under the line bound: 1,000 of them would be 16 MB
    for step in range(1, 2001):
        assert collector.feed(json.dumps({"step": step, "report": line}))
    summary = collector.summary()
    assert len(json.dumps(summary["series"])) <= MAX_SERIES_BYTES + 1000 * 80  # values, plus seq and time
    seqs = [p["seq"] for p in summary["series"]]
    assert seqs[0] == 1 and seqs[-1] > 2000 - summary["stride"] and len(seqs) < 1000
    assert {b - a for a, b in zip(seqs, seqs[1:], strict=False)} == {summary["stride"]}
    assert summary["last"] == {"step": 2000, "report": line}

    for key in range(100):  # distinct keys, each a big value: the last values stop at their budget
        collector.feed(json.dumps({f"k{key}": line}))
    summary = collector.summary()
    assert len(json.dumps(summary["last"])) <= MAX_LAST_BYTES and summary["keys_dropped"] > 0
    kept = [key for key in summary["last"] if key.startswith("k")]
    assert kept and all(summary["last"][key] == line for key in kept)
    collector.add({kept[0]: "z" * MAX_LAST_BYTES})  # a new value that cannot fit: the key goes, not left stale
    assert kept[0] not in collector.summary()["last"]
    assert len(json.dumps(collector.summary())) < 620 * 1024
