"""Steps in real DAG runs: a command, a callable, @task.datastore, step-to-step wiring, a failing
step, and a bind mount seen by a command and by a Python step."""

from __future__ import annotations

import pytest

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import list_versions, load_version

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom


@pytest.fixture
def raw(tmp_path):
    directory = tmp_path / "raw"
    directory.mkdir()
    (directory / "a.csv").write_text("x\n1\n2\n")
    (directory / "b.csv").write_text("x\n3\n")
    return directory


def versions_of(dag_id: str, task_id: str):
    store = get_store()
    return [load_version(store, v.dag_id, v.task_id, v.version_id)
            for v in list_versions(store, dag_id=dag_id, task_id=task_id)]


def test_taskflow_steps_wire_versions_and_return_values(airflow_db, raw):
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import dag, task

        @dag(dag_id="steps_taskflow", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
        def steps():
            @task.datastore(inputs={{"raw": "file://{raw}/*.csv"}})
            def count(raw, outputs_dir):
                rows = sum(len(p.read_text().splitlines()) - 1 for p in raw.glob("*.csv"))
                (outputs_dir / "count.json").write_text('{{"rows": %d}}' % rows)
                (outputs_dir / "notes.txt").write_text("not for train")
                return rows

            @task.datastore
            def train(counted, outputs_dir, inputs_dir):
                seen = sorted(p.name for p in counted.iterdir())
                (outputs_dir / "seen.txt").write_text(",".join(seen))
                return seen

            train(counted=count())
        the_dag = steps()
        """, "steps_taskflow")
    run = dag.test()
    assert task_state(run, "count") == task_state(run, "train") == "success"
    assert xcom(run, "count", "return_value") == 3
    assert xcom(run, "train", "return_value") == ["count.json", "notes.txt"]
    count_version = xcom(run, "count", "datastore_outputs")
    train_inputs = xcom(run, "train", "datastore_inputs")
    assert {r["sha256"] for r in train_inputs} == {f["sha256"] for f in count_version["files"]}
    assert all(count_version["version_id"] in r["url"] for r in train_inputs)
    train_version = xcom(run, "train", "datastore_outputs")
    assert train_version["version_id"] == count_version["version_id"]  # one version id per run
    assert train_version["version_id"] in [v.version_id for v in versions_of("steps_taskflow", "train")]


def test_command_step_with_wildcard_from_upstream_and_failing_step(airflow_db, raw):
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator, outputs_of

        with DAG(dag_id="steps_classic", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            merge = DatastoreStepOperator(
                task_id="merge", inputs={{"raw": "file://{raw}/*.csv"}},
                command=["cat $DATASTORE_INPUT_RAW/*.csv > {{{{ outputs_dir }}}}/all.csv", "echo done > $DATASTORE_OUTPUTS/log.txt"])
            DatastoreStepOperator(
                task_id="count", inputs={{"merged": outputs_of(merge, "*.csv")}},
                command='ls $DATASTORE_INPUT_MERGED > $DATASTORE_OUTPUTS/listing.txt')
            DatastoreStepOperator(
                task_id="broken", inputs={{"merged": outputs_of(merge)}},
                command=["echo partial > $DATASTORE_OUTPUTS/partial.txt", "echo about to fail", "exit 3"])
        """, "steps_classic")
    run = dag.test()
    assert task_state(run, "merge") == task_state(run, "count") == "success"
    listing = versions_of("steps_classic", "count")[-1]
    store = get_store()
    assert store.read_bytes(listing.files[0].key) == b"all.csv\n"  # the wildcard picked one file
    merged = versions_of("steps_classic", "merge")[-1]
    assert {f.path for f in merged.files} == {"all.csv", "log.txt"}
    assert task_state(run, "broken") == "failed"
    assert versions_of("steps_classic", "broken") == []  # a failing step commits nothing
    assert not any(i.key.startswith("steps_classic/broken/") for i in store.list("steps_classic/"))


def test_bind_mount_seen_by_command_and_python_step(airflow_db, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "big-dataset.txt").write_text("mounted bytes")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG, task
        from airflow_datastores.operators import DatastoreStepOperator

        MOUNTS = [{{"source": "{share}", "destination": "/mnt/datastores-test", "type": "bind", "readonly": True}}]
        with DAG(dag_id="steps_mounts", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(
                task_id="command", mounts=MOUNTS,
                command=["wc -c < /mnt/datastores-test/big-dataset.txt > $DATASTORE_OUTPUTS/size.txt",
                         "touch /mnt/datastores-test/x 2>/dev/null && echo writable > $DATASTORE_OUTPUTS/ro.txt || echo read-only > $DATASTORE_OUTPUTS/ro.txt"])

            @task.datastore(mounts=MOUNTS)
            def python_step(outputs_dir):
                import pathlib
                text = pathlib.Path("/mnt/datastores-test/big-dataset.txt").read_text()
                (outputs_dir / "derived.txt").write_text(text.upper())
                return text

            python_step()
        """, "steps_mounts")
    run = dag.test()
    assert task_state(run, "command") == task_state(run, "python_step") == "success"
    store = get_store()
    files = {f.path: store.read_bytes(f.key) for f in versions_of("steps_mounts", "command")[-1].files}
    assert files == {"size.txt": b"13\n", "ro.txt": b"read-only\n"}
    derived = versions_of("steps_mounts", "python_step")[-1].files[0]
    assert store.read_bytes(derived.key) == b"MOUNTED BYTES"
    assert xcom(run, "python_step", "return_value") == "mounted bytes"
    with open("/proc/self/mounts") as handle:
        assert "/mnt/datastores-test" not in handle.read()  # never visible outside the task


def test_input_records_name_paths_relative_to_the_inputs_dir_and_the_run_leaves_no_directories(airflow_db, raw):
    import json
    import os

    from airflow_datastores import config

    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        def list_inputs(inputs_dir, outputs_dir):
            found = sorted(str(p.relative_to(inputs_dir)) for p in inputs_dir.rglob("*") if p.is_file())
            (outputs_dir / "found.txt").write_text("\\n".join(found))
            return found

        with DAG(dag_id="steps_record_paths", schedule=None,
                 start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(task_id="step", inputs={{"raw": "file://{raw}/*.csv"}},
                                  python_callable=list_inputs)
        """, "steps_record_paths")
    run = dag.test()
    assert task_state(run, "step") == "success"
    found = xcom(run, "step", "return_value")
    records = xcom(run, "step", "datastore_inputs")
    assert sorted(r["path"] for r in records) == found == ["raw/a.csv", "raw/b.csv"]
    manifest_inputs = versions_of("steps_record_paths", "step")[-1].inputs
    assert sorted(r["path"] for r in manifest_inputs) == found
    # The attempt's directory and the run, task and DAG directories it created are gone.
    assert not os.path.exists(os.path.join(config.work_dir(), "steps_record_paths"))
    assert json.dumps(records).count(config.work_dir()) == 0
