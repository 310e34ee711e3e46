"""What the contract suite does not see of the GCS store: resumable uploads, checksums, generation-pinned
reads, the emulator connection, and error mapping. Against fake-gcs-server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import sys
import tracemalloc

import google_crc32c
import pytest

from airflow_datastores.errors import AlreadyExists, MissingExtra, NotFound, ObjectChanged
from airflow_datastores.stores import gcs, registry
from airflow_datastores.stores.base import CHUNK_SIZE
from airflow_datastores.stores.registry import open_store

from .test_contract import PatternReader

MiB = 1024 * 1024


@pytest.fixture
def store(gcs_root, gcs_server):
    return open_store(gcs_root, conn_id=gcs_server.conn_id)


def _digests(chunks) -> dict[str, str]:
    md5, crc, sha256 = hashlib.md5(), google_crc32c.Checksum(), hashlib.sha256()
    for chunk in chunks:
        md5.update(chunk)
        crc.update(chunk)
        sha256.update(chunk)
    return {"md5": md5.hexdigest(), "crc32c": crc.digest().hex(), "sha256": sha256.hexdigest()}


def _pattern_digests(size: int, seed: int = 7) -> dict[str, str]:
    reader = PatternReader(size, seed)
    return _digests(iter(lambda: reader.read(MiB), b""))


def test_large_object_goes_resumable_with_flat_memory_and_true_checksums(store):
    size = 16 * CHUNK_SIZE + 3
    tracemalloc.start()
    try:
        info = store.write("big/blob.bin", PatternReader(size))  # size unknown: streamed all the same
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = _digests(store.read("big/blob.bin"))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 8 * CHUNK_SIZE < size / 2  # a few chunks, never the object
    assert read_peak < 3 * CHUNK_SIZE
    expected = _pattern_digests(size)
    assert read == expected

    stat = store.stat("big/blob.bin")
    assert stat.size == info.size == size
    assert stat.checksums == info.checksums == {"md5": expected["md5"], "crc32c": expected["crc32c"]}
    assert stat.identity == info.identity and stat.identity.startswith("generation:")
    assert [(i.key, i.identity, i.checksums) for i in store.list("big/")] == [("big/blob.bin", stat.identity,
                                                                               stat.checksums)]
    assert b"".join(store.read("big/blob.bin", start=CHUNK_SIZE - 5, end=CHUNK_SIZE + 5)) == (
        PatternReader(CHUNK_SIZE + 5).read()[CHUNK_SIZE - 5:])


def test_small_object_checksums_in_stat_write_and_list(store):
    info = store.write_bytes("hello.txt", b"hello world")
    expected = {"md5": hashlib.md5(b"hello world").hexdigest(), "crc32c": google_crc32c.value(b"hello world")
                .to_bytes(4, "big").hex()}
    assert info.checksums == store.stat("hello.txt").checksums == next(iter(store.list())).checksums == expected


def test_a_read_never_mixes_two_generations(store):
    store.write("moving.bin", PatternReader(2 * CHUNK_SIZE + 1))
    chunks = store.read("moving.bin")
    first = next(chunks)
    assert len(first) == CHUNK_SIZE
    store.write_bytes("moving.bin", b"replaced")
    with pytest.raises(ObjectChanged, match="was replaced since it was first seen"):
        next(chunks)
    assert store.read_bytes("moving.bin") == b"replaced"


def test_reads_at_and_past_the_end_are_empty(store):
    store.write_bytes("ten.bin", b"0123456789")
    store.write_bytes("empty.bin", b"")
    assert b"".join(store.read("ten.bin", start=10)) == b""
    assert b"".join(store.read("ten.bin", start=8, end=100)) == b"89"
    assert b"".join(store.read("empty.bin", start=0, end=5)) == b""
    assert store.read_bytes("empty.bin") == b""


def test_create_only_large_write_refuses_an_existing_key(store):
    # A create-only write is one single-request upload whatever its size: fake-gcs-server ignores
    # ifGenerationMatch on resumable uploads, and holds to it on single-request ones.
    store.write_bytes("taken.bin", b"first")
    with pytest.raises(AlreadyExists, match="gs://.*/taken.bin"):
        store.write("taken.bin", PatternReader(gcs.SINGLE_REQUEST_LIMIT + 1), create_only=True)
    assert store.read_bytes("taken.bin") == b"first"
    info = store.write("free.bin", PatternReader(gcs.SINGLE_REQUEST_LIMIT + 1), create_only=True)
    assert info.size == gcs.SINGLE_REQUEST_LIMIT + 1


def test_listing_pages_below_a_prefix_root(gcs_root, gcs_server, monkeypatch):
    monkeypatch.setattr(gcs, "LIST_PAGE_SIZE", 5)
    store = open_store(f"{gcs_root}/sub/dir", conn_id=gcs_server.conn_id)
    keys = [f"k{i:02d}.txt" for i in range(12)]
    for key in keys:
        store.write_bytes(key, key.encode())
    open_store(gcs_root, conn_id=gcs_server.conn_id).write_bytes("outside.txt", b"not below the root")
    listed = list(store.list())
    assert [i.key for i in listed] == keys
    assert all(i.url == f"{gcs_root}/sub/dir/{i.key}" and i.size == 7 for i in listed)
    assert [i.key for i in store.list("k1")] == ["k10.txt", "k11.txt"]


def test_missing_bucket_is_not_found_naming_the_url(gcs_server):
    store = open_store("gs://no-such-bucket", conn_id=gcs_server.conn_id)
    for call in (lambda: store.stat("a/b.txt"), lambda: store.read_bytes("a/b.txt"),
                 lambda: store.write_bytes("a/b.txt", b"x"), lambda: list(store.list("a/"))):
        with pytest.raises(NotFound, match="the bucket 'no-such-bucket' does not exist") as err:
            call()
        assert "gs://no-such-bucket/a/" in str(err.value)
    store.delete("a/b.txt")  # nothing to delete is not an error


def test_missing_object_is_not_found(store):
    for call in (lambda: store.stat("a/b.txt"), lambda: store.read_bytes("a/b.txt")):
        with pytest.raises(NotFound, match=r"/a/b\.txt: no such object"):
            call()


def test_storage_emulator_host_environment_variable(gcs_root, gcs_server, monkeypatch):
    # A connection without emulator_host (e.g. the default one) talks to the emulator the variable names.
    monkeypatch.setenv("AIRFLOW_CONN_GCS_PLAIN", json.dumps({"conn_type": "google_cloud_platform",
                                                              "extra": {"project": "test-project"}}))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    store = open_store(gcs_root, conn_id="gcs_plain")
    store.write_bytes("via-env.txt", b"found the emulator")
    assert store.read_bytes("via-env.txt") == b"found the emulator"


def test_missing_google_libraries_name_the_extra(monkeypatch):
    for module in [m for m in sys.modules if m.startswith("airflow_datastores.stores.gcs")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "airflow.providers.google.cloud.hooks.gcs", None)  # "not installed"
    real = registry.installed_version  # and its distribution is not installed either (else: a broken extra)
    monkeypatch.setattr(registry, "installed_version", lambda name: None if name == "apache-airflow-providers-google" else real(name))
    with pytest.raises(MissingExtra, match=r"gs:// store needs the 'gcs' extra.*\[gcs\]'"):
        registry.backend_class("gs")
