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


def test_a_password_in_an_input_url_reaches_no_record_manifest_log_or_error(airflow_db, http_server, capfd, caplog):
    import json
    import logging

    from tests.servers.http import BASIC_PASSWORD, BASIC_USER

    from .test_state_store import asset_state

    (http_server.root_dir / "private").mkdir(exist_ok=True)
    (http_server.root_dir / "private" / "p.txt").write_bytes(b"private data")
    base = f"http://{BASIC_USER}:{BASIC_PASSWORD}@127.0.0.1:{http_server.port}/private"
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator, StageInputsOperator

        with DAG(dag_id="steps_url_password", schedule=None,
                 start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(task_id="step", inputs={{"p": "{base}/p.txt"}},
                                  command='cp "$DATASTORE_INPUT_P/p.txt" "$DATASTORE_OUTPUTS/copy.txt"')
            DatastoreStepOperator(task_id="missing", inputs={{"m": "{base}/missing.txt"}}, command="true")
            StageInputsOperator(task_id="stage_missing", inputs={{"m": ["{base}/gone.txt"]}})
        """, "steps_url_password")
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    run = dag.test()
    captured = capfd.readouterr()
    # The task's log as dag.test prints it, and every record pytest's handler took (with tracebacks).
    log = captured.out + captured.err + "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert task_state(run, "step") == "success"
    assert task_state(run, "missing") == task_state(run, "stage_missing") == "failed"
    assert "Staged 1 file into " in log  # a count of one is singular
    records = xcom(run, "step", "datastore_inputs")
    assert records[0]["url"] == f"http://127.0.0.1:{http_server.port}/private/p.txt"
    version = versions_of("steps_url_password", "step")[-1]
    store = get_store()
    assert store.read_bytes(version.files[0].key) == b"private data"
    stored = b"".join(store.read_bytes(i.key) for i in store.list("") if "steps_url_password" in i.key)
    kept = json.dumps([records, xcom(run, "step", "datastore_outputs"), version.inputs,
                       asset_state("steps_url_password", "step", "inputs")])
    rendered = json.dumps(rendered_fields(run))  # the UI's "Rendered Template" page shows the inputs as written
    assert f"{BASIC_USER}:***@" in rendered
    for where, text in (("XCom and state", kept), ("the store", stored.decode(errors="replace")), ("the log", log),
                        ("the rendered fields", rendered)):
        assert BASIC_PASSWORD not in text, where
    # The errors name the URL (its password as ***) and what to do.
    for name in ("missing.txt", "gone.txt"):
        assert f"http://{BASIC_USER}:***@127.0.0.1:{http_server.port}/private/{name} does not exist" in log, name


def rendered_fields(run) -> list:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [row.rendered_fields for row in session.scalars(select(RenderedTaskInstanceFields).where(
            RenderedTaskInstanceFields.dag_id == run.dag_id, RenderedTaskInstanceFields.run_id == run.run_id))]


def test_a_failing_step_leaves_no_directories_in_the_work_dir(airflow_db, raw):
    import os

    from airflow_datastores import config

    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        def fail(inputs_dir, outputs_dir):
            (outputs_dir / "partial.txt").write_text("partial")
            raise RuntimeError("the step failed on purpose")

        with DAG(dag_id="steps_failed_dirs", schedule=None,
                 start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(task_id="callable", inputs={{"raw": "file://{raw}/*.csv"}}, python_callable=fail)
            DatastoreStepOperator(task_id="command", inputs={{"raw": "file://{raw}/*.csv"}},
                                  command=["echo partial > $DATASTORE_OUTPUTS/partial.txt", "exit 3"])
            DatastoreStepOperator(task_id="input", inputs={{"raw": "file://{raw}/no-such.csv"}}, command="true")
        """, "steps_failed_dirs")
    run = dag.test()
    assert task_state(run, "callable") == task_state(run, "command") == task_state(run, "input") == "failed"
    assert versions_of("steps_failed_dirs", "callable") == versions_of("steps_failed_dirs", "command") == []
    left = os.path.join(config.work_dir(), "steps_failed_dirs")
    assert not os.path.exists(left), [os.path.join(d, n) for d, ds, fs in os.walk(left) for n in ds + fs]
