"""Reuse (#17): a step with the same inputs (by sha256), parameters and code takes the version an earlier
run committed instead of running; one changed input byte, parameter or line of code runs it; two runs
with one key at once compute it once (a lock in the store). On the local store, S3 and Azure."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, snapshot
from airflow_datastores.versions.reuse import find_reusable, reuse_key, run_once

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom


@pytest.fixture(params=["local", "s3", "azure"])
def store(request):
    root, conn_id = {"local": ("local_root", None), "s3": ("s3_root", "test_s3"),
                     "azure": ("azure_root", "test_azure")}[request.param]
    return open_store(str(request.getfixturevalue(root)), conn_id=conn_id)


INPUTS = [{"name": "raw", "path": "raw/a.csv", "sha256": "aa"}, {"name": "raw", "path": "raw/b.csv", "sha256": "bb"}]


def test_the_key_follows_inputs_parameters_and_code_only():
    key = reuse_key(inputs=INPUTS, parameters={"lr": 0.1}, code="train.py")
    assert key == reuse_key(inputs=list(reversed(INPUTS)), parameters={"lr": 0.1}, code="train.py")
    changed_input = [INPUTS[0], {**INPUTS[1], "sha256": "bc"}]
    assert len({key, reuse_key(inputs=changed_input, parameters={"lr": 0.1}, code="train.py"),
                reuse_key(inputs=INPUTS, parameters={"lr": 0.2}, code="train.py"),
                reuse_key(inputs=INPUTS, parameters={"lr": 0.1}, code="train2.py")}) == 4


def test_two_runs_with_one_key_at_once_compute_it_once(store, tmp_path):
    computed, start = [], threading.Barrier(2)

    def compute(run_id: str):
        def run():
            computed.append(run_id)
            time.sleep(1.5)  # long enough that the other run finds the lock taken
            out = tmp_path / run_id
            out.mkdir()
            (out / "model.txt").write_text(run_id)
            return snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id=run_id))
        return run

    outcomes = {}

    def one_run(run_id: str) -> None:
        start.wait()
        outcomes[run_id] = run_once(store, dag_id="d", task_id="t", key="k" * 64, compute=compute(run_id),
                                    owner=run_id, wait_seconds=120, poll_seconds=0.2)

    threads = [threading.Thread(target=one_run, args=(r,)) for r in ("r1", "r2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(computed) == 1
    made = outcomes[computed[0]]
    other = outcomes["r2" if computed[0] == "r1" else "r1"]
    assert made.computed and not other.computed and other.version.version_id == made.version.version_id
    assert find_reusable(store, dag_id="d", task_id="t", key="k" * 64).version_id == made.version.version_id
    assert [i.key for i in store.list("_reuse/") if i.key.endswith(".lock")] == []  # let go


def test_a_failed_computation_lets_the_next_run_compute(local_root, tmp_path):
    store = open_store(local_root)

    def fail():
        raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError):
        run_once(store, dag_id="d", task_id="t", key="f" * 64, compute=fail, owner="r1")
    out = tmp_path / "out"
    out.mkdir()
    (out / "m").write_text("m")
    outcome = run_once(store, dag_id="d", task_id="t", key="f" * 64, owner="r2", poll_seconds=0.1, wait_seconds=30,
                       compute=lambda: snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t",
                                                                                          run_id="r2")))
    assert outcome.computed


def test_a_step_with_reuse_runs_only_when_inputs_parameters_or_code_changed(airflow_db, tmp_path):
    raw, counter = tmp_path / "raw", tmp_path / "runs.txt"
    raw.mkdir()
    (raw / "a.csv").write_text("x\n1\n")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import dag
        from airflow_datastores import DatastoreStepOperator

        @dag(dag_id="reuse_steps", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             params={{"lr": "0.1", "variant": "a"}})
        def reusing():
            DatastoreStepOperator(
                task_id="train", reuse=True, inputs={{"raw": "file://{raw}/*.csv"}},
                environment={{"LR": "{{{{ params.lr }}}}"}},
                command="echo {{{{ params.variant }}}} >> {counter}; cp $DATASTORE_INPUT_RAW/a.csv $DATASTORE_OUTPUTS/",
            )
        the_dag = reusing()
        """, "reuse_steps")

    reused = []

    def run(**conf):
        result = dag.test(run_conf=conf or None)
        assert task_state(result, "train") == "success"
        record = xcom(result, "train", "datastore_outputs")
        reused.append(record.get("reused", False))
        return record["version_id"]

    first = run()
    assert run() == first and counter.read_text().splitlines() == ["a"]  # reused: the command did not run
    assert reused == [False, True]  # and the record says so (the dashboard shows it)
    (raw / "a.csv").write_text("x\n2\n")  # one input byte
    second = run()
    assert second != first and len(counter.read_text().splitlines()) == 2
    assert run() == second  # and that is reused in turn
    third = run(lr="0.2")  # a parameter
    assert third not in (first, second) and len(counter.read_text().splitlines()) == 3
    fourth = run(variant="b")  # the command's text (its code)
    assert fourth not in (first, second, third) and counter.read_text().splitlines()[-1] == "b"
