"""Two real S3 servers, moto and SeaweedFS: where they differ from S3 and from each other, said here,
and what the S3 store does either way (it depends on none of these differences).

* A simple PUT's HEAD: SeaweedFS returns the CRC64NVME we sent without a ``ChecksumType``; moto
  returns no checksum at all. The store reads a checksum without a type by S3's own rules.
* ``GetObjectAttributes``: SeaweedFS returns no checksum, not even of a full-object multipart upload;
  moto does. The HEAD vouches alone.
* A wrong checksum sent with a PUT: SeaweedFS refuses it (400 BadDigest), moto stores the bytes. The
  store also checks a simple PUT's ETag against the md5 of what it sent.
* A conditional ``CompleteMultipartUpload``: two racing completes both won on SeaweedFS (6 of 20
  rounds, test-servers.md), so no create-only write is ever a multipart upload
  (tests/stores/test_versions_backends.py races them).
"""

from __future__ import annotations

import base64
import hashlib

import boto3
import pytest
from botocore.config import Config

from airflow_datastores.errors import ObjectChanged
from airflow_datastores.stores.registry import open_store

from .test_contract import PatternReader

MiB = 2**20
SERVERS = {"moto": ("s3_server", "s3_root", "test_s3"), "seaweedfs": ("seaweedfs_server", "seaweedfs_root",
                                                                      "test_seaweedfs")}


@pytest.fixture(params=sorted(SERVERS))
def s3(request):
    server_fixture, root_fixture, conn_id = SERVERS[request.param]
    server, root = request.getfixturevalue(server_fixture), request.getfixturevalue(root_fixture)
    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))
    return request.param, open_store(root, conn_id=conn_id), client, root[len("s3://"):]


def test_a_simple_put_is_vouched_for_by_its_md5_whatever_the_head_says(s3):
    name, store, client, bucket = s3
    data = b"z" * 1000
    store.write_bytes("small.bin", data)
    head = client.head_object(Bucket=bucket, Key="small.bin", ChecksumMode="ENABLED")
    assert "ChecksumType" not in head  # neither server says the type of a simple PUT's checksum
    if name == "seaweedfs":
        assert head["ChecksumCRC64NVME"]  # kept, without its type
    else:
        assert not any(field.startswith("Checksum") for field in head)  # moto keeps none
    info = store.stat("small.bin")
    assert info.checksums["md5"] == hashlib.md5(data).hexdigest()
    assert store.vouched(info).source == "s3:md5"


def test_a_multipart_upload_is_vouched_for_by_its_full_object_crc64nvme(s3):
    name, store, client, bucket = s3
    store.write("large.bin", PatternReader(17 * MiB))
    attributes = client.get_object_attributes(Bucket=bucket, Key="large.bin", ObjectAttributes=["Checksum"])
    if name == "seaweedfs":
        assert "Checksum" not in attributes  # SeaweedFS: no checksums in GetObjectAttributes
    else:
        assert attributes["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    vouched = store.vouched(store.stat("large.bin"))
    assert vouched.source == "s3:crc64nvme" and vouched.checksums["crc64nvme"]


def test_a_wrong_checksum_is_refused_or_caught(s3):
    name, _store, client, bucket = s3
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    if name == "seaweedfs":
        with pytest.raises(client.exceptions.ClientError, match="BadDigest"):
            client.put_object(Bucket=bucket, Key="bad.bin", Body=b"hello", ChecksumSHA256=wrong)
    else:  # moto stores it: the store's own ETag check is what catches bytes corrupted on the way in
        client.put_object(Bucket=bucket, Key="bad.bin", Body=b"hello", ChecksumSHA256=wrong)


def test_a_pinned_read_of_a_replaced_object_is_refused(s3):
    _name, store, _client, _bucket = s3
    store.write_bytes("moving.bin", b"first")
    identity = store.stat("moving.bin").identity
    store.write_bytes("moving.bin", b"second, longer")
    with pytest.raises(ObjectChanged, match="replaced since it was first seen"):
        b"".join(store.inner.read("moving.bin", start=1, identity=identity))
    assert b"".join(store.read("moving.bin", start=1, identity=store.stat("moving.bin").identity)) == \
        b"econd, longer"
