"""A listing and a HEAD of one object give the same identity on every backend (the cache and
skip_if_unchanged key on it, and a read is pinned to it), also on a versioned S3 bucket and for a
large object (multipart, blocks, resumable, SLO)."""

from __future__ import annotations

import io

import pytest

from airflow_datastores.stores.registry import open_store

ROOTS = ["local_root", "s3_root", "azure_root", "gcs_root", "swift_root"]


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("size", [10, 17 * 1024 * 1024], ids=["small", "large"])
def test_listing_and_stat_agree_on_identity(request, root, size):
    store = open_store(request.getfixturevalue(root), conn_id=_conn(root))
    written = store.write("a/obj.bin", io.BytesIO(b"z" * size))
    listed = next(info for info in store.list("a/") if info.key == "a/obj.bin")
    stat = store.stat("a/obj.bin")
    assert listed.identity == stat.identity == written.identity
    assert listed.size == stat.size == size


def test_a_versioned_s3_bucket_keeps_one_identity(s3_server, s3_root):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = s3_root[len("s3://"):]
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="v.txt", Body=b"one")
    store = open_store(s3_root, conn_id="test_s3")
    assert client.head_object(Bucket=bucket, Key="v.txt")["VersionId"] not in (None, "null")
    listed = next(iter(store.list("v.txt")))
    assert listed.identity == store.stat("v.txt").identity
    client.put_object(Bucket=bucket, Key="v.txt", Body=b"two")
    assert store.stat("v.txt").identity != listed.identity  # a new version is a new identity


def _conn(root: str) -> str | None:
    return {"s3_root": "test_s3", "azure_root": "test_azure", "gcs_root": "test_gcs",
            "swift_root": "test_swift"}.get(root)
