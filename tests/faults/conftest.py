"""Each real server behind a fault-injecting proxy (tests/servers/faults.py), as a store for one test.

``faulty`` is parametrized over S3 (moto and SeaweedFS), Azure, GCS, Swift and HTTP(S): it gives the backend's name, the
proxy, a store URL whose connection goes through the proxy, a direct client that bypasses it (to set
objects up, or to replace one mid-download), and the request patterns of each request kind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_datastores import retry
from tests.servers.faults import FaultProxy

#: A policy for the tests: the same logic, short waits, and a stall counts after 3 s.
FAST = retry.RetryPolicy(attempts=6, max_seconds=120, base_delay=0.05, max_delay=0.5, read_timeout=3)


@dataclass
class Faulty:
    backend: str
    proxy: FaultProxy
    root: str
    conn_id: str
    put: Any  # put(key, data): write through the direct client, bypassing the proxy
    patterns: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (method, regex)
    quote: Any = str  # how a key appears in a request target
    #: read requests that pass before the one a mid-body fault of a large object should hit (GCS reads by
    #: ranges of 8 MiB, Azure by GETs of 4 MiB)
    read_skip_large: int = 0


    def url(self, key: str) -> str:
        return f"{self.root}/{key}"


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch):
    from airflow_datastores.stores.registry import clear_cache

    monkeypatch.setattr(retry, "_policy", FAST)
    clear_cache()  # clients take the read timeout when they are made
    yield
    clear_cache()


def _proxied(server, conn_id: str, connection: dict) -> FaultProxy:
    proxy = FaultProxy(server.port).start()
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection(proxy))
    return proxy


def _s3_via(server):
    """The connection to the S3 server ``server`` through a proxy ``p``."""
    return lambda p: {**server.connection(), "extra": {"endpoint_url": p.endpoint, "region_name": "us-east-1"}}


@pytest.fixture(scope="session")
def s3_proxy(s3_server):
    proxy = _proxied(s3_server, "faulty_s3", _s3_via(s3_server))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def seaweedfs_proxy(seaweedfs_server):
    proxy = _proxied(seaweedfs_server, "faulty_seaweedfs", _s3_via(seaweedfs_server))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def azure_proxy(azure_server):
    def conn(p):
        string = azure_server.connection_string.replace(f":{azure_server.port}/", f":{p.port}/")
        return {"conn_type": "wasb", "extra": {"connection_string": string}}
    proxy = _proxied(azure_server, "faulty_azure", conn)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def gcs_proxy(gcs_server):
    proxy = _proxied(gcs_server, "faulty_gcs", lambda p: {
        "conn_type": "google_cloud_platform", "extra": {"project": "test-project", "emulator_host": p.endpoint}})
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def swift_proxy(swift_server):
    proxy = _proxied(swift_server, "faulty_swift", lambda p: {
        **swift_server.connection(), "host": swift_server.auth_url.replace(f":{swift_server.port}/", f":{p.port}/")})
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def http_proxy(http_server):
    proxy = _proxied(http_server, "faulty_http", lambda p: {"conn_type": "http", "host": "127.0.0.1", "port": p.port})
    yield proxy
    proxy.stop()


def _name() -> str:
    return f"f{uuid.uuid4().hex[:16]}"


def _s3(request, backend: str = "s3", server: str = "s3_server") -> Faulty:
    import boto3

    server, proxy = request.getfixturevalue(server), request.getfixturevalue(f"{backend}_proxy")
    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = _name()
    client.create_bucket(Bucket=bucket)
    return Faulty(backend, proxy, f"s3://{bucket}", f"faulty_{backend}",
                  put=lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data),
                  patterns={"list": ("GET", r"list-type=2"), "stat": ("HEAD", ""), "read": ("GET", r"/{key}$"),
                            "commit": ("PUT", r"_manifests/.*\.json"),
                            "upload": ("PUT", r"small\.bin")})


def _seaweedfs(request) -> Faulty:
    """The S3 store against SeaweedFS, a second real S3 server: the same requests, the same faults."""
    return _s3(request, "seaweedfs", "seaweedfs_server")


def _azure(request) -> Faulty:
    from azure.storage.blob import BlobServiceClient

    server, proxy = request.getfixturevalue("azure_server"), request.getfixturevalue("azure_proxy")
    service = BlobServiceClient.from_connection_string(server.connection_string)
    name = _name()
    container = service.create_container(name)
    return Faulty("azure", proxy, f"az://{name}", "faulty_azure", read_skip_large=1,
                  put=lambda key, data: container.upload_blob(key, data, overwrite=True),
                  patterns={"list": ("GET", r"comp=list"), "stat": ("HEAD", ""), "read": ("GET", r"/{key}$"),
                            "commit": ("PUT", r"_manifests/.*\.json"), "upload": ("PUT", r"small\.bin")})


def _gcs(request) -> Faulty:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    server, proxy = request.getfixturevalue("gcs_server"), request.getfixturevalue("gcs_proxy")
    client = storage.Client(project="test-project", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": server.endpoint})
    name = _name()
    bucket = client.create_bucket(name)
    return Faulty("gcs", proxy, f"gs://{name}", "faulty_gcs", quote=lambda key: urllib.parse.quote(key, safe=""),
                  put=lambda key, data: bucket.blob(key).upload_from_string(data), read_skip_large=1,
                  patterns={"list": ("GET", r"/o\?"), "stat": ("GET", r"{key}\?(?!.*alt=media)"),
                            "read": ("GET", r"{key}\?.*alt=media"),
                            "commit": ("POST", r"uploadType=multipart.*ifGenerationMatch=0"),
                            "upload": ("POST", r"uploadType=resumable")})


def _swift(request) -> Faulty:
    import swiftclient

    server, proxy = request.getfixturevalue("swift_server"), request.getfixturevalue("swift_proxy")
    conn = swiftclient.Connection(authurl=server.auth_url, user="test:tester", key="testing", auth_version="1")
    name = _name()
    conn.put_container(name)
    return Faulty("swift", proxy, f"swift://{name}", "faulty_swift",
                  put=lambda key, data: conn.put_object(name, key, contents=data),
                  patterns={"list": ("GET", rf"/{name}\?"), "stat": ("HEAD", ""), "read": ("GET", r"/{key}$"),
                            "commit": ("PUT", r"_manifests/.*\.json"), "upload": ("PUT", r"small\.bin")})


def _http(request) -> Faulty:
    server, proxy = request.getfixturevalue("http_server"), request.getfixturevalue("http_proxy")
    name = _name()
    directory = server.root_dir / name
    directory.mkdir()

    def put(key: str, data: bytes) -> None:
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".new")
        temp.write_bytes(data)
        os.replace(temp, path)  # a new inode and mtime: a new ETag

    request.addfinalizer(lambda: shutil.rmtree(directory, ignore_errors=True))
    return Faulty("http", proxy, f"http://127.0.0.1:{proxy.port}/{name}", "faulty_http", put=put,
                  patterns={"stat": ("HEAD", ""), "read": ("GET", r"/{key}$")})


BACKENDS = {"s3": _s3, "seaweedfs": _seaweedfs, "azure": _azure, "gcs": _gcs, "swift": _swift, "http": _http}


@pytest.fixture(params=list(BACKENDS))
def faulty(request) -> Faulty:
    made = BACKENDS[request.param](request)
    made.proxy.clear()
    yield made
    made.proxy.clear()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log():
    """The messages the task's logger (``faults``) got, whatever Airflow did to the root logger."""
    yield from _lines_of("faults")


@pytest.fixture
def azure_log():
    """The messages of the Azure store's own logger (the SDK's repeats of a chunk are said there)."""
    yield from _lines_of("airflow_datastores.stores.azure")


@pytest.fixture
def retry_log():
    """The retry lines of the requests a store repeats itself (writes, uploads, commits)."""
    yield from _lines_of("airflow_datastores.retry")


def _lines_of(name: str):
    handler, logger = _Lines(), logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
