"""Objects written by the plain SDKs, not by us: multipart, composite and segmented objects are still
verified part by part, through the fault proxy, and a flipped byte in them is caught."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re

import pytest

from airflow_datastores.errors import IntegrityError
from airflow_datastores.inputs.stage import stage_inputs
from tests.faults.conftest import FAST

MiB = 1024 * 1024
PART = 5 * MiB
DATA = (hashlib.sha256(b"foreign").digest() * (13 * MiB // 32 + 1))[: 13 * MiB + 11]  # three parts


def _stage(faulty, tmp_path, key: str):
    return stage_inputs({"data": {"url": faulty.url(key), "conn_id": faulty.conn_id}},
                        inputs_dir=str(tmp_path / "in"), policy=FAST, progress_interval=0,
                        logger=logging.getLogger("faults")).records[0]


def _flip(faulty, key: str) -> None:
    method, pattern = faulty.patterns["read"]
    from tests.servers.faults import Fault

    faulty.proxy.add(Fault(method=method, path=pattern.replace("{key}", re.escape(faulty.quote(key))),
                           flip_at=PART + 17, times=100))


def _check(faulty, tmp_path, key: str, verified: str) -> None:
    record = _stage(faulty, tmp_path / "ok", key)
    assert open(record.path, "rb").read() == DATA
    assert record.verified == verified
    _flip(faulty, key)
    with pytest.raises(IntegrityError, match=re.escape(faulty.url(key))):
        _stage(faulty, tmp_path / "bad", key)
    assert not list((tmp_path / "bad" / "in").rglob("*.bin"))


#: The S3 cases run on moto and on SeaweedFS, a second real S3 server.
S3_SERVERS = ["s3", "seaweedfs"]


def _s3_client(request, faulty, **config):
    """A plain boto3 client of the server behind ``faulty``, bypassing the proxy."""
    import boto3
    from botocore.config import Config

    server = request.getfixturevalue("s3_server" if faulty.backend == "s3" else "seaweedfs_server")
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(**config))


@pytest.mark.parametrize("faulty", S3_SERVERS, indirect=True)
def test_s3_multipart_without_checksums_is_verified_by_its_etag_part_by_part(faulty, request, tmp_path):
    from boto3.s3.transfer import TransferConfig

    client = _s3_client(request, faulty, request_checksum_calculation="when_required")
    client.upload_fileobj(io.BytesIO(DATA), faulty.root[5:], "multi.bin",
                          Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART))
    assert client.head_object(Bucket=faulty.root[5:], Key="multi.bin")["ETag"].endswith('-3"')
    _check(faulty, tmp_path, "multi.bin", "s3:etag-parts")


@pytest.mark.parametrize("faulty", S3_SERVERS, indirect=True)
def test_s3_multipart_with_the_sdks_default_crc32_is_verified_part_by_part(faulty, request, tmp_path):
    from boto3.s3.transfer import TransferConfig

    _s3_client(request, faulty).upload_fileobj(io.BytesIO(DATA), faulty.root[5:], "default.bin",
                                         Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART))
    _check(faulty, tmp_path, "default.bin", "s3:composite-crc32")


@pytest.mark.parametrize("faulty", S3_SERVERS, indirect=True)
def test_s3_composite_sha256_is_verified_part_by_part(faulty, request, tmp_path):
    client, bucket = _s3_client(request, faulty), faulty.root[5:]
    upload = client.create_multipart_upload(Bucket=bucket, Key="composite.bin", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(DATA), PART), start=1):
        answer = client.upload_part(Bucket=bucket, Key="composite.bin", UploadId=upload, PartNumber=number,
                                    Body=DATA[start:start + PART], ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": answer["ChecksumSHA256"]})
    client.complete_multipart_upload(Bucket=bucket, Key="composite.bin", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
    head = client.head_object(Bucket=bucket, Key="composite.bin", ChecksumMode="ENABLED")
    assert head.get("ChecksumType", "COMPOSITE") == "COMPOSITE" and head["ChecksumSHA256"]
    _check(faulty, tmp_path, "composite.bin", "s3:composite-sha256")


@pytest.mark.parametrize("faulty", ["gcs"], indirect=True)
def test_gcs_composite_object_is_verified_by_crc32c(faulty, gcs_server, tmp_path):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test-project", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": gcs_server.endpoint})
    bucket = client.bucket(faulty.root[5:])
    pieces = []
    for number, start in enumerate(range(0, len(DATA), PART)):
        piece = bucket.blob(f"piece-{number}")
        piece.upload_from_string(DATA[start:start + PART])
        pieces.append(piece)
    composed = bucket.blob("composed.bin")
    composed.compose(pieces)
    composed.reload()
    assert composed.crc32c  # fake-gcs-server does not report componentCount
    _check(faulty, tmp_path, "composed.bin", "gcs:crc32c" if not composed.md5_hash else "gcs:md5")


@pytest.mark.parametrize("faulty", ["swift"], indirect=True)
def test_swift_slo_from_the_plain_client_is_verified_segment_by_segment(faulty, swift_server, tmp_path):
    import swiftclient

    conn = swiftclient.Connection(authurl=swift_server.auth_url, user="test:tester", key="testing", auth_version="1")
    container = faulty.root[len("swift://"):]
    conn.put_container(f"{container}_parts")
    manifest = []
    for number, start in enumerate(range(0, len(DATA), PART)):
        segment = DATA[start:start + PART]
        etag = conn.put_object(f"{container}_parts", f"seg-{number}", contents=segment)
        manifest.append({"path": f"/{container}_parts/seg-{number}", "etag": etag, "size_bytes": len(segment)})
    conn.put_object(container, "slo.bin", contents=json.dumps(manifest), query_string="multipart-manifest=put")
    _check(faulty, tmp_path, "slo.bin", "swift:segments")


@pytest.mark.parametrize("faulty", ["azure"], indirect=True)
def test_azure_blob_without_content_md5_says_only_its_size_was_verified(faulty, azure_server, tmp_path, log):
    from azure.storage.blob import BlobServiceClient, ContentSettings

    service = BlobServiceClient.from_connection_string(azure_server.connection_string)
    blob = service.get_blob_client(faulty.root[len("az://"):], "blocks.bin")
    ids = []
    for number, start in enumerate(range(0, len(DATA), PART)):
        block_id = base64.b64encode(f"{number:08d}".encode()).decode()
        blob.stage_block(block_id, DATA[start:start + PART])
        ids.append(block_id)
    blob.commit_block_list(ids, content_settings=ContentSettings(content_md5=None))
    assert not blob.get_blob_properties().content_settings.content_md5
    record = _stage(faulty, tmp_path, "blocks.bin")
    assert open(record.path, "rb").read() == DATA and record.verified == "size"
    assert any("only its size could be verified" in line for line in log), log


@pytest.mark.parametrize("faulty", S3_SERVERS, indirect=True)
def test_s3_parts_of_unequal_sizes_are_checked_with_their_real_sizes(faulty, request, tmp_path):
    # 6, 5, 7 and 6 MiB: the first and last parts add up as if all four were 6 MiB, which they are not.
    client, bucket = _s3_client(request, faulty, request_checksum_calculation="when_required"), faulty.root[5:]
    sizes = [6 * MiB, 5 * MiB, 7 * MiB, 6 * MiB]
    data = (DATA * 2)[: sum(sizes)]
    upload = client.create_multipart_upload(Bucket=bucket, Key="uneven.bin")["UploadId"]
    parts, start = [], 0
    for number, size in enumerate(sizes, start=1):
        answer = client.upload_part(Bucket=bucket, Key="uneven.bin", UploadId=upload, PartNumber=number,
                                    Body=data[start:start + size])
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        start += size
    client.complete_multipart_upload(Bucket=bucket, Key="uneven.bin", UploadId=upload, MultipartUpload={"Parts": parts})
    record = _stage(faulty, tmp_path, "uneven.bin")
    assert open(record.path, "rb").read() == data and record.verified == "s3:etag-parts"
