"""Staging on the local store: wildcards, layout, exact log lines, verification, cache, errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os

import pytest

from airflow_datastores.errors import DataStoreError, IntegrityError, NotFound
from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.spec import parse_inputs
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Producer, snapshot


def write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    write(root / "mnist/train.gz", b"train" * 1000)
    write(root / "mnist/test.gz", b"test" * 10)
    write(root / "mnist/extra/deep.gz", b"deep")
    write(root / "mnist/readme.txt", b"hello")
    return root


def test_wildcards_and_directory_layouts(source, tmp_path):
    url = f"file://{source}/mnist"
    result = stage_inputs(
        {
            "one": f"{url}/*.gz",
            "all": {"url": f"{url}/**/*.gz", "keep_directories": "suffix"},
            "full": {"url": f"{url}/extra/*", "keep_directories": "full"},
        },
        inputs_dir=str(tmp_path / "in"),
    )
    rel = sorted(os.path.relpath(r.path, tmp_path / "in") for r in result.records)
    assert rel == sorted([
        "one/train.gz", "one/test.gz",
        "all/train.gz", "all/test.gz", "all/extra/deep.gz",
        f"full/{str(source).lstrip('/')}/mnist/extra/deep.gz",
    ])
    train = next(r for r in result.records if r.path.endswith("one/train.gz"))
    data = b"train" * 1000
    assert (train.md5, train.sha1, train.sha256) == (
        hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert train.size == 5000 and train.url == f"{url}/train.gz" and train.identity
    assert open(train.path, "rb").read() == data


def test_exact_log_lines(source, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="datastore-test")
    logger = logging.getLogger("datastore-test")
    result = stage_inputs({"d": f"file://{source}/mnist/train.gz"}, inputs_dir=str(tmp_path / "in"),
                          logger=logger)
    record = result.records[0]
    lines = [line for r in caplog.records if r.name == "datastore-test" for line in r.getMessage().split("\n")]
    assert lines[:4] == [
        f"{record.path}: downloaded, 5.0 kB (only its size could be verified: the store keeps no checksum of it)",
        f"{record.path}: md5 sum: {record.md5}",
        f"{record.path}: sha1 sum: {record.sha1}",
        f"{record.path}: sha256 sum: {record.sha256}",
    ]


def test_cache_serves_unchanged_files_without_reading(source, tmp_path, caplog, monkeypatch):
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=10**9)
    inputs = {"d": f"file://{source}/mnist/*.gz"}
    first = stage_inputs(inputs, inputs_dir=str(tmp_path / "in1"), cache=cache)
    assert first.files_downloaded == 2 and first.files_cached == 0

    store = get_store(f"file://{source}")
    reads = []
    original = type(store).read
    monkeypatch.setattr(type(store), "read", lambda self, key, **kw: reads.append(key) or original(self, key, **kw))
    caplog.set_level(logging.INFO)
    second = stage_inputs(inputs, inputs_dir=str(tmp_path / "in2"), cache=cache)
    assert second.files_cached == 2 and second.bytes_downloaded == 0 and reads == []
    assert [r.sha256 for r in second.records] == [r.sha256 for r in first.records]
    assert any(": cached, 5.0 kB\n" in m.getMessage() for m in caplog.records)

    write(source / "mnist/train.gz", b"new bytes")  # the identity changes: downloaded again
    third = stage_inputs(inputs, inputs_dir=str(tmp_path / "in3"), cache=cache)
    assert third.files_downloaded == 1 and third.files_cached == 1
    assert reads[0].endswith("train.gz")


def test_a_rerun_keeps_the_inputs_order_when_some_files_changed(source, tmp_path):
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=10**9)
    for i in range(6):
        write(source / f"many/{i}.bin", bytes([i]) * 100)
    inputs = {"d": f"file://{source}/many/*"}
    stage_inputs(inputs, inputs_dir=str(tmp_path / "in1"), cache=cache)
    for i in (1, 3, 4):  # hits are served first, the changed files then download on the pool
        write(source / f"many/{i}.bin", b"changed %d" % i)
    second = stage_inputs(inputs, inputs_dir=str(tmp_path / "in2"), cache=cache)
    assert [os.path.basename(r.path) for r in second.records] == [f"{i}.bin" for i in range(6)]
    assert [r.cached for r in second.records] == [True, False, True, False, False, True]
    for i, record in enumerate(second.records):
        body = b"changed %d" % i if i in (1, 3, 4) else bytes([i]) * 100
        assert open(record.path, "rb").read() == body and record.sha256 == hashlib.sha256(body).hexdigest()
    assert (second.files_cached, second.files_downloaded) == (3, 3)


def test_a_cache_hit_links_the_entry_and_replaces_a_file_already_there(source, tmp_path):
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=10**9)
    inputs = {"d": f"file://{source}/mnist/train.gz"}
    stage_inputs(inputs, inputs_dir=str(tmp_path / "in1"), cache=cache)
    entry = cache.get(url=f"file://{source}/mnist/train.gz", identity=get_store(f"file://{source}/mnist").stat(
        "train.gz").identity, size=5000)
    second = stage_inputs(inputs, inputs_dir=str(tmp_path / "in2"), cache=cache)
    staged = tmp_path / "in2/d/train.gz"
    assert second.files_cached == 1 and os.path.samefile(staged, entry.path)  # a hard link, no copy

    staged.unlink()
    write(staged, b"left by an earlier attempt")  # another file at the target (not the cache's)
    third = stage_inputs(inputs, inputs_dir=str(tmp_path / "in2"), cache=cache)
    assert third.files_cached == 1 and staged.read_bytes() == b"train" * 1000
    assert sorted(os.listdir(tmp_path / "in2/d")) == ["train.gz"]  # no temporary file left


def test_cache_is_bounded_and_drops_entries_edited_in_place(source, tmp_path):
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=5000)
    stage_inputs({"d": f"file://{source}/mnist/*.gz"}, inputs_dir=str(tmp_path / "in1"), cache=cache)
    assert cache.size() <= 5000
    staged = stage_inputs({"d": f"file://{source}/mnist/test.gz"}, inputs_dir=str(tmp_path / "in2"),
                          cache=cache)
    path = staged.records[0].path
    with open(path, "ab") as handle:  # a task edits its (hard-linked) input in place
        handle.write(b"edited")
    again = stage_inputs({"d": f"file://{source}/mnist/test.gz"}, inputs_dir=str(tmp_path / "in3"),
                         cache=cache)
    assert again.files_downloaded == 1
    assert open(again.records[0].path, "rb").read() == b"test" * 10


def test_corrupt_version_file_fails_and_leaves_nothing(tmp_path):
    store = get_store(f"file://{tmp_path}/store")
    out = tmp_path / "out"
    write(out / "model.bin", b"weights" * 100)
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    write(os.path.join(store.path, version.files[0].key), b"weights" * 99 + b"WEIGHTS")  # same size
    inputs_dir = tmp_path / "in"
    with pytest.raises(IntegrityError, match="sha256 of the received bytes is .* but the source says"):
        stage_inputs({"m": version.reference()}, inputs_dir=str(inputs_dir))
    assert [f for _, _, files in os.walk(inputs_dir) for f in files] == []


def test_manifest_path_escaping_inputs_dir_is_refused(tmp_path):
    store = get_store(f"file://{tmp_path}/store")
    out = tmp_path / "out"
    write(out / "a.txt", b"a")
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    manifest_path = os.path.join(store.path, "_manifests/d/t", f"{version.version_id}.json")
    manifest = json.load(open(manifest_path))
    manifest["files"][0]["path"] = "../../etc/evil"
    json.dump(manifest, open(manifest_path, "w"))
    with pytest.raises(DataStoreError, match="would land outside the inputs directory"):
        stage_inputs({"m": {"url": version.reference(), "keep_directories": "full"}},
                     inputs_dir=str(tmp_path / "in"))


def test_errors_name_what_is_wrong(source, tmp_path):
    with pytest.raises(NotFound, match=r"nothing matches .*\*.csv"):
        stage_inputs({"d": f"file://{source}/mnist/*.csv"}, inputs_dir=str(tmp_path / "in"))
    with pytest.raises(NotFound, match="does not exist"):
        stage_inputs({"d": f"file://{source}/nope.txt"}, inputs_dir=str(tmp_path / "in"))
    optional = stage_inputs({"d": {"url": f"file://{source}/mnist/*.csv", "optional": True}},
                            inputs_dir=str(tmp_path / "in"))
    assert optional.records == []
    write(source / "mnist/extra/train.gz", b"other")
    with pytest.raises(DataStoreError, match="would both land at d/train.gz"):
        stage_inputs({"d": f"file://{source}/mnist/**/*.gz"}, inputs_dir=str(tmp_path / "in4"))
    assert not (tmp_path / "in4" / "d").exists()
    with pytest.raises(DataStoreError, match="'ftp://host/x' is not a store URL"):
        stage_inputs({"d": "ftp://host/x"}, inputs_dir=str(tmp_path / "in5"))
    with pytest.raises(DataStoreError, match="unknown keys"):
        parse_inputs({"d": {"url": "file:///x", "optinal": True}})


def test_long_transfers_log_progress_at_an_interval(tmp_path, caplog):
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(256 * 1024 * 1024)
    caplog.set_level(logging.INFO, logger="progress-test")
    stage_inputs({"b": f"file://{big}"}, inputs_dir=str(tmp_path / "in"), progress_interval=0.02,
                 logger=logging.getLogger("progress-test"))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Staging inputs: ")]
    assert progress, "no progress line"
    assert all(" of 268.4 MB (" in line and " of 1 file, " in line for line in progress)
    assert any(line.endswith(" left") and "MB/s, about " in line for line in progress)


def test_symlinks_in_a_local_input_directory(tmp_path):
    source = tmp_path / "src"
    (source / "real").mkdir(parents=True)
    (source / "real" / "inside.txt").write_bytes(b"inside")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret outside")
    (source / "link-inside.txt").symlink_to(source / "real" / "inside.txt")
    (source / "dir-link").symlink_to(source / "real", target_is_directory=True)
    (source / "loop").symlink_to(source, target_is_directory=True)  # walked once, never forever
    records = stage_inputs({"d": {"url": f"file://{source}/**", "keep_directories": "suffix"}},
                           inputs_dir=str(tmp_path / "in")).records
    assert sorted(r.path.split("/in/d/")[1] for r in records) == ["dir-link/inside.txt", "link-inside.txt",
                                                                  "real/inside.txt"]
    assert all(open(r.path, "rb").read() == b"inside" for r in records)

    (source / "pw-link").symlink_to(outside)
    for url in (f"file://{source}/**", f"file://{source}/pw-link"):
        with pytest.raises(DataStoreError, match="symbolic link to .*outside.txt, outside the store's directory"):
            stage_inputs({"d": {"url": url, "keep_directories": "suffix"}}, inputs_dir=str(tmp_path / "in2"))
    assert not (tmp_path / "in2").exists() or not any((tmp_path / "in2").rglob("*"))
    staged = stage_inputs({"d": {"url": f"file://{source}/pw-link", "follow_symlinks": True}},
                          inputs_dir=str(tmp_path / "in3")).records
    assert open(staged[0].path, "rb").read() == b"secret outside"
