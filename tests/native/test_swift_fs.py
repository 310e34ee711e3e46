"""``swift://`` in Airflow's ObjectStoragePath, through our fsspec filesystem, on the real Swift server."""

from __future__ import annotations

import hashlib
import json

import pytest

from airflow_datastores import get_provider_info
from airflow_datastores.fs import swift as swift_fs


@pytest.fixture
def container(swift_root) -> str:
    return swift_root[len("swift://"):]


def _path(container: str, key: str = ""):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"swift://test_swift@{container}/{key}")


def test_provider_info_lists_the_filesystem():
    assert "airflow_datastores.fs.swift" in get_provider_info()["filesystems"]
    assert swift_fs.schemes == ["swift"]


def test_write_read_and_ranges(container):
    path = _path(container, "dir/hello.txt")
    path.write_bytes(b"hello, swift world")
    assert path.conn_id == "test_swift"
    assert path.exists() and path.is_file() and not path.is_dir()
    assert path.read_bytes() == b"hello, swift world"
    assert path.stat().st_size == 18
    with path.open("rb") as handle:
        handle.seek(7)
        assert handle.read(5) == b"swift"
    assert path.fs.cat_file(f"{container}/dir/hello.txt", start=-5) == b"world"
    assert _path(container, "dir").is_dir()


def test_iterdir_lists_objects_and_subdirectories(container):
    for key in ("top.txt", "sub/a.txt", "sub/b.txt", "sub/deeper/c.txt"):
        _path(container, key).write_text(key)
    assert sorted(p.name for p in _path(container).iterdir()) == ["sub", "top.txt"]
    sub = sorted(_path(container, "sub").iterdir(), key=lambda p: p.name)
    assert [p.name for p in sub] == ["a.txt", "b.txt", "deeper"]
    assert sub[0].read_text() == "sub/a.txt" and sub[0].conn_id == "test_swift"
    with pytest.raises(FileNotFoundError):
        _path(container, "missing.txt").read_bytes()


def test_large_objects_are_written_in_segments_and_removed_with_them(container, swift_server):
    fs = swift_fs.get_fs("test_swift", {"segment_size": 1024 * 1024})
    data = hashlib.shake_256(b"large").digest(3 * 1024 * 1024 + 17)
    with fs.open(f"{container}/big.bin", "wb") as handle:
        for start in range(0, len(data), 300_000):
            handle.write(data[start:start + 300_000])
    headers = fs.conn.head_object(container, "big.bin")
    assert headers["x-static-large-object"] == "True" and int(headers["content-length"]) == len(data)
    assert fs.cat_file(f"{container}/big.bin") == data
    assert fs.cat_file(f"{container}/big.bin", start=1024 * 1024 - 3, end=1024 * 1024 + 5) == \
        data[1024 * 1024 - 3:1024 * 1024 + 5]
    assert len(fs.ls(f"{container}_segments/big.bin", detail=False)) == 1  # one upload's folder
    fs.rm(f"{container}/big.bin")
    assert not fs.exists(f"{container}/big.bin")
    _headers, left = fs.conn.get_container(f"{container}_segments")
    assert left == []  # the segments went with the manifest


def test_the_filesystem_and_the_store_share_one_segment_layout(container, swift_root):
    # What swift:// writes through ObjectStoragePath, the store reads (each segment checked against its
    # manifest) and its purge finds when the manifest is gone: both write the one layout.
    from datetime import UTC, datetime, timedelta

    from airflow_datastores.stores.registry import open_store
    from airflow_datastores.versions.retention import PurgeRule, purge

    fs = swift_fs.get_fs("test_swift", {"segment_size": 1024 * 1024})
    data = hashlib.shake_256(b"shared").digest(2 * 1024 * 1024 + 5)
    with fs.open(f"{container}/d/t/r/try-1-0123abcd/model.bin", "wb") as handle:
        handle.write(data)
    store = open_store(swift_root, conn_id="test_swift")
    assert store.read_bytes("d/t/r/try-1-0123abcd/model.bin") == data
    assert list(store.leftovers()) == []  # committed: its segments are the object's bytes
    fs.conn.delete_object(container, "d/t/r/try-1-0123abcd/model.bin")  # the manifest only: as if never written
    (left,) = store.leftovers()
    assert (left.kind, left.key, left.pieces, left.size) == ("segments", "d/t/r/try-1-0123abcd/model.bin", 3,
                                                             len(data))
    result = purge(store, rule=PurgeRule(), dry_run=False, now=datetime.now(UTC) + timedelta(days=2))
    assert [(i.kind, i.removed) for i in result.items] == [("segments", True)]
    assert fs.conn.get_container(f"{container}_segments")[1] == []


def test_an_object_past_one_manifests_segments_nests_manifests_as_the_store_does(container, swift_root):
    # Swift refuses a manifest of more than max_manifest_segments entries (1,000 by default: 16 GB of
    # 16 MiB segments); here 2 entries a manifest stand for that bound, so 5 segments need nesting.
    from airflow_datastores.stores.registry import open_store

    fs = swift_fs.get_fs("test_swift", {"segment_size": 1024 * 1024, "manifest_segments": 2})
    data = hashlib.shake_256(b"nested").digest(4 * 1024 * 1024 + 9)
    with fs.open(f"{container}/nested/big.bin", "wb") as handle:
        handle.write(data)
    top = json.loads(fs.conn.get_object(container, "nested/big.bin", query_string="multipart-manifest=get")[1])
    assert [bool(entry.get("sub_slo")) for entry in top] == [True, True, False]  # 2 + 2 behind manifests, 1 as is
    assert fs.cat_file(f"{container}/nested/big.bin") == data
    store = open_store(swift_root, conn_id="test_swift")
    assert store.read_bytes("nested/big.bin") == data  # verified against every segment, nested ones expanded
    fs.rm(f"{container}/nested/big.bin")
    assert fs.conn.get_container(f"{container}_segments")[1] == []  # nested manifests and segments went too


def test_copy_to_s3(container, s3_root):
    from airflow.sdk import ObjectStoragePath

    source = _path(container, "report/data.csv")
    source.write_text("a,b\n1,2\n")
    target = ObjectStoragePath(f"s3://test_s3@{s3_root[len('s3://'):]}/copied/data.csv")
    source.copy(target)
    assert target.read_text() == "a,b\n1,2\n"
    back = _path(container, "report/back.csv")
    target.copy(back)
    assert back.read_text() == "a,b\n1,2\n"


def test_secrets_stay_out_of_errors(container, monkeypatch):
    from tests.servers.swift import KEY

    monkeypatch.setenv("AIRFLOW_CONN_BAD_SWIFT_FS", json.dumps(
        {"conn_type": "swift", "host": "http://127.0.0.1:1/auth/v1.0", "login": "test:tester",
         "password": KEY + "-wrong", "extra": {"auth_version": "1"}}))
    from airflow.sdk import ObjectStoragePath

    with pytest.raises(Exception) as err:  # noqa: PT011 - whatever it is, it carries no secret
        ObjectStoragePath(f"swift://bad_swift_fs@{container}/x.txt").read_bytes()
    assert KEY not in str(err.value)
