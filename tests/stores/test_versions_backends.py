"""Versions on every writable backend's real server: snapshot, read back by reference, one winner."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from airflow_datastores.errors import AlreadyExists
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, list_versions, make_reference, snapshot, verify_version

from .test_contract import WRITABLE, PatternReader


@pytest.fixture(params=sorted(WRITABLE))
def store(request):
    fixture, conn_id = WRITABLE[request.param]
    return open_store(str(request.getfixturevalue(fixture)), conn_id=conn_id)


def test_snapshot_reads_back_byte_identical(store, tmp_path):
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    (out / "small.txt").write_bytes(b"small")
    with open(out / "nested" / "large.bin", "wb") as handle:  # beyond the single-request threshold
        reader = PatternReader(18 * 1024 * 1024)
        while chunk := reader.read(1 << 20):
            handle.write(chunk)
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    assert verify_version(store, version).ok
    ref = make_reference(dag_id="d", task_id="t", version=version.version_id, store=store.root)
    staged = stage_inputs({"v": {"url": ref + "", "keep_directories": "suffix", "conn_id": store.conn_id}},
                          inputs_dir=str(tmp_path / "in"))
    for record in staged.records:
        rel = os.path.relpath(record.path, tmp_path / "in" / "v")
        with open(out / rel, "rb") as original, open(record.path, "rb") as copy:
            assert hashlib.sha256(original.read()).hexdigest() == hashlib.sha256(copy.read()).hexdigest()
    assert sorted(os.path.relpath(r.path, tmp_path / "in" / "v") for r in staged.records) == \
        ["nested/large.bin", "small.txt"]


def test_two_concurrent_commits_one_winner(store, tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"out{i}"
        out.mkdir()
        (out / "f.txt").write_bytes(f"attempt {i}".encode())
        outs.append(str(out))
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def commit(i: int) -> None:
        barrier.wait()
        try:
            results[i] = snapshot(outs[i], store=store, producer=Producer(dag_id="d", task_id="t", run_id="same",
                                                                          try_number=i + 1))
        except AlreadyExists as err:
            results[i] = err

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(r, AlreadyExists) for r in results) == 1, results
    assert [v.version_id for v in list_versions(store, dag_id="d", task_id="t")] == ["same"]
