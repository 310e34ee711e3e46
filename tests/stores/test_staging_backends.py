"""Staging from every backend on its real server: wildcards, hashes, verification, cache, errors."""

from __future__ import annotations

import hashlib
import json
import os
import sys

import pytest

from airflow_datastores.errors import AccessDenied, IntegrityError, MissingExtra, NotFound
from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores import registry
from airflow_datastores.stores.registry import open_store

from .test_contract import WRITABLE


@pytest.fixture(params=sorted(WRITABLE))
def root(request):
    fixture, conn_id = WRITABLE[request.param]
    url = str(request.getfixturevalue(fixture))
    return url, conn_id


def test_stage_wildcards_from_every_backend(root, tmp_path):
    url, conn_id = root
    store = open_store(url, conn_id=conn_id)
    files = {"data/2026/a.csv": b"a" * 100, "data/2026/b.csv": b"b" * 10, "data/2025/c.csv": b"c",
             "data/readme.md": b"hi"}
    for key, data in files.items():
        store.write_bytes(key, data)
    result = stage_inputs({"csv": {"url": f"{url}/data/**/*.csv", "conn_id": conn_id, "keep_directories": "suffix"}},
                          inputs_dir=str(tmp_path / "in"))
    got = {os.path.relpath(r.path, tmp_path / "in"): r for r in result.records}
    assert sorted(got) == ["csv/2025/c.csv", "csv/2026/a.csv", "csv/2026/b.csv"]
    record = got["csv/2026/a.csv"]
    assert record.sha256 == hashlib.sha256(b"a" * 100).hexdigest() and record.url == f"{url}/data/2026/a.csv"
    assert open(record.path, "rb").read() == b"a" * 100


def test_a_directory_or_wildcard_input_never_picks_up_a_sibling(root, tmp_path):
    url, conn_id = root
    store = open_store(url, conn_id=conn_id)
    for key in ("data/a.csv", "data/sub/b.csv", "data-cache/x", "data-cache/a.csv", "database.db"):
        store.write_bytes(key, key.encode())

    def staged(input_url: str, keep: str = "suffix") -> dict[str, str]:
        result = stage_inputs({"d": {"url": input_url, "conn_id": conn_id, "keep_directories": keep}},
                              inputs_dir=str(tmp_path / f"in-{len(os.listdir(tmp_path))}"))
        return {os.path.relpath(r.path, result.inputs_dir): r.url for r in result.records}

    assert staged(f"{url}/data/*") == {"d/a.csv": f"{url}/data/a.csv"}
    assert staged(f"{url}/data/**") == {"d/a.csv": f"{url}/data/a.csv", "d/sub/b.csv": f"{url}/data/sub/b.csv"}
    for directory in (f"{url}/data", f"{url}/data/"):  # no wildcard: the directory, and what is below it
        assert staged(directory) == {"d/a.csv": f"{url}/data/a.csv", "d/sub/b.csv": f"{url}/data/sub/b.csv"}
        assert sorted(staged(directory, "none")) == ["d/a.csv", "d/b.csv"]
    assert staged(f"{url}/database.db") == {"d/database.db": f"{url}/database.db"}  # one object
    with pytest.raises(NotFound, match="dat does not exist"):  # a prefix of a name is no directory
        staged(f"{url}/dat")


def test_missing_bucket_or_container_names_the_url(root):
    url, conn_id = root
    scheme = url.split("://")[0]
    if scheme == "file":
        missing = f"{url}/no-such-dir"
    else:
        missing = f"{scheme}://nosuchbucket{os.getpid()}"
    with pytest.raises(NotFound) as err:
        open_store(missing, conn_id=conn_id).stat("x.txt")
    assert f"{missing}/x.txt" in str(err.value)


def test_s3_rerun_is_served_by_the_cache_with_no_get(s3_root, tmp_path):
    store = open_store(s3_root, conn_id="test_s3")
    store.write_bytes("in/a.bin", os.urandom(5000))
    calls = []
    store.client.meta.events.register("before-call.s3.*", lambda model, **kw: calls.append(model.name))
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=10**9)
    inputs = {"a": {"url": f"{s3_root}/in/*.bin", "conn_id": "test_s3"}}
    stage_inputs(inputs, inputs_dir=str(tmp_path / "in1"), cache=cache)
    assert "GetObject" in calls
    calls.clear()
    second = stage_inputs(inputs, inputs_dir=str(tmp_path / "in2"), cache=cache)
    assert second.files_cached == 1 and calls == ["ListObjectsV2"]  # metadata only


def test_azure_content_md5_mismatch_is_an_integrity_error(azure_root, azure_server, tmp_path):
    from azure.storage.blob import BlobServiceClient, ContentSettings

    store = open_store(azure_root, conn_id="test_azure")
    store.write_bytes("model.bin", b"the real bytes")
    blob = BlobServiceClient.from_connection_string(azure_server.connection_string).get_blob_client(
        azure_root[len("az://"):], "model.bin")
    blob.set_http_headers(ContentSettings(content_md5=hashlib.md5(b"other bytes").digest()))
    with pytest.raises(IntegrityError, match="md5 of the received bytes"):
        stage_inputs({"m": {"url": f"{azure_root}/model.bin", "conn_id": "test_azure"}},
                     inputs_dir=str(tmp_path / "in"))
    assert not any(files for _, _, files in os.walk(tmp_path / "in"))


def test_wrong_credentials_are_access_denied_without_the_secret(swift_server, azure_server, swift_root, monkeypatch):
    bad_swift = dict(swift_server.connection(), password="not-the-key-1234")
    monkeypatch.setenv("AIRFLOW_CONN_BAD_SWIFT", json.dumps(bad_swift))
    with pytest.raises(AccessDenied) as err:
        open_store(swift_root, conn_id="bad_swift").stat("x")
    assert "not-the-key-1234" not in str(err.value)
    key = "QmFkS2V5Rm9yVGVzdHNPbmx5QmFkS2V5Rm9yVGVzdHM="
    bad_azure = {"conn_type": "wasb", "extra": {"connection_string":
                 azure_server.connection_string.replace(azure_server.connection_string.split("AccountKey=")[1]
                                                        .split(";")[0], key)}}
    monkeypatch.setenv("AIRFLOW_CONN_BAD_AZURE", json.dumps(bad_azure))
    with pytest.raises(AccessDenied) as err:
        open_store("az://anything", conn_id="bad_azure").stat("x")
    assert key not in str(err.value)


def test_missing_extra_names_the_extra(monkeypatch):
    for module in [m for m in sys.modules if m.startswith(("airflow_datastores.stores.s3",
                                                          "airflow.providers.amazon.aws.hooks.s3"))]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.s3", None)  # "not installed"
    real = registry.installed_version  # and its distribution is not installed either (else: a broken extra)
    monkeypatch.setattr(registry, "installed_version", lambda name: None if name == "apache-airflow-providers-amazon" else real(name))
    with pytest.raises(MissingExtra, match=r"pip install 'airflow-provider-datastores\[s3\]'"):
        registry.backend_class("s3")
