"""HTTP(S) as a read-only source, against the real local HTTP and HTTPS servers."""

from __future__ import annotations

import json
import os

import pytest
import requests

from airflow_datastores.errors import AccessDenied, DataStoreError
from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from tests.servers.http import BASIC_PASSWORD, BASIC_USER


def test_https_needs_the_ca_and_works_with_it(https_server, monkeypatch):
    (https_server.root_dir / "tls.txt").write_text("over tls")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https_server.endpoint}/tls.txt", timeout=5, verify=True)
    store = open_store(https_server.endpoint, conn_id="test_https")
    assert store.read_bytes("tls.txt") == b"over tls"
    monkeypatch.setenv("AIRFLOW_CONN_NO_CA", json.dumps({"conn_type": "http"}))
    untrusted = open_store(https_server.endpoint, conn_id="no_ca")
    with pytest.raises(DataStoreError, match="certificate is not trusted; set 'verify'"):
        untrusted.stat("tls.txt")


def test_basic_auth_from_the_connection_and_no_secret_in_errors(http_server, monkeypatch):
    os.makedirs(http_server.root_dir / "private", exist_ok=True)
    (http_server.root_dir / "private" / "p.txt").write_text("private")
    anonymous = open_store(http_server.endpoint)
    with pytest.raises(AccessDenied, match="HTTP 401"):
        anonymous.stat("private/p.txt")
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_READER", json.dumps(
        {"conn_type": "http", "login": BASIC_USER, "password": BASIC_PASSWORD}))
    reader = open_store(http_server.endpoint, conn_id="http_reader")
    assert reader.read_bytes("private/p.txt") == b"private"
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_WRONG", json.dumps(
        {"conn_type": "http", "login": BASIC_USER, "password": "wrong-password-value"}))
    with pytest.raises(AccessDenied) as err:
        open_store(http_server.endpoint, conn_id="http_wrong").stat("private/p.txt")
    assert "wrong-password-value" not in str(err.value) and BASIC_USER not in str(err.value)


def test_staging_from_http_uses_the_cache_without_a_get(http_server, tmp_path):
    (http_server.root_dir / "table.csv").write_text("a,b\n1,2\n")
    cache = InputCache(directory=str(tmp_path / "cache"), max_bytes=10**9)
    url = f"{http_server.endpoint}/table.csv"
    first = stage_inputs({"t": url}, inputs_dir=str(tmp_path / "in1"), cache=cache)
    assert first.files_downloaded == 1
    http_server.clear_requests()
    second = stage_inputs({"t": url}, inputs_dir=str(tmp_path / "in2"), cache=cache)
    assert second.files_cached == 1 and second.records[0].sha256 == first.records[0].sha256
    assert [r.method for r in http_server.requests] == ["HEAD"]  # metadata only: no GET
