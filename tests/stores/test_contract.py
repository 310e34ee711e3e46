"""One contract for every backend, run against the real servers on 127.0.0.1.

Each writable backend (local, S3 on moto and on SeaweedFS, Azure Blob, GCS, Swift with tempauth and with
Keystone v3) must pass every case; HTTP(S) the read ones.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_datastores.errors import AlreadyExists, DataStoreError, NotFound, ReadOnlyStore
from airflow_datastores.stores.registry import open_store

WRITABLE = {
    "local": ("local_root", None),
    "s3": ("s3_root", "test_s3"),  # moto
    "seaweedfs": ("seaweedfs_root", "test_seaweedfs"),  # a second, real S3 server
    "azure": ("azure_root", "test_azure"),
    "gcs": ("gcs_root", "test_gcs"),
    "swift": ("swift_root", "test_swift"),  # tempauth (v1)
    "swift-keystone": ("swift_keystone_root", "test_swift_keystone"),  # Keystone v3, authtoken + keystoneauth
}
LARGE = 20 * 1024 * 1024 + 3  # beyond every backend's single-request threshold


@pytest.fixture(params=sorted(WRITABLE))
def store(request):
    fixture, conn_id = WRITABLE[request.param]
    return open_store(str(request.getfixturevalue(fixture)), conn_id=conn_id)


class PatternReader(io.RawIOBase):
    """``size`` deterministic bytes, produced on the fly (nothing large held in memory)."""

    def __init__(self, size: int, seed: int = 7) -> None:
        self.size, self.pos = size, 0
        self.block = hashlib.shake_256(str(seed).encode()).digest(1 << 20)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        out = bytearray()
        while len(out) < n:
            offset = (self.pos + len(out)) % len(self.block)
            out += self.block[offset : offset + n - len(out)]
        self.pos += n
        return bytes(out)


def pattern(size: int, seed: int = 7) -> bytes:
    return PatternReader(size, seed).read()


def sha256_of_stream(chunks) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_small_round_trip(store, size):
    data = pattern(size)
    info = store.write("round/trip.bin", io.BytesIO(data))
    assert info.size == size and info.key == "round/trip.bin"
    assert store.read_bytes("round/trip.bin") == data
    stat = store.stat("round/trip.bin")
    assert stat.size == size and stat.identity and stat.url == store.url_for("round/trip.bin")
    if "md5" in stat.checksums:
        assert stat.checksums["md5"] == hashlib.md5(data).hexdigest()
    if "sha256" in stat.checksums:
        assert stat.checksums["sha256"] == hashlib.sha256(data).hexdigest()


def test_large_round_trip_streams(store):
    info = store.write("large/blob.bin", PatternReader(LARGE))
    assert info.size == LARGE
    pattern = PatternReader(LARGE)
    expected, _ = sha256_of_stream(iter(lambda: pattern.read(1 << 20), b""))
    chunks = list(map(len, store.read("large/blob.bin")))
    assert max(chunks) <= 16 * 1024 * 1024  # streamed in chunks, not one buffer
    assert sha256_of_stream(store.read("large/blob.bin")) == (expected, LARGE)
    stat = store.stat("large/blob.bin")
    assert stat.size == LARGE
    if "md5" in stat.checksums:  # only ever a checksum of the whole object
        digest = hashlib.md5()
        for chunk in store.read("large/blob.bin"):
            digest.update(chunk)
        assert stat.checksums["md5"] == digest.hexdigest()


def test_large_upload_of_unknown_size(store):
    info = store.write("large/unsized.bin", PatternReader(LARGE, seed=3))
    assert info.size == LARGE == store.stat("large/unsized.bin").size


def test_range_reads(store):
    data = pattern(100_000)
    store.write_bytes("ranges.bin", data)
    assert b"".join(store.read("ranges.bin", start=1000, end=1010)) == data[1000:1010]
    assert b"".join(store.read("ranges.bin", start=99_990)) == data[99_990:]
    assert b"".join(store.read("ranges.bin", start=0, end=1)) == data[:1]


def test_listing_pages_through_1200_keys(store):
    keys = [f"many/{i:04d}.txt" for i in range(1200)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.write_bytes(k, k.encode()), keys))
    store.write_bytes("many-not/x.txt", b"x")
    store.write_bytes("other/y.txt", b"y")
    listed = [info.key for info in store.list("many/")]
    assert listed == keys
    infos = list(store.list("many/01"))
    assert [i.key for i in infos] == keys[100:200]
    assert all(i.size == len(i.key) and i.identity for i in infos)
    assert {i.key for i in store.list("")} >= {"many-not/x.txt", "other/y.txt"}


def test_create_only_refuses_an_existing_key(store):
    store.write_bytes("manifest.json", b"first", create_only=True)
    with pytest.raises(AlreadyExists) as err:
        store.write_bytes("manifest.json", b"second", create_only=True)
    assert store.url_for("manifest.json") in str(err.value)
    assert store.read_bytes("manifest.json") == b"first"


def test_not_found_names_the_url(store):
    for call in (lambda: store.stat("missing/key.txt"), lambda: b"".join(store.read("missing/key.txt"))):
        with pytest.raises(NotFound) as err:
            call()
        assert store.url_for("missing/key.txt") in str(err.value)
    assert list(store.list("missing/")) == []
    store.delete("missing/key.txt")  # deleting what is not there is not an error


def test_keys_with_spaces_and_unicode(store):
    key = "dir with space/ünïcødé 文件 (1).txt"
    store.write_bytes(key, "données".encode())
    assert store.read_bytes(key) == "données".encode()
    assert store.stat(key).key == key
    assert [i.key for i in store.list("dir with space/")] == [key]


def test_identity_changes_when_replaced_and_delete(store):
    store.write_bytes("replaced.txt", b"version one")
    before = store.stat("replaced.txt")
    store.write_bytes("replaced.txt", b"version two, longer")
    after = store.stat("replaced.txt")
    assert after.identity != before.identity and after.size == 19
    store.delete("replaced.txt")
    with pytest.raises(NotFound):
        store.stat("replaced.txt")


# HTTP(S): read-only


@pytest.fixture(params=["http_server", "https_server"])
def http_store(request, tmp_path):
    server = request.getfixturevalue(request.param)
    data = pattern(50_000)
    name = f"contract-{request.param}-{os.getpid()}.bin"
    (server.root_dir / name).write_bytes(data)
    yield open_store(server.endpoint, conn_id=server.conn_id), name, data
    (server.root_dir / name).unlink()


def test_http_reads(http_store):
    store, name, data = http_store
    info = store.stat(name)
    assert info.size == len(data) and info.identity
    assert store.read_bytes(name) == data
    assert b"".join(store.read(name, start=100, end=200)) == data[100:200]
    with pytest.raises(NotFound):
        store.stat("no-such-file.bin")
    with pytest.raises(ReadOnlyStore):
        store.write_bytes("x.bin", b"x")
    with pytest.raises(DataStoreError, match="HTTP has no listing"):
        list(store.list(""))
