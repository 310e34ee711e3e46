"""A full disk while staging, on a real small file system (a 1 MiB tmpfs, mounted as root): the error
names the input, the target directory, the bytes the input needs and the bytes free, before any
download where the sizes are known; nothing is left behind. A disk that fills during a download (the
fault proxy holds the read while another writer fills it) says the same. A snapshot from a full local
store names the file."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from airflow_datastores.errors import DataStoreError, NotEnoughSpace
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, snapshot
from tests.faults.conftest import FAST
from tests.servers.faults import Fault

KB = 1000


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at a fresh directory, unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", str(where)], check=True)


def _files(directory) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _, fs in os.walk(directory) for f in fs)


def _stage(faulty, inputs_dir, pattern: str):
    return stage_inputs({"big": {"url": faulty.url(pattern), "conn_id": faulty.conn_id}}, inputs_dir=str(inputs_dir),
                        policy=FAST, progress_interval=0)


@pytest.mark.parametrize("faulty", ["s3", "seaweedfs"], indirect=True)
def test_inputs_larger_than_the_free_space_fail_before_any_download(faulty, small_disk):
    for name in ("a.bin", "b.bin"):
        faulty.put(f"in/{name}", os.urandom(700 * KB))
    inputs_dir = small_disk / "inputs"
    with pytest.raises(NotEnoughSpace) as err:
        _stage(faulty, inputs_dir, "in/*.bin")
    message = str(err.value)
    assert f"Not enough space in {inputs_dir}" in message and "'big' needs 1,400,000 bytes" in message, message
    free = int(re.search(r"([\d,]+) bytes \([^)]*\) are free", message).group(1).replace(",", ""))
    assert 0 < free <= 1024 * 1024
    assert not [r for r in faulty.proxy.requests if r.method == "GET" and "list-type" not in r.target]  # no read
    assert _files(small_disk) == []


@pytest.mark.parametrize("faulty", ["s3"], indirect=True)
def test_a_disk_that_fills_during_the_download_fails_naming_the_input_and_leaves_nothing(faulty, small_disk):
    faulty.put("in/a.bin", os.urandom(600 * KB))
    filler = small_disk / "another-writer.bin"
    # The read breaks off after 100 kB; meanwhile another writer takes 700 kB of the 1 MiB.
    faulty.proxy.add(Fault(method="GET", path=r"/in/a\.bin$", reset_after=100 * KB,
                           on_fire=lambda: filler.write_bytes(b"f" * 700 * KB)))
    inputs_dir = small_disk / "inputs"
    with pytest.raises(NotEnoughSpace) as err:
        _stage(faulty, inputs_dir, "in/a.bin")
    message = str(err.value)
    assert faulty.proxy.fired() == 1
    assert f"{inputs_dir}/big" in message and "'big' needs 600,000 bytes" in message, message
    assert f"while {faulty.url('in/a.bin')} was staged" in message and "are free" in message
    assert _files(small_disk) == ["another-writer.bin"]


def test_a_snapshot_into_a_full_local_store_names_the_file(small_disk, tmp_path):
    store = open_store(f"file://{small_disk}/store")
    out = tmp_path / "out"
    out.mkdir()
    (out / "large.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(DataStoreError, match=r"large\.bin: No space left on device"):
        snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r"))
    assert [f for f in _files(small_disk / "store") if not f.startswith(".datastore-tmp")] == []
