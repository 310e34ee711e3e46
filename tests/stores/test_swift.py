"""What the contract suite does not see of the Swift store: SLOs and their segments, exclusive create-only
writes, per-thread connections, and error mapping. Against the real Swift on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_datastores.errors import AccessDenied, AlreadyExists, MissingExtra, NotFound
from airflow_datastores.stores import registry, swift
from airflow_datastores.stores.base import CHUNK_SIZE
from airflow_datastores.stores.parts import MemoryBudget
from airflow_datastores.stores.registry import open_store

from .test_contract import PatternReader, pattern

MiB = 1024 * 1024


@pytest.fixture
def store(swift_root, swift_server):
    return open_store(swift_root, conn_id=swift_server.conn_id)


@pytest.fixture
def server(swift_server):
    """A connection of the test's own, to look at what the store left on the server."""
    import swiftclient

    conn = swiftclient.Connection(authurl=swift_server.auth_url, user="test:tester", key="testing", auth_version="1")
    yield conn
    conn.close()


def _names(conn, container: str, prefix: str = "") -> list[str]:
    try:
        return [item["name"] for item in conn.get_container(container, prefix=prefix, full_listing=True)[1]]
    except Exception as err:
        if getattr(err, "http_status", None) == 404:
            return []
        raise


def _digest(chunks) -> tuple[str, str, int]:
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    for chunk in chunks:
        md5.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return md5.hexdigest(), sha256.hexdigest(), size


def _expected(size: int, seed: int = 7) -> tuple[str, str, int]:
    reader = PatternReader(size, seed)
    return _digest(iter(lambda: reader.read(MiB), b""))


def test_large_object_is_an_slo_written_and_read_with_flat_memory(store, server):
    size = 10 * swift.SEGMENT_SIZE + 3
    store.inner._memory = MemoryBudget(limit=2 * swift.SEGMENT_SIZE)  # two segments in flight at once
    tracemalloc.start()
    try:
        info = store.write("big/blob.bin", PatternReader(size))  # size unknown: streamed all the same
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        md5, sha256, read_size = _digest(store.read("big/blob.bin"))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 5 * swift.SEGMENT_SIZE < size / 2  # the budget's segments and a few more, never the object
    assert store.inner._memory.used == 0
    assert read_peak < 3 * CHUNK_SIZE
    assert (md5, sha256, read_size) == _expected(size)

    container = store.container
    head = server.head_object(container, "big/blob.bin")
    assert head["x-static-large-object"] == "True" and int(head["content-length"]) == size
    segments = _names(server, f"{container}_segments")
    assert len(segments) == 11 and all(name.startswith("big/blob.bin/") for name in segments)
    assert [i.key for i in store.list()] == ["big/blob.bin"]  # the segments live elsewhere

    stat = store.stat("big/blob.bin")
    assert stat.size == size and stat.checksums == {}  # an SLO's ETag is no md5 of its bytes
    assert stat.identity == info.identity == f"etag:{head['etag'].strip(chr(34))}"
    assert next(iter(store.list("big/"))).identity == stat.identity  # listing and HEAD agree: caches hit
    boundary = swift.SEGMENT_SIZE
    assert b"".join(store.read("big/blob.bin", start=boundary - 5, end=boundary + 5)) == (
        PatternReader(boundary + 5).read()[boundary - 5:])

    store.delete("big/blob.bin")
    assert _names(server, f"{container}_segments") == [] and not store.exists("big/blob.bin")


def test_plain_object_offers_its_md5(store):
    data = pattern(5000)
    info = store.write_bytes("small.bin", data)
    stat = store.stat("small.bin")
    assert info.checksums == stat.checksums == {"md5": hashlib.md5(data).hexdigest()}
    assert info.identity == stat.identity == next(iter(store.list())).identity
    assert next(iter(store.list())).checksums == stat.checksums


def test_manifests_nest_beyond_max_manifest_segments(store, server, monkeypatch):
    monkeypatch.setattr(swift, "SEGMENT_SIZE", MiB)
    monkeypatch.setattr(swift, "MAX_MANIFEST_SEGMENTS", 3)
    size = 7 * MiB + 1  # 8 segments: two nested manifests of 3, then 2 segments
    store.write("nested.bin", PatternReader(size))
    assert _digest(store.read("nested.bin")) == _expected(size)
    names = _names(server, f"{store.container}_segments")
    assert len(names) == 10 and sum("/manifest-" in name for name in names) == 2
    store.delete("nested.bin")
    assert _names(server, f"{store.container}_segments") == []


class RacingReader(PatternReader):
    """Bytes of a large object; while the second segment is read, another writer creates the key."""

    def __init__(self, size: int, race) -> None:
        super().__init__(size)
        self.race = race

    def read(self, n: int = -1) -> bytes:
        if self.race and self.pos >= swift.SEGMENT_SIZE:
            self.race()
            self.race = None
        return super().read(n)


def test_a_refused_create_only_write_is_one_plain_put_and_leaves_no_segments(store, server):
    size = 2 * swift.SEGMENT_SIZE + 1
    reader = RacingReader(size, lambda: server.put_object(store.container, "taken.bin", contents=b"the winner"))
    with pytest.raises(AlreadyExists, match="taken.bin"):
        store.write("taken.bin", reader, create_only=True)
    assert reader.race is None  # the other writer came after the store's first check
    assert store.read_bytes("taken.bin") == b"the winner"
    assert _names(server, f"{store.container}_segments") == []


def test_create_only_large_write_of_an_existing_key_uploads_nothing(store, server):
    store.write_bytes("exists.bin", b"first")
    with pytest.raises(AlreadyExists):
        store.write("exists.bin", PatternReader(swift.SEGMENT_SIZE + 1), create_only=True)
    assert store.read_bytes("exists.bin") == b"first"
    assert _names(server, f"{store.container}_segments") == []


def test_racing_create_only_writers_exactly_one_wins(store):
    # Swift lets PUTs with If-None-Match: * that start together all succeed; the store must not.
    writers, keys = 4, ["race/a.json", "race/b.json"]
    barrier = threading.Barrier(writers * len(keys))

    def write(job):
        key, number = job
        body = json.dumps({"writer": number, "padding": "x" * 2000}).encode()
        barrier.wait()
        try:
            store.write_bytes(key, body, create_only=True)
            return key, body
        except AlreadyExists:
            return key, None

    with ThreadPoolExecutor(writers * len(keys)) as pool:
        results = list(pool.map(write, [(key, n) for key in keys for n in range(writers)]))
    for key in keys:
        won = [body for k, body in results if k == key and body is not None]
        assert len(won) == 1, f"{key}: {len(won)} writers were told they won"
        assert store.read_bytes(key) == won[0]


def test_listing_pages_below_a_prefix_root(swift_root, swift_server, server, monkeypatch):
    monkeypatch.setattr(swift, "LIST_PAGE_SIZE", 5)
    monkeypatch.setattr(swift, "SEGMENT_SIZE", MiB)
    store = open_store(f"{swift_root}/sub/dir", conn_id=swift_server.conn_id)
    keys = sorted([f"k{i:02d}.txt" for i in range(12)] + ["large.bin"])
    for key in keys[:-1]:
        store.write_bytes(key, key.encode())
    store.write("large.bin", PatternReader(2 * MiB + 1))
    server.put_object(swift_root[len("swift://"):], "outside.txt", contents=b"not below the root")
    listed = list(store.list())
    assert [i.key for i in listed] == keys
    assert all(i.url == f"{swift_root}/sub/dir/{i.key}" for i in listed)
    assert _names(server, f"{store.container}_segments")[0].startswith("sub/dir/large.bin/")
    assert [i.key for i in store.list("k1")] == ["k10.txt", "k11.txt"]


def test_reads_at_and_past_the_end_are_empty(store):
    store.write_bytes("ten.bin", b"0123456789")
    store.write_bytes("empty.bin", b"")
    assert b"".join(store.read("ten.bin", start=10)) == b""
    assert b"".join(store.read("ten.bin", start=8, end=100)) == b"89"
    assert b"".join(store.read("empty.bin", start=0, end=5)) == b""
    assert store.read_bytes("empty.bin") == b""


def test_threads_get_their_own_connections_and_share_one_token(store, swift_server):
    proxy_log = os.path.join(swift_server.dir, "proxy.log")

    def auths() -> int:
        time.sleep(0.3)  # the proxy logs a request once it answered
        with open(proxy_log, errors="replace") as handle:
            return sum(" GET /auth/v1.0 " in line for line in handle)

    store.write_bytes("shared.txt", b"x")
    before = auths()
    seen = set()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: (store.stat("shared.txt"), seen.add(id(store.conn))), range(64)))
    assert len(seen) > 1  # one connection per thread
    assert auths() == before  # the new connections reused the first one's token


def test_missing_container_is_not_found_naming_the_url(swift_server):
    store = open_store("swift://no-such-container", conn_id=swift_server.conn_id)
    url = "swift://no-such-container/a/b.txt"
    for call in (lambda: store.stat("a/b.txt"), lambda: store.read_bytes("a/b.txt"),
                 lambda: store.write_bytes("a/b.txt", b"x"), lambda: list(store.list("a/"))):
        with pytest.raises(NotFound, match="the container 'no-such-container' does not exist") as err:
            call()
        assert url in str(err.value) or "swift://no-such-container/a/" in str(err.value)
    store.delete("a/b.txt")  # nothing to delete is not an error


def test_missing_object_is_not_found(store):
    with pytest.raises(NotFound, match=r"b\.txt: no such object"):
        store.stat("a/b.txt")


def test_wrong_key_is_access_denied_without_key_or_token(swift_server, swift_root, monkeypatch, caplog):
    bad = dict(swift_server.connection(), password="not-the-key-9876")
    monkeypatch.setenv("AIRFLOW_CONN_BAD_SWIFT_KEY", json.dumps(bad))
    store = open_store(swift_root, conn_id="bad_swift_key")
    with caplog.at_level("DEBUG"):
        for call in (lambda: store.stat("x"), lambda: store.write_bytes("x", b"x"), lambda: list(store.list())):
            with pytest.raises(AccessDenied, match="HTTP 401.*'bad_swift_key'") as err:
                call()
            assert "not-the-key-9876" not in str(err.value) and "AUTH_" not in str(err.value)
            assert err.value.__cause__ is None and err.value.__suppress_context__  # no swiftclient text attached
    assert "not-the-key" not in caplog.text


def test_missing_swiftclient_names_the_extra(monkeypatch):
    for module in [m for m in sys.modules if m.startswith("airflow_datastores.stores.swift")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "swiftclient", None)  # "not installed"
    monkeypatch.setitem(sys.modules, "swiftclient.exceptions", None)
    real = registry.installed_version  # and its distribution is not installed either (else: a broken extra)
    monkeypatch.setattr(registry, "installed_version", lambda name: None if name == "python-swiftclient" else real(name))
    with pytest.raises(MissingExtra, match=r"pip install 'airflow-provider-datastores\[swift\]'"):
        registry.backend_class("swift")


def test_keys_may_not_climb_out_of_the_root(store):
    with pytest.raises(Exception, match="may not start with '/' or contain '..'"):
        store.write("../other/x", io.BytesIO(b"x"))
