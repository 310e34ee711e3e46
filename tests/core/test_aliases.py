"""Aliases on real stores (local, S3, Azure): set, move, history, resolution when an input is staged,
concurrent movers, purge keeping what an alias points to, the CLI, and a step that promotes its version."""

from __future__ import annotations

import json
import threading

import pytest

from airflow_datastores.cli import main
from airflow_datastores.errors import InvalidSpec, NotFound
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.units import parse_duration
from airflow_datastores.versions import Producer, aliases, load_version, snapshot
from airflow_datastores.versions.layout import manifest_key
from airflow_datastores.versions.retention import PurgeRule, purge

from .dagfiles import load_dag
from .test_dag_runs import xcom


@pytest.fixture(params=["local", "s3", "azure"])
def store(request):
    root, conn_id = {"local": ("local_root", None), "s3": ("s3_root", "test_s3"),
                     "azure": ("azure_root", "test_azure")}[request.param]
    return open_store(str(request.getfixturevalue(root)), conn_id=conn_id)


def commit(store, tmp_path, run_id: str, text: str, *, task_id: str = "t"):
    out = tmp_path / f"out-{task_id}-{run_id}"
    out.mkdir()
    (out / "model.txt").write_text(text)
    return snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id=task_id, run_id=run_id))


def test_an_alias_moves_keeps_its_history_and_is_resolved_when_inputs_are_staged(store, tmp_path):
    first, second = commit(store, tmp_path, "r1", "one"), commit(store, tmp_path, "r2", "two")
    aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id=first.version_id)
    ref = f"datastore://d/t/@prod/model.txt?store={store.root}"

    staged = stage_inputs({"m": {"url": ref, "conn_id": store.conn_id}}, inputs_dir=str(tmp_path / "in1"))
    record = staged.records[0]
    assert open(record.path).read() == "one"
    assert (record.alias, record.version_id) == ("prod", first.version_id)

    moved = aliases.set_alias(store, "prod", dag_id="d", task_id="t")  # latest
    assert (moved.sequence, moved.version_id) == (2, second.version_id)
    again = stage_inputs({"m": {"url": ref, "conn_id": store.conn_id}}, inputs_dir=str(tmp_path / "in2"))
    assert open(again.records[0].path).read() == "two" and again.records[0].version_id == second.version_id
    assert [(e.sequence, e.version_id) for e in aliases.history(store, "prod", dag_id="d", task_id="t")] == [
        (1, first.version_id), (2, second.version_id)]

    aliases.set_alias(store, "best", dag_id="d", task_id="t", version_id=first.version_id, scope="global")
    best = stage_inputs({"m": {"url": f"alias://best/model.txt?store={store.root}", "conn_id": store.conn_id}},
                        inputs_dir=str(tmp_path / "in3"))
    assert open(best.records[0].path).read() == "one" and best.records[0].alias == "best"
    assert {(e.scope, e.alias, e.version_id) for e in aliases.list_aliases(store)} == {
        ("task", "prod", second.version_id), ("global", "best", first.version_id)}


def test_concurrent_moves_are_all_recorded_in_order(store, tmp_path):
    versions = [commit(store, tmp_path, f"r{i}", str(i)).version_id for i in range(6)]
    start = threading.Barrier(len(versions))

    def move(version_id: str) -> None:
        start.wait()
        aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id=version_id)

    threads = [threading.Thread(target=move, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    entries = aliases.history(store, "prod", dag_id="d", task_id="t")
    assert [e.sequence for e in entries] == list(range(1, len(versions) + 1))  # none lost, none twice
    assert sorted(e.version_id for e in entries) == sorted(versions)
    assert aliases.current(store, "prod", dag_id="d", task_id="t") == entries[-1]


def test_purge_keeps_a_version_an_alias_points_to(store, tmp_path):
    old, new = commit(store, tmp_path, "r1", "one"), commit(store, tmp_path, "r2", "two")
    aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id=old.version_id)
    result = purge(store, rule=PurgeRule(keep_last=1, orphans_older_than=parse_duration("1d")), dry_run=False)
    assert result.items == [] and [i.version_id for i in result.kept if i.kind == "version"] == [old.version_id]
    assert "alias prod points to it" in result.kept[0].reason
    assert load_version(store, "d", "t", old.version_id).files[0].sha256 == old.files[0].sha256
    aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id=new.version_id)
    gone = purge(store, rule=PurgeRule(keep_last=1, orphans_older_than=None), dry_run=False)
    assert [i.version_id for i in gone.removed] == [old.version_id]


def test_alias_mistakes_are_named(local_root, tmp_path):
    store = open_store(local_root)
    commit(store, tmp_path, "r1", "one")
    with pytest.raises(InvalidSpec, match="not usable"):
        aliases.set_alias(store, "../prod", dag_id="d", task_id="t")
    with pytest.raises(NotFound, match="no committed version 'nope'"):
        aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id="nope")
    with pytest.raises(NotFound, match="no alias 'prod' of d.t"):
        stage_inputs({"m": f"datastore://d/t/@prod?store={local_root}"}, inputs_dir=str(tmp_path / "in"))
    with pytest.raises(InvalidSpec, match="not an alias URL"):
        stage_inputs({"m": "alias:///x"}, inputs_dir=str(tmp_path / "in"))
    aliases.set_alias(store, "prod", dag_id="d", task_id="t", version_id="r1")
    store.delete(manifest_key("d", "t", "r1"))  # the version is gone, the alias still names it
    with pytest.raises(NotFound, match="points to version r1 of d.t, which is not committed"):
        stage_inputs({"m": f"datastore://d/t/@prod?store={local_root}"}, inputs_dir=str(tmp_path / "in"))


def test_cli_sets_lists_and_shows_history(local_root, tmp_path, capsys):
    store = open_store(local_root)
    first, second = commit(store, tmp_path, "r1", "one"), commit(store, tmp_path, "r2", "two")
    assert main(["alias", "set", "d", "t", "prod", first.version_id, "--store", local_root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version_id"] == first.version_id
    assert main(["alias", "set", "d", "t", "prod", "--store", local_root]) == 0
    assert f"prod -> version {second.version_id} of d.t (entry 2)" in capsys.readouterr().out
    assert main(["alias", "history", "d", "t", "prod", "--store", local_root, "--json"]) == 0
    assert [e["version_id"] for e in json.loads(capsys.readouterr().out)] == [first.version_id, second.version_id]
    assert main(["alias", "set", "d", "t", "best", first.version_id, "--global", "--store", local_root]) == 0
    capsys.readouterr()
    assert main(["alias", "history", "best", "--global", "--store", local_root, "--json"]) == 0
    assert [e["scope"] for e in json.loads(capsys.readouterr().out)] == ["global"]
    assert main(["alias", "ls", "--store", local_root]) == 0
    listing = capsys.readouterr().out
    assert "alias://best" in listing and "prod" in listing and second.version_id in listing
    with pytest.raises(SystemExit):
        main(["alias", "set", "d", "--store", local_root])
    assert "the following arguments are required: TASK, NAME" in capsys.readouterr().err


def test_a_step_promotes_its_version_and_the_next_step_reads_it_by_alias(airflow_db, tmp_path):
    dag = load_dag("""
        import pendulum
        from airflow.sdk import dag
        from airflow_datastores import DatastoreStepOperator

        @dag(dag_id="aliases_promote", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
        def promoting():
            train = DatastoreStepOperator(task_id="train", command="echo fitted > $DATASTORE_OUTPUTS/m.txt",
                                          promote="prod")
            serve = DatastoreStepOperator(task_id="serve", command="cat $DATASTORE_INPUT_MODEL/m.txt",
                                          inputs={"model": "datastore://aliases_promote/train/@prod"})
            train >> serve
        the_dag = promoting()
        """, "aliases_promote")
    run = dag.test()
    committed = xcom(run, "train", "datastore_outputs")
    staged = xcom(run, "serve", "datastore_inputs")
    assert [(r["alias"], r["version_id"]) for r in staged] == [("prod", committed["version_id"])]
    from airflow_datastores.stores.registry import get_store

    assert aliases.current(get_store(), "prod", dag_id="aliases_promote", task_id="train").version_id == \
        committed["version_id"]
