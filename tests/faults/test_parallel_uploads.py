"""Uploads in parallel, through the real fault proxy (which holds each upload request a moment, so the
ones sent at once overlap there): a large file's parts (S3 parts, Azure blocks, Swift segments) go out
at once with the object's full checksum right, and many small files go out at once, not eight at a
time as when each held a whole part of the store's memory budget; the budget comes back.

GCS is not here: one object is one resumable upload, whose requests go in order by protocol.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from airflow_datastores.stores import azure, s3, swift
from airflow_datastores.versions import Producer, snapshot
from tests.faults.test_faults import _payload, _store
from tests.servers.faults import Fault

MiB = 1024 * 1024
HOLD = 0.3
#: What a part of a large upload looks like at the proxy.
PARTS = {"s3": ("PUT", r"partNumber=\d+"), "azure": ("PUT", r"comp=block(&|$)"), "swift": ("PUT", r"_segments/")}


@pytest.mark.parametrize("faulty", list(PARTS), indirect=True)
def test_a_large_file_goes_as_parallel_parts_with_its_full_checksum(faulty, monkeypatch):
    monkeypatch.setattr(azure, "BLOCK_SIZE", MiB)
    monkeypatch.setattr(swift, "SEGMENT_SIZE", MiB)
    part = s3.PART_SIZE if faulty.backend == "s3" else MiB  # S3 takes no part under 5 MiB but the last
    data = _payload(4 * part + 5)
    method, pattern = PARTS[faulty.backend]
    faulty.proxy.add(Fault(method=method, path=pattern, delay=HOLD, times=100))
    store = _store(faulty)
    info = store.write("large.bin", io.BytesIO(data))
    assert faulty.proxy.fired() == 5
    assert faulty.proxy.peak >= 3  # parts overlapped: not one after another
    assert store.read_bytes("large.bin") == data
    vouched = store.vouched(store.stat("large.bin"))
    if faulty.backend == "s3":  # the full-object checksum, computed in order while the parts went out
        assert vouched.checksums == info.checksums and "crc64nvme" in vouched.checksums
    elif faulty.backend == "azure":
        assert vouched.checksums == {"md5": hashlib.md5(data).hexdigest()}
    assert store.inner._memory.used == 0


@pytest.mark.parametrize("faulty", ["s3", "azure", "gcs", "swift"], indirect=True)
def test_many_small_files_upload_at_once(faulty, tmp_path):
    outputs = tmp_path / "out"
    outputs.mkdir()
    files = {f"small-{i:02d}.bin": _payload(8192 + i, bytes([i])) for i in range(24)}
    for name, data in files.items():
        (outputs / name).write_bytes(data)
    if faulty.backend == "gcs":  # a single-request upload names its object in its body, not its URL
        upload = Fault(method="POST", path=r"uploadType=multipart(?!.*ifGenerationMatch)", delay=HOLD, times=100)
    else:
        upload = Fault(method="PUT", path=r"small-\d+\.bin", delay=HOLD, times=100)
    faulty.proxy.add(upload)
    store = _store(faulty)
    version = snapshot(str(outputs), store=store, producer=Producer(dag_id="d", task_id="small", run_id="r1"),
                       max_concurrency=24)
    assert faulty.proxy.fired() == 24
    assert faulty.proxy.peak >= 12  # more than the eight parts of the memory budget
    assert {f.path: f.sha256 for f in version.files} == {
        name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    assert store.inner._memory.used == 0
