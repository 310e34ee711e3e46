"""Ordinary faults, injected by a real proxy between our client and each real server.

Every backend (S3, Azure, GCS, Swift, HTTP) through staging, snapshot and verify: a connection reset
mid-body resumes (the log names the byte), three 503s in a row on each request kind are survived, a
flipped byte is an IntegrityError with nothing left behind, an object replaced mid-download is never
stitched, and a stall ends in a retry within the read timeout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time

import pytest

from airflow_datastores.errors import IntegrityError
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, snapshot, verify_version
from tests.faults.conftest import BACKENDS, FAST
from tests.servers.faults import Fault

MiB = 1024 * 1024
WRITABLE = [b for b in BACKENDS if b != "http"]
#: Above every backend's single-request limit: an S3 multipart upload, Azure blocks, a GCS resumable
#: upload, a Swift SLO.
LARGE = 20 * MiB + 123
SMALL = 3 * MiB + 7


def _payload(size: int, seed: bytes = b"x") -> bytes:
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB, not compressible into a pattern
    return (block * (size // len(block) + 1))[:size]


def _store(faulty):
    return open_store(faulty.root, conn_id=faulty.conn_id)


def _upload(faulty, key: str, data: bytes) -> None:
    """Through our store (HTTP is read-only: the server's directory)."""
    if faulty.backend == "http":
        faulty.put(key, data)
    else:
        import io

        _store(faulty).write(key, io.BytesIO(data))


def _stage(faulty, tmp_path, key: str, logger_name: str = "faults"):
    return stage_inputs({"data": {"url": faulty.url(key), "conn_id": faulty.conn_id}},
                        inputs_dir=str(tmp_path / "in"), policy=FAST, max_concurrency=1,
                        logger=logging.getLogger(logger_name), progress_interval=0)


def _fault(faulty, kind: str, key: str = "", **action) -> Fault:
    method, pattern = faulty.patterns[kind]
    return Fault(method=method, path=pattern.replace("{key}", re.escape(faulty.quote(key))), **action)


def _files(directory) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _, fs in os.walk(directory) for f in fs)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_a_reset_mid_body_resumes_and_stages_the_same_bytes(faulty, tmp_path, log, azure_log, size):
    data = _payload(size)
    _upload(faulty, "obj.bin", data)
    large = size == LARGE
    # Late in the large object: a reset drops what sat unread in the socket buffers (several MiB on a
    # loaded machine), so the client must have read well past the first piece when it comes.
    cut = (MiB + 5 if faulty.read_skip_large else 17 * MiB + 5) if large else MiB + 5
    faulty.proxy.add(_fault(faulty, "read", "obj.bin", reset_after=cut,
                            skip=faulty.read_skip_large if large else 0))
    record = _stage(faulty, tmp_path, "obj.bin").records[0]
    assert faulty.proxy.fired() == 1
    assert open(record.path, "rb").read() == data
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    reads = [r for r in faulty.proxy.requests if r.method == "GET" and faulty.quote("obj.bin") in r.target]
    ranges = [r.headers.get("range") or r.headers.get("x-ms-range") or "" for r in reads]
    if faulty.backend == "azure":
        # azure-storage-blob reads again a chunk that broke off itself (the whole chunk, pinned to the
        # ETag, up to 3 times, 1 s apart); our policy takes over when it gives up. Each repeat is said.
        assert len(reads) >= 2, ranges
        repeats = [line for line in azure_log + log if "Retrying read" in line]
        assert repeats and all(line.count(faulty.url("obj.bin")) == 1 for line in repeats), (azure_log, log)
        assert any("the Azure SDK repeats a chunk" in line for line in azure_log), azure_log
        return
    retries = [line for line in log if "Retrying read" in line]
    assert len(retries) == 1, log
    resumed = int(re.search(r"resuming at byte (\d+)", retries[0]).group(1))
    assert 0 <= resumed <= cut + (8 * MiB if faulty.read_skip_large and large else 0)
    if large:
        # Not started over (a reset also drops what sat unread in the client's socket buffer).
        assert resumed >= MiB
    assert retries[0].count(faulty.url("obj.bin")) == 1  # the URL once, not twice
    assert any(_range_start(rng) == resumed for rng in ranges[1:]), ranges


def _range_start(header: str) -> int:
    found = re.match(r"bytes=(\d+)-", header or "")
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize(("faulty", "kind"), [(b, k) for b in BACKENDS for k in ("list", "stat", "read")
                                               if not (b == "http" and k == "list")],  # HTTP has no listing
                         indirect=["faulty"])
def test_three_503s_in_a_row_are_survived(faulty, tmp_path, kind):
    data = _payload(SMALL)
    _upload(faulty, "dir/obj.bin", data)
    faulty.proxy.add(_fault(faulty, kind, "dir/obj.bin", status=503, times=3))
    url = faulty.url("dir/*.bin" if kind == "list" else "dir/obj.bin")
    record = stage_inputs({"data": {"url": url, "conn_id": faulty.conn_id}}, inputs_dir=str(tmp_path / "in"),
                          policy=FAST, progress_interval=0).records[0]
    assert faulty.proxy.fired() == 3
    assert open(record.path, "rb").read() == data


def test_a_flipped_byte_is_caught_and_nothing_is_kept(faulty, tmp_path):
    data = _payload(LARGE)
    key = "digest/obj.bin" if faulty.backend == "http" else "obj.bin"  # our HTTP server states a digest there
    _upload(faulty, key, data)
    # Inside the first 4 MiB: every read's first answer holds that much (Azure's GETs hold 4 MiB).
    faulty.proxy.add(_fault(faulty, "read", key, flip_at=3 * MiB + 3, times=100))
    with pytest.raises(IntegrityError, match=re.escape(faulty.url(key))):
        _stage(faulty, tmp_path, key)
    assert _files(tmp_path / "in") == []


def test_an_object_replaced_mid_download_is_never_stitched(faulty, tmp_path, log):
    old, new = _payload(LARGE, b"old"), _payload(LARGE, b"new")
    faulty.put("moving.bin", old)
    faulty.proxy.add(_fault(faulty, "read", "moving.bin", skip=faulty.read_skip_large,
                            reset_after=MiB if faulty.read_skip_large else 9 * MiB,
                            on_fire=lambda: faulty.put("moving.bin", new)))
    record = _stage(faulty, tmp_path, "moving.bin").records[0]
    staged = open(record.path, "rb").read()
    assert staged == new  # started over on the new object: all of it, none of the old
    assert any("was replaced while it was staged" in line for line in log), log


def test_a_stall_ends_within_the_read_timeout_and_resumes(faulty, tmp_path, log, azure_log):
    data = _payload(LARGE)
    _upload(faulty, "slow.bin", data)
    faulty.proxy.add(_fault(faulty, "read", "slow.bin", stall=30, stall_after=2 * MiB))
    started = time.monotonic()
    record = _stage(faulty, tmp_path, "slow.bin").records[0]
    assert open(record.path, "rb").read() == data
    assert time.monotonic() - started < 30  # the stall was cut short by the read timeout, not waited out
    if faulty.backend == "azure":  # azure-storage-blob repeats a stalled chunk read itself: said in its log
        assert any("the Azure SDK repeats a chunk" in line for line in azure_log), azure_log
    else:
        assert any("Retrying read" in line and "resuming at byte" in line for line in log), log


@pytest.mark.parametrize("faulty", WRITABLE, indirect=True)
def test_snapshot_survives_503s_on_uploads_and_commit_and_verify_survives_a_reset(faulty, tmp_path, retry_log):
    outputs = tmp_path / "out"
    outputs.mkdir()
    large, small = _payload(LARGE, b"l"), _payload(SMALL, b"s")
    (outputs / "large.bin").write_bytes(large)
    (outputs / "small.bin").write_bytes(small)
    faulty.proxy.add(_fault(faulty, "upload", status=503, times=2), _fault(faulty, "commit", status=503, times=3))
    store = _store(faulty)
    version = snapshot(str(outputs), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    assert faulty.proxy.fired() == 5
    # Each 503 repeated once by the one policy and said once (a GCS resumable upload's requests too,
    # which the SDK repeats with our policy's delays and bounds).
    retries = [line for line in retry_log if line.startswith("Retrying")]
    assert len(retries) == 5, retry_log
    assert all(faulty.url("") in line for line in retries), retries
    assert {f.path: f.sha256 for f in version.files} == {
        "large.bin": hashlib.sha256(large).hexdigest(), "small.bin": hashlib.sha256(small).hexdigest()}
    faulty.proxy.add(_fault(faulty, "read", "large.bin", reset_after=MiB, skip=faulty.read_skip_large))
    report = verify_version(store, version)
    assert report.ok and report.checked == 2
    assert faulty.proxy.fired() == 6
    faulty.proxy.add(_fault(faulty, "read", "small.bin", flip_at=MiB, times=100))
    report = verify_version(store, version)
    assert report.corrupt == ["small.bin"] and faulty.proxy.fired() > 6


@pytest.mark.parametrize("faulty", WRITABLE, indirect=True)
def test_an_upload_corrupted_in_transit_is_sent_again(faulty, tmp_path):
    outputs = tmp_path / "out"
    outputs.mkdir()
    small = _payload(SMALL, b"u")
    (outputs / "small.bin").write_bytes(small)
    method, pattern = faulty.patterns["commit"] if faulty.backend == "gcs" else faulty.patterns["upload"]
    if faulty.backend == "gcs":  # a single-request upload carries the name in its body, not its URL
        pattern = r"uploadType=multipart(?!.*ifGenerationMatch)"
    faulty.proxy.add(Fault(method=method, path=pattern, flip_request_at=MiB + 1))
    store = _store(faulty)
    version = snapshot(str(outputs), store=store, producer=Producer(dag_id="d", task_id="u", run_id="r1"))
    assert faulty.proxy.fired() == 1
    assert version.files[0].sha256 == hashlib.sha256(small).hexdigest()
    assert verify_version(store, version).ok  # the store holds the bytes that were meant, not the flipped ones


@pytest.mark.parametrize("faulty", ["s3", "seaweedfs"], indirect=True)
def test_a_listing_broken_on_its_second_page_resumes_without_losing_a_key(faulty):
    # S3 lists in key order; SeaweedFS lists directory by directory, so "d/k-x/z" (before "d/k/0000" in
    # key order) comes after "d/k/1004". A resume that passed over every key up to the last one
    # yielded lost it without a word.
    from concurrent.futures import ThreadPoolExecutor

    from airflow_datastores.inputs.resolve import resolve_inputs
    from airflow_datastores.inputs.spec import parse_inputs

    keys = [f"d/k/{i:04d}" for i in range(1005)] + ["d/k-x/z", "d/l"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: faulty.put(key, key.encode()), keys))
    faulty.proxy.add(Fault(method="GET", path=r"list-type=2.*continuation-token", status=503))
    found = resolve_inputs(parse_inputs({"d": {"url": faulty.url("d/**"), "conn_id": faulty.conn_id,
                                               "keep_directories": "full"}}))
    assert faulty.proxy.fired() == 1
    assert sorted(f.key for f in found) == sorted(keys)
