"""Lineage: a three-step chain (external input -> prepare -> train -> report) run for real, traced both
ways through the core and the CLI, every edge checked against the manifests; the trace of one file; the
width bound; purge and the index rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Producer, lineage, load_version, snapshot
from airflow_datastores.versions.retention import PurgeRule, purge

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom

CLI = os.path.join(os.path.dirname(sys.executable), "airflow-datastores")


@pytest.fixture(scope="module")
def chain(airflow_db, tmp_path_factory):
    data = tmp_path_factory.mktemp("lineage")
    (data / "raw.csv").write_text("a,b\n1,2\n")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator, outputs_of

        with DAG(dag_id="lineage_chain", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            prepare = DatastoreStepOperator(task_id="prepare", inputs={{"raw": "file://{data}/raw.csv"}},
                command='cp "$DATASTORE_INPUT_RAW/raw.csv" "$DATASTORE_OUTPUTS/features.csv"; echo x > "$DATASTORE_OUTPUTS/notes.txt"')
            train = DatastoreStepOperator(task_id="train", inputs={{"features": outputs_of(prepare, "features.csv")}},
                command='wc -l < "$DATASTORE_INPUT_FEATURES/features.csv" > "$DATASTORE_OUTPUTS/model.txt"')
            DatastoreStepOperator(task_id="report", inputs={{"model": outputs_of(train, "model.txt")}},
                command='cat "$DATASTORE_INPUT_MODEL/model.txt" > "$DATASTORE_OUTPUTS/report.txt"')
        """, "lineage_chain")
    run = dag.test()
    assert [task_state(run, t) for t in ("prepare", "train", "report")] == ["success"] * 3
    store = get_store()
    return {t: load_version(store, "lineage_chain", t, xcom(run, t, "datastore_outputs")["version_id"])
            for t in ("prepare", "train", "report")}


def test_a_chain_traced_both_ways_matches_its_manifests(chain):
    store = get_store()
    prepare, train, report = chain["prepare"], chain["train"], chain["report"]
    found = lineage.trace(store, "lineage_chain", "train", train.version_id)
    by_level = {n.level: n for n in found.nodes.values()}
    assert (by_level[-2].kind, by_level[-2].label) == ("input", "input raw")
    assert by_level[-2].url.endswith("/raw.csv")
    assert by_level[-1].version_id == prepare.version_id and by_level[0].version_id == train.version_id
    assert by_level[1].version_id == report.version_id and set(by_level) == {-2, -1, 0, 1}
    edges = {(found.nodes[e.source].level, found.nodes[e.target].level): e for e in found.edges}
    assert set(edges) == {(-2, -1), (-1, 0), (0, 1)}
    for edge in edges.values():  # every edge is what the target's manifest says it staged
        target = found.nodes[edge.target]
        manifest = load_version(store, "lineage_chain", target.task_id, target.version_id)
        records = [r for r in manifest.inputs if r["name"] == edge.input]
        assert len(records) == edge.files == 1
        assert edge.sha256 == records[0]["sha256"]
        if found.nodes[edge.source].kind == "version":
            assert records[0]["version_id"] == found.nodes[edge.source].version_id
    assert edges[(-1, 0)].sha256 == next(f.sha256 for f in prepare.files if f.path == "features.csv")
    json.dumps(found.to_dict())  # plain JSON


def test_the_trace_of_one_file_follows_only_its_consumers(chain):
    store = get_store()
    prepare = chain["prepare"]
    assert [n.label for n in lineage.trace(store, "lineage_chain", "prepare", prepare.version_id,
                                           path="features.csv").nodes.values() if n.level > 0] == [
        "lineage_chain.train", "lineage_chain.report"]
    assert [n for n in lineage.trace(store, "lineage_chain", "prepare", prepare.version_id,
                                     path="notes.txt").nodes.values() if n.level > 0] == []


def test_the_cli_gives_the_same_trace(chain):
    train = chain["train"]
    done = subprocess.run([CLI, "trace", "lineage_chain", "train", train.version_id, "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == lineage.trace(get_store(), "lineage_chain", "train", train.version_id).to_dict()
    text = subprocess.run([CLI, "trace", "lineage_chain", "train", "latest"], capture_output=True, text=True,
                          timeout=120).stdout
    lines = text.splitlines()
    assert lines[0] == f"lineage_chain.train version {train.version_id}"
    assert lines[2].startswith(f"  <- lineage_chain.prepare version {chain['prepare'].version_id} as input features")
    assert lines[3].startswith("    <- input raw: file://") and "sha256" in lines[3]
    assert lines[-1].startswith(f"  -> lineage_chain.report version {chain['report'].version_id} as input model")


def test_width_bounds_purge_forgets_and_the_index_can_be_rebuilt(local_root, tmp_path):
    store = get_store(local_root)
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.bin").write_text("w")
    base = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="base", run_id="r0"))
    record = {"name": "model", "url": "x", "path": "model/model.bin", "size": 1, "md5": "m", "sha1": "s",
              "sha256": base.files[0].sha256, "identity": "i", "source": "datastore://d/base/model.bin",
              "version_id": base.version_id}
    for n in range(15):
        snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="use", run_id=f"r{n:02d}"),
                 inputs=[record])
    found = lineage.trace(store, "d", "base", base.version_id, width=12)
    assert sum(n.level == 1 for n in found.nodes.values()) == 12
    assert found.more == [{"node": found.root, "direction": "to", "count": 3}]
    result = purge(store, rule=PurgeRule(keep_last=10), dag_id="d", task_id="use", dry_run=False)
    assert len(result.removed) == 5
    assert len(lineage.used_by(store, "version", "d", "base", base.version_id)) == 10
    for info in list(store.list(f"{lineage.LINEAGE}/")):
        store.delete(info.key)
    assert lineage.used_by(store, "version", "d", "base", base.version_id) == []
    assert lineage.rebuild_index(store) == 10
    assert len(lineage.used_by(store, "version", "d", "base", base.version_id)) == 10
