"""Purge on the local store: leftovers of a killed snapshot are listed, kept while young, removed and
reported truthfully; a version id that names several tasks needs a DAG, a task or --all-tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_datastores.cli import build_parser, main
from airflow_datastores.stores.local import TEMP_DIR
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, list_versions, snapshot
from airflow_datastores.versions.retention import PurgeRule, purge


def kill_snapshot_mid_upload(store, tmp_path, *, conn_id: str | None = None, uploading, big: int = 256 << 20,
                             timeout: float = 600) -> None:
    """Start a snapshot of five small files and one large (sparse) one in another process, and SIGKILL
    it once ``uploading()`` says the large upload has begun.

    :param store: where the snapshot goes.
    :param conn_id: the store's connection, for the other process.
    :param uploading: callable, true once the large file's unfinished upload is on the store.
    :param big: size of the large file.
    :param timeout: bound of the wait (readiness ends it).
    """
    out = tmp_path / "killed-out"
    out.mkdir()
    for i in range(5):
        (out / f"a-{i}.txt").write_bytes(b"small")
    with open(out / "z-big.bin", "wb") as handle:
        handle.truncate(big)  # sparse: cheap to make, a long upload
    script = (
        "from airflow_datastores.stores.registry import open_store\n"
        "from airflow_datastores.versions import Producer, snapshot\n"
        f"snapshot({str(out)!r}, store=open_store({store.root!r}, conn_id={conn_id!r}), max_concurrency=1,\n"
        "         producer=Producer(dag_id='d', task_id='t', run_id='killed'))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + timeout
        while not uploading():
            assert process.poll() is None, "the snapshot ended before it could be killed"
            assert time.monotonic() < deadline, f"the large upload did not start within {timeout} s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture
def store(local_root):
    return open_store(local_root)


def temp_files(store) -> dict[str, int]:
    temp = os.path.join(store.path, TEMP_DIR)
    return {e.name: e.stat().st_size for e in os.scandir(temp)} if os.path.isdir(temp) else {}


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_killed_snapshot_temp_files_are_listed_kept_while_young_then_removed(store, tmp_path, capsys):
    kill_snapshot_mid_upload(store, tmp_path, uploading=lambda: any(size for size in temp_files(store).values())
                             and sum(1 for _ in store.list("d/t/killed/")) >= 5)
    left = temp_files(store)
    assert len(left) == 1 and list_versions(store) == []

    # Young: the default grace period (24 h) keeps all of it, and says so.
    young = purge(store, rule=PurgeRule(), dry_run=True)
    assert young.items == []
    assert sorted(i.kind for i in young.kept) == ["orphan", "temp file"]
    assert all("younger than the grace period 24h" in i.reason for i in young.kept)

    time.sleep(1.1)
    code, out = run(capsys, "purge", "--store", store.root, "--orphans-older-than", "1s", "--json")
    dry = json.loads(out)
    assert code == 0 and dry["dry_run"] is True
    temp = next(i for i in dry["items"] if i["kind"] == "temp file")
    assert temp["bytes"] == sum(temp_files(store).values()) > 0 and TEMP_DIR in temp["url"]
    assert [(i["kind"], i["files"], i["bytes"]) for i in dry["items"] if i["kind"] == "orphan"] == \
        [("orphan", 5, 25)]
    assert temp_files(store) and dry["bytes"] == 25 + temp["bytes"]

    code, out = run(capsys, "purge", "--store", store.root, "--orphans-older-than", "1s", "--yes")
    assert code == 0 and "temp file" in out and "orphan" in out
    assert out.rstrip().endswith(f"Deleted 2 items, {_size(25 + temp['bytes'])}.")
    assert temp_files(store) == {} and list(store.list("")) == []
    code, out = run(capsys, "purge", "--store", store.root, "--orphans-older-than", "1s", "--yes")
    assert "Nothing to purge." in out and "Deleted 0 items, 0 B." in out


def _size(n: int) -> str:
    from airflow_datastores.units import human_size

    return human_size(n)


def test_a_temp_file_of_a_live_writer_is_kept(store):
    temp = os.path.join(store.path, TEMP_DIR)
    os.makedirs(temp)
    with open(os.path.join(temp, "0" * 32), "wb") as handle:
        handle.write(b"x" * 1000)
    result = purge(store, rule=PurgeRule(orphans_older_than=timedelta(hours=1)), dry_run=False)
    assert result.items == [] and [(i.kind, i.bytes) for i in result.kept] == [("temp file", 1000)]
    assert temp_files(store) == {"0" * 32: 1000}
    later = datetime.now(UTC) + timedelta(hours=2)
    result = purge(store, rule=PurgeRule(orphans_older_than=timedelta(hours=1)), dry_run=False, now=later)
    assert [(i.kind, i.removed) for i in result.items] == [("temp file", True)] and temp_files(store) == {}
    # Temp files tell no key: a purge of one DAG leaves them to a purge of the whole store.
    assert list(store.leftovers("d/")) == []


@pytest.fixture
def same_run_everywhere(store, tmp_path):
    """Version ``manual__x`` in d.a, d.b and e.c (one run id, several tasks), and ``other`` in d.a."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "f.txt").write_bytes(b"1234567")
    for dag, task, run_id in (("d", "a", "manual__x"), ("d", "b", "manual__x"), ("e", "c", "manual__x"),
                              ("d", "a", "other")):
        snapshot(str(out), store=store, producer=Producer(dag_id=dag, task_id=task, run_id=run_id))
    return store


def versions(store) -> list[str]:
    return sorted(f"{v.dag_id}.{v.task_id}/{v.version_id}" for v in list_versions(store))


def test_a_bare_version_id_matching_several_tasks_is_refused(same_run_everywhere, capsys):
    store = same_run_everywhere
    before = versions(store)
    code, out = run(capsys, "purge", "--store", store.root, "--version", "manual__x", "--yes")
    assert code == 1 and "matches 3 tasks: d.a, d.b, e.c" in out and "--dag-id" in out and "--all-tasks" in out
    assert versions(store) == before
    # One task only: no ambiguity.
    code, out = run(capsys, "purge", "--store", store.root, "--version", "other")
    assert code == 0 and "--version other matches 1 task: d.a" in out and "Would delete 1 item" in out


def test_dag_and_task_ids_narrow_a_version_id_and_the_dry_run_names_the_tasks(same_run_everywhere, capsys):
    store = same_run_everywhere
    code, out = run(capsys, "purge", "--store", store.root, "--version", "manual__x", "--dag-id", "d")
    assert code == 0 and "--version manual__x matches 2 tasks: d.a, d.b" in out and "Would delete 2 items" in out
    code, out = run(capsys, "purge", "--store", store.root, "--version", "manual__x", "--dag-id", "d",
                    "--task-id", "b", "--yes")
    assert code == 0 and "matches 1 task: d.b" in out and "Deleted 1 item" in out
    assert versions(store) == ["d.a/manual__x", "d.a/other", "e.c/manual__x"]
    code, out = run(capsys, "purge", "--store", store.root, "--version", "manual__x", "--all-tasks", "--yes")
    assert code == 0 and "matches 2 tasks: d.a, e.c" in out and "Deleted 2 items" in out
    assert versions(store) == ["d.a/other"]


def test_purge_help_documents_the_filters():
    parser = build_parser()
    purge_parser = parser._subparsers._group_actions[0].choices["purge"]
    text = purge_parser.format_help()
    for option in ("--dag-id", "--task-id", "--all-tasks", "--orphans-older-than", "default 24h"):
        assert option in text
