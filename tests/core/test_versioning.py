"""Versions on the local store: snapshot, references, one winner, symlinks, verify, diff, purge."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from airflow_datastores.errors import AlreadyExists, DataStoreError, NotFound
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import (
    Producer,
    diff_versions,
    latest_version,
    list_versions,
    load_version,
    make_reference,
    snapshot,
    verify_version,
)
from airflow_datastores.versions.retention import PurgeRule, purge


def make_outputs(directory, files: dict[str, bytes]) -> str:
    for rel, data in files.items():
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    return str(directory)


@pytest.fixture
def store(tmp_path):
    return get_store(f"file://{tmp_path}/store")


def test_snapshot_reads_back_byte_identical_by_id_and_latest(store, tmp_path):
    files = {"model.bin": os.urandom(300_000), "metrics/score.json": b'{"f1": 0.9}', "empty.txt": b""}
    out = make_outputs(tmp_path / "out", files)
    v1 = snapshot(out, store=store, producer=Producer(dag_id="d", task_id="t", run_id="run-1"))
    assert {f.path for f in v1.files} == set(files)
    assert v1.manifest_url.endswith("_manifests/d/t/run-1.json")
    files["model.bin"] = b"retrained"
    v2 = snapshot(make_outputs(tmp_path / "out", files), store=store,
                  producer=Producer(dag_id="d", task_id="t", run_id="run-2"))

    assert latest_version(store, "d", "t").version_id == v2.version_id
    by_id = stage_inputs({"m": {"url": make_reference(dag_id="d", task_id="t", version="run-1",
                                                      store=store.root) + "", "keep_directories": "suffix"}},
                         inputs_dir=str(tmp_path / "in1"))
    assert {os.path.relpath(r.path, tmp_path / "in1" / "m") for r in by_id.records} == set(files)
    assert open(tmp_path / "in1/m/model.bin", "rb").read() != b"retrained"
    latest = stage_inputs({"m": make_reference(dag_id="d", task_id="t", path="model.bin", store=store.root)},
                          inputs_dir=str(tmp_path / "in2"))
    assert open(latest.records[0].path, "rb").read() == b"retrained"
    # The old version is untouched: nothing is overwritten.
    assert load_version(store, "d", "t", "run-1").files == v1.files
    assert [v.version_id for v in list_versions(store)] == ["run-1", "run-2"]


def test_empty_outputs_commit_nothing_unless_asked_and_latest_and_aliases_pass_an_empty_one(store, tmp_path, caplog):
    from airflow_datastores.errors import InvalidSpec, NotFound
    from airflow_datastores.versions import aliases, latest_version

    caplog.set_level(logging.INFO, logger="airflow_datastores")
    os.makedirs(tmp_path / "out")
    assert snapshot(str(tmp_path / "out"), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r0")) is None
    assert "no version committed" in caplog.text and list(store.list("_manifests/")) == []
    make_outputs(tmp_path / "full", {"f.txt": b"data"})
    full = snapshot(str(tmp_path / "full"), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    marker = snapshot(str(tmp_path / "out"), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r2"),
                      commit_empty=True)
    assert marker.files == [] and load_version(store, "d", "t", "r2").files == []
    assert "committing an empty version (commit_empty)" in caplog.text
    assert latest_version(store, "d", "t").version_id == full.version_id  # the marker is passed over
    with pytest.raises(InvalidSpec, match="an alias never names an empty version"):
        aliases.set_alias(store, "best", dag_id="d", task_id="t", version_id=marker.version_id)
    snapshot(str(tmp_path / "out"), store=store, producer=Producer(dag_id="d", task_id="only", run_id="r"),
             commit_empty=True)
    with pytest.raises(NotFound, match="has no committed version with files yet"):
        latest_version(store, "d", "only")


def test_two_attempts_commit_one_version_exactly_one_wins(store, tmp_path):
    outs = [make_outputs(tmp_path / f"out{i}", {"f.txt": f"attempt {i}".encode() * 1000}) for i in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def commit(i: int) -> None:
        barrier.wait()
        try:
            results[i] = snapshot(outs[i], store=store,
                                  producer=Producer(dag_id="d", task_id="t", run_id="same-run", try_number=i + 1))
        except AlreadyExists as err:
            results[i] = err

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(errors) == 1 and "already committed by another attempt" in str(errors[0])
    winner = next(r for r in results if not isinstance(r, AlreadyExists))
    committed = load_version(store, "d", "t", "same-run")
    assert committed.data_prefix == winner.data_prefix
    # The loser's files were removed: only the winner's attempt prefix remains.
    prefixes = {"/".join(i.key.split("/")[:4]) for i in store.list("d/t/")}
    assert prefixes == {winner.data_prefix.rstrip("/")}


def test_symlink_out_of_outputs_is_refused_inside_is_followed(store, tmp_path):
    out = make_outputs(tmp_path / "out", {"real.txt": b"inside"})
    os.symlink(os.path.join(out, "real.txt"), os.path.join(out, "alias.txt"))
    version = snapshot(out, store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    assert sorted(f.path for f in version.files) == ["alias.txt", "real.txt"]
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the store")
    os.symlink(secret, os.path.join(out, "leak.txt"))
    with pytest.raises(DataStoreError, match="leak.txt is a symlink to .*secret.txt, outside the outputs"):
        snapshot(out, store=store, producer=Producer(dag_id="d", task_id="t", run_id="r2"))
    assert [v.version_id for v in list_versions(store)] == ["r1"]


def test_verify_finds_corrupt_and_missing_files(store, tmp_path):
    out = make_outputs(tmp_path / "out", {"a.txt": b"alpha", "b.txt": b"beta", "c.txt": b"gamma"})
    version = snapshot(out, store=store, producer=Producer(dag_id="d", task_id="t", run_id="r"))
    assert verify_version(store, version).ok
    keys = {f.path: f.key for f in version.files}
    with open(os.path.join(store.path, keys["a.txt"]), "wb") as handle:
        handle.write(b"ALPHA")
    os.unlink(os.path.join(store.path, keys["b.txt"]))
    report = verify_version(store, version)
    assert (report.corrupt, report.missing, report.checked) == (["a.txt"], ["b.txt"], 3)


def test_diff(store, tmp_path):
    v1 = snapshot(make_outputs(tmp_path / "o1", {"same": b"1", "changed": b"old", "gone": b"x"}), store=store,
                  producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    v2 = snapshot(make_outputs(tmp_path / "o2", {"same": b"1", "changed": b"new", "added": b"y"}), store=store,
                  producer=Producer(dag_id="d", task_id="t", run_id="r2"))
    diff = diff_versions(v1, v2)
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == (["added"], ["gone"], ["changed"], 1)


def test_purge_keep_last_older_than_dry_run_and_orphans(store, tmp_path):
    for i in range(4):
        snapshot(make_outputs(tmp_path / f"o{i}", {"f": str(i).encode() * 10}), store=store,
                 producer=Producer(dag_id="d", task_id="t", run_id=f"r{i}"))
    # An attempt that crashed before its manifest: files but no commit.
    orphan = store.write_bytes("d/t/r9/try-1-deadbeef/f", b"half")
    dry = purge(store, rule=PurgeRule(keep_last=2, orphans_older_than=timedelta(0)), dry_run=True,
                now=datetime.now(UTC) + timedelta(seconds=1))
    assert sorted((i.kind, i.version_id) for i in dry.items) == [
        ("orphan", "r9"), ("version", "r0"), ("version", "r1")]
    assert dry.bytes == 10 + 10 + 4
    assert len(list_versions(store)) == 4 and store.exists(orphan.key)  # dry run deleted nothing

    purge(store, rule=PurgeRule(keep_last=2, orphans_older_than=timedelta(0)), dry_run=False,
          now=datetime.now(UTC) + timedelta(seconds=1))
    assert [v.version_id for v in list_versions(store)] == ["r2", "r3"]
    assert not store.exists(orphan.key)
    assert not any(i.key.startswith(("d/t/r0/", "d/t/r1/")) for i in store.list(""))
    with pytest.raises(NotFound, match="no committed version 'r0'"):
        load_version(store, "d", "t", "r0")

    later = datetime.now(UTC) + timedelta(days=2)
    result = purge(store, rule=PurgeRule(older_than=timedelta(days=1), orphans_older_than=None),
                   dry_run=False, now=later)
    assert len(result.items) == 2 and list_versions(store) == []


def test_purge_leaves_a_young_uncommitted_attempt_alone(store):
    store.write_bytes("d/t/r5/try-1-cafebabe/f", b"still uploading")
    result = purge(store, rule=PurgeRule(orphans_older_than=timedelta(hours=1)), dry_run=False)
    assert result.items == [] and store.exists("d/t/r5/try-1-cafebabe/f")


def test_killed_snapshot_leaves_no_version_and_purge_removes_its_files(store, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = make_outputs(tmp_path / "out", {f"a-{i}.txt": b"small" for i in range(5)})
    with open(os.path.join(out, "z-big.bin"), "wb") as handle:
        handle.truncate(1024**3)  # sparse: cheap to make, a long upload
    script = (
        "from airflow_datastores.stores.registry import get_store\n"
        "from airflow_datastores.versions import Producer, snapshot\n"
        f"snapshot({out!r}, store=get_store({store.root!r}), max_concurrency=1,\n"
        "         producer=Producer(dag_id='d', task_id='t', run_id='killed'))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while sum(1 for _ in store.list("d/t/killed/")) < 5:
        assert process.poll() is None and time.monotonic() < deadline, "snapshot ended before the kill"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert list_versions(store) == []
    with pytest.raises(NotFound):
        latest_version(store, "d", "t")
    later = datetime.now(UTC) + timedelta(seconds=2)
    result = purge(store, rule=PurgeRule(orphans_older_than=timedelta(seconds=1)), dry_run=False, now=later)
    # (the large file's partial write, if it had begun, is a leftover of its own: tests/core/test_purge_leftovers.py)
    assert [(i.kind, i.version_id, i.files) for i in result.items if i.kind == "orphan"] == [("orphan", "killed", 5)]
    assert list(store.list("")) == [] and list(store.leftovers()) == []
