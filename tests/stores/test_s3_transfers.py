"""S3 specifics of speed that must not change behaviour: listings read times with a fast parser, and
the uploads of one store share one budget of parts in memory that every path gives back."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from airflow_datastores.errors import DataStoreError
from airflow_datastores.stores import s3
from airflow_datastores.stores.registry import open_store

MiB = 2**20


def _client(s3_server):
    return boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_listing_times_are_the_ones_botocore_reads(s3_server, s3_root):
    store = open_store(s3_root, conn_id="test_s3")
    for name in ("a.txt", "b/c.txt"):
        store.write_bytes(name, b"x")
    plain = {o["Key"]: o["LastModified"] for o in _client(s3_server).list_objects_v2(
        Bucket=s3_root[len("s3://"):])["Contents"]}
    listed = {info.key: info.modified for info in store.list("")}
    assert listed == plain  # the same instants, time zone aware
    assert all(t.utcoffset() is not None for t in listed.values())
    assert store.stat("a.txt").modified == plain["a.txt"]  # a HEAD's HTTP date goes to botocore's parser


def test_concurrent_large_uploads_share_the_budget_and_give_it_back(s3_root):
    store = open_store(s3_root, conn_id="test_s3")
    bodies = {f"big-{i}.bin": bytes([i]) * (2 * s3.PART_SIZE + 3 * MiB) for i in range(3)}
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda item: store.write(item[0], io.BytesIO(item[1])), bodies.items()))
    for key, body in bodies.items():
        assert hashlib.md5(store.read_bytes(key)).digest() == hashlib.md5(body).digest()
    assert store.inner._memory.used == 0


class _Breaks(io.RawIOBase):
    """A file whose read fails after ``size`` bytes (a disk error mid-upload)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("disk read error")
        n = min(self.left, MiB if n is None or n < 0 else n)
        self.left -= n
        return b"z" * n


@pytest.mark.parametrize("fails_at", [3 * MiB, s3.PART_SIZE + 5 * MiB], ids=["first-part", "later-part"])
def test_a_failed_upload_gives_its_parts_back_and_leaves_no_upload(s3_server, s3_root, fails_at):
    store = open_store(s3_root, conn_id="test_s3")
    with pytest.raises(OSError, match="disk read error"):
        store.write("broken.bin", _Breaks(fails_at))
    assert store.inner._memory.used == 0
    uploads = _client(s3_server).list_multipart_uploads(Bucket=s3_root[len("s3://"):]).get("Uploads", [])
    assert uploads == []
    with pytest.raises(DataStoreError):
        store.stat("broken.bin")
