"""Purge on each backend's real server: what a snapshot killed mid-upload leaves outside the key space
(S3 incomplete multipart uploads, on moto and SeaweedFS; Azure uncommitted blocks, Swift segments without a manifest) is listed
with its size, kept while younger than the grace period, then removed, and nothing else is touched."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import list_versions
from airflow_datastores.versions.retention import PurgeRule, purge
from tests.core.test_purge_leftovers import kill_snapshot_mid_upload

from .test_contract import PatternReader


def s3_raw(store):
    """``{key: bytes in parts}`` of the incomplete multipart uploads, asked of S3 directly."""
    client = store.inner.client
    found = {}
    for upload in client.list_multipart_uploads(Bucket=store.inner.bucket).get("Uploads", ()):
        parts = client.list_parts(Bucket=store.inner.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        found[upload["Key"]] = sum(p["Size"] for p in parts.get("Parts", ()))
    return found


def azure_raw(store):
    """``{blob: bytes in uncommitted blocks}`` of blobs that have no committed content."""
    container = store.inner.container_client
    committed = {b.name for b in container.list_blobs()}
    return {b.name: sum(block.size for block in container.get_blob_client(b.name).get_block_list("uncommitted")[1])
            for b in container.list_blobs(include=["uncommittedblobs"]) if b.name not in committed}


def swift_raw(store):
    """``{segment name: bytes}`` in the segment container."""
    from swiftclient.exceptions import ClientException

    try:
        _headers, listing = store.inner.conn.get_container(store.inner.segment_container, full_listing=True)
    except ClientException as err:
        if err.http_status == 404:
            return {}
        raise
    return {item["name"]: int(item["bytes"]) for item in listing}


BACKENDS = {
    "s3": ("s3_root", "test_s3", s3_raw, "multipart upload"),
    "seaweedfs": ("seaweedfs_root", "test_seaweedfs", s3_raw, "multipart upload"),
    "azure": ("azure_root", "test_azure", azure_raw, "uncommitted blocks"),
    "swift": ("swift_root", "test_swift", swift_raw, "segments"),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    fixture, conn_id, raw, kind = BACKENDS[request.param]
    return open_store(str(request.getfixturevalue(fixture)), conn_id=conn_id), raw, kind


def test_killed_snapshot_leftovers_are_listed_kept_while_young_then_removed(backend, tmp_path):
    store, raw, kind = backend
    # A committed large object (segments, parts, blocks) that purge must leave alone.
    reader = PatternReader(20 * 1024 * 1024 + 3)
    store.write("keep/big.bin", reader)
    committed = raw(store)
    assert list(store.leftovers()) == []

    kill_snapshot_mid_upload(store, tmp_path, conn_id=store.conn_id,
                             uploading=lambda: any(size for size in _new(raw(store), committed).values()))
    left = _settled(lambda: _new(raw(store), committed))
    assert left and list_versions(store) == []

    # Young (the default grace period, 24 h): listed as kept, nothing removed.
    young = purge(store, rule=PurgeRule(), dry_run=False)
    assert young.items == [] and kind in {i.kind for i in young.kept} and _new(raw(store), committed) == left
    assert all("younger than the grace period 24h" in i.reason for i in young.kept)

    later = datetime.now(UTC) + timedelta(hours=25)
    dry = purge(store, rule=PurgeRule(), dry_run=True, now=later)
    leftovers = [i for i in dry.items if i.kind == kind]
    assert sum(i.bytes for i in leftovers) == sum(left.values()) > 0
    assert {(i.dag_id, i.task_id, i.version_id) for i in leftovers} == {("d", "t", "killed")}
    assert all("z-big.bin" in i.url for i in leftovers)
    assert _new(raw(store), committed) == left  # a dry run removes nothing

    done = purge(store, rule=PurgeRule(), dry_run=False, now=later)
    assert [i for i in done.items if not i.removed] == []
    assert sum(i.bytes for i in done.removed if i.kind == kind) == sum(left.values())
    assert raw(store) == committed and list(store.leftovers()) == []
    assert [i.key for i in store.list("")] == ["keep/big.bin"]
    assert store.read_bytes("keep/big.bin") == PatternReader(20 * 1024 * 1024 + 3).read()


def _settled(look, *, timeout: float = 120, pause: float = 0.5) -> dict:
    """What ``look()`` answers once two answers ``pause`` apart agree: a part, block or segment whose
    body reached the server before the SIGKILL is still being stored after the client is gone."""
    deadline = time.monotonic() + timeout
    before = look()
    while True:
        time.sleep(pause)
        now = look()
        if now == before:
            return now
        assert time.monotonic() < deadline, f"the leftovers still changed after {timeout} s: {now}"
        before = now


def _new(now: dict, before: dict) -> dict:
    return {name: size for name, size in now.items() if name not in before}


@pytest.mark.parametrize("backend", ["s3", "seaweedfs"], indirect=True)
def test_a_purge_of_one_dag_lists_only_its_leftovers(backend):
    store = backend[0]
    client, bucket = store.inner.client, store.inner.bucket
    for key in ("d/t/r/try-1-aa/f.bin", "e/t/r/try-1-bb/f.bin"):
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 100)
    later = datetime.now(UTC) + timedelta(days=2)
    result = purge(store, rule=PurgeRule(), dag_id="d", dry_run=False, now=later)
    assert [(i.kind, i.dag_id, i.bytes, i.removed) for i in result.items] == [("multipart upload", "d", 100, True)]
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["e/t/r/try-1-bb/f.bin"]


def test_gcs_lists_no_leftovers_and_purges_orphans(gcs_root, tmp_path):
    # GCS keeps no listable state of an unfinished resumable upload (its session expires after a week).
    store = open_store(gcs_root, conn_id="test_gcs")
    store.write_bytes("d/t/r/try-1-cc/f.txt", b"orphan")
    assert list(store.leftovers()) == []
    later = datetime.now(UTC) + timedelta(days=2)
    result = purge(store, rule=PurgeRule(), dry_run=False, now=later)
    assert [(i.kind, i.removed) for i in result.items] == [("orphan", True)] and list(store.list("")) == []
