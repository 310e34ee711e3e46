"""Large objects read as parallel ranges (stores/parallel.py), through the real fault proxy on every
backend that serves ranges: the bytes and digests are right and every range is pinned to the object;
a flipped byte in one range is caught, an object replaced while its ranges are read is never
stitched, a reset inside a range resumes inside it; nothing is left behind.

The thresholds are lowered for these tests (ranges of 1 MiB from 2 MiB on, helpers whatever the
stream's rate), so a 12 MiB object has ten ranges and a test takes a second, not a 512 MiB object.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import re
import threading

import pytest

from airflow_datastores.errors import IntegrityError
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores import gcs, parallel
from tests.faults.conftest import FAST
from tests.faults.test_faults import _files, _payload, _upload
from tests.servers.faults import Fault

MiB = 1024 * 1024
SIZE = 12 * MiB + 123
#: The request header that carries a read's range.
RANGE = "range|x-ms-range"
#: The request header (or query) that pins a read to the object first seen, per backend.
PINS = {"s3": "if-match", "seaweedfs": "if-match", "azure": "if-match", "swift": "if-match", "http": "if-range"}


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch):
    """Ranges of 1 MiB for objects from 2 MiB, decided after the first stream's second piece."""
    monkeypatch.setattr(parallel, "RANGED_FROM", 2 * MiB)
    monkeypatch.setattr(parallel, "RANGE_SIZE", MiB)
    monkeypatch.setattr(parallel, "PROBE", 1)
    monkeypatch.setattr(parallel, "FAST_STREAM", float("inf"))
    monkeypatch.setattr(gcs, "CHUNK_SIZE", MiB)  # GCS reads in ranged requests of this size anyway


def _stage(faulty, tmp_path, key: str, **options):
    return stage_inputs({"data": {"url": faulty.url(key), "conn_id": faulty.conn_id}},
                        inputs_dir=str(tmp_path / "in"), policy=FAST, logger=logging.getLogger("faults"),
                        progress_interval=0, **options)


def _key(faulty) -> str:
    return "digest/big.bin" if faulty.backend == "http" else "big.bin"  # our HTTP server states a digest there


def _reads(faulty, key: str) -> list:
    method, pattern = faulty.patterns["read"]
    pattern = pattern.replace("{key}", re.escape(faulty.quote(key)))
    return [r for r in faulty.proxy.requests if r.method == method and re.search(pattern, r.target)]


def _start(request) -> int | None:
    value = request.headers.get("x-ms-range") or request.headers.get("range") or ""
    found = re.match(r"bytes=(\d+)-", value)
    return int(found.group(1)) if found else None


def _pinned(faulty, request) -> bool:
    if faulty.backend == "gcs":
        return "generation=" in request.target
    return PINS[faulty.backend] in request.headers


def test_a_large_object_is_read_as_pinned_parallel_ranges_and_hashed_in_order(faulty, tmp_path):
    data = _payload(SIZE)
    key = _key(faulty)
    _upload(faulty, key, data)
    record = _stage(faulty, tmp_path, key).records[0]
    assert open(record.path, "rb").read() == data
    assert (record.md5, record.sha1, record.sha256) == tuple(
        hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256"))
    assert record.verified != "size"
    reads = _reads(faulty, key)
    starts = sorted(s for s in map(_start, reads) if s)
    # The first stream, then a range of 1 MiB from every MiB after where it stopped, each asked once.
    assert len(starts) >= 5 and len(set(starts)) == len(starts), starts
    assert all(start % MiB == starts[0] % MiB for start in starts), starts
    assert starts[-1] == starts[0] + (SIZE - 1 - starts[0]) // MiB * MiB, starts
    # HTTP has no precondition for a whole-body GET that every server keeps: the answer's ETag is compared.
    pinned = [r for r in reads if _start(r) is not None or faulty.backend != "http"]
    assert all(_pinned(faulty, request) for request in pinned), [(r.target, r.headers) for r in pinned]


def test_a_flipped_byte_in_one_range_is_caught_and_nothing_is_kept(faulty, tmp_path):
    data = _payload(SIZE)
    key = _key(faulty)
    _upload(faulty, key, data)
    faulty.proxy.add(Fault(method="GET", header=(RANGE, f"bytes={10 * MiB}-"), flip_at=1234, times=100))
    with pytest.raises(IntegrityError, match=re.escape(faulty.url(key))):
        _stage(faulty, tmp_path, key)
    assert faulty.proxy.fired() >= 1
    assert _files(tmp_path / "in") == []


def test_an_object_replaced_while_its_ranges_are_read_is_never_stitched(faulty, tmp_path, log):
    old, new = _payload(SIZE, b"old"), _payload(SIZE, b"new")
    faulty.put("moving.bin", old)
    # A range late in the object breaks off, and the object is replaced before it resumes.
    faulty.proxy.add(Fault(method="GET", header=(RANGE, f"bytes={9 * MiB}-"), reset_after=300 * 1024,
                           on_fire=lambda: faulty.put("moving.bin", new)))
    record = _stage(faulty, tmp_path, "moving.bin").records[0]
    assert faulty.proxy.fired() == 1
    assert open(record.path, "rb").read() == new  # started over on the new object: all of it, none of the old
    assert record.sha256 == hashlib.sha256(new).hexdigest()
    assert any("was replaced while it was staged" in line for line in log), log
    assert _files(tmp_path / "in") == ["data/moving.bin"]


def test_a_reset_inside_a_range_resumes_inside_it(faulty, tmp_path, log, azure_log):
    data = _payload(SIZE)
    _upload(faulty, "obj.bin", data)
    start = 8 * MiB
    faulty.proxy.add(Fault(method="GET", header=(RANGE, f"bytes={start}-"), reset_after=600 * 1024))
    record = _stage(faulty, tmp_path, "obj.bin").records[0]
    assert faulty.proxy.fired() == 1
    assert open(record.path, "rb").read() == data
    if faulty.backend == "azure":  # the SDK reads the chunk again itself, pinned; said in its log
        assert any("the Azure SDK repeats a chunk" in line for line in azure_log), azure_log
        return
    retries = [line for line in log if "Retrying read" in line]
    assert len(retries) == 1, log
    resumed = int(re.search(r"resuming at byte (\d+)", retries[0]).group(1))
    assert start <= resumed <= start + 600 * 1024  # inside the range, not from its start again
    assert resumed in [_start(r) for r in _reads(faulty, "obj.bin")]


@pytest.mark.parametrize("faulty", ["seaweedfs"], indirect=True)
def test_one_stream_when_it_is_fast_enough_or_no_connection_is_free(faulty, tmp_path, monkeypatch):
    data = _payload(SIZE)
    _upload(faulty, "one.bin", data)
    _stage(faulty, tmp_path / "a", "one.bin", max_connections=1)  # the file's own connection, no more
    monkeypatch.setattr(parallel, "FAST_STREAM", 0.0)  # every stream counts as fast enough
    _stage(faulty, tmp_path / "b", "one.bin")
    reads = _reads(faulty, "one.bin")
    assert len(reads) == 2 and [_start(r) for r in reads] == [None, None]


class _NoRanges(http.server.SimpleHTTPRequestHandler):
    """The stdlib's file server: it says nothing of ranges and ignores them."""

    def log_message(self, *args) -> None:
        pass


def test_a_server_that_does_not_offer_ranges_is_read_in_one_stream(tmp_path):
    data = _payload(SIZE)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "big.bin").write_bytes(data)
    seen = []

    class Handler(_NoRanges):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "srv"), **kwargs)

        def do_GET(self):
            seen.append(self.headers.get("Range"))
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/big.bin"
        record = stage_inputs({"data": url}, inputs_dir=str(tmp_path / "in"), progress_interval=0).records[0]
    finally:
        server.shutdown()
        server.server_close()
    assert open(record.path, "rb").read() == data
    assert seen == [None]
