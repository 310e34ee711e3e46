"""Session setup and the real servers, as fixtures.

Servers start lazily, once per session, on free 127.0.0.1 ports, and stop at the end (also on failure):

* ``s3_server`` (moto), ``seaweedfs_server`` (SeaweedFS, a second S3 server), ``azure_server``, ``gcs_server``,
  ``swift_server``, ``http_server``, ``https_server``: each sets its Airflow connection (``AIRFLOW_CONN_TEST_S3``,
  ``AIRFLOW_CONN_TEST_SEAWEEDFS`` ... ``AIRFLOW_CONN_TEST_HTTPS``) and has ``.conn_id`` and ``.endpoint``; the
  HTTP ones also ``.root_dir``, ``.requests``, ``.ca_path``.
* ``s3_root``, ``seaweedfs_root``, ``azure_root``, ``gcs_root``, ``swift_root``, ``local_root``: a fresh, empty
  location for one test, as a URL string (``s3://<new bucket>`` ...).
* ``airflow_db``: the metadata database of the session's Airflow home, for ``dag.test()``.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

# Before anything imports Airflow: a private Airflow home for the session.
_SESSION_DIR = tempfile.mkdtemp(prefix="datastores-tests-")
os.environ["AIRFLOW_HOME"] = os.path.join(_SESSION_DIR, "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_SESSION_DIR, "airflow", "dags")
os.environ.pop("AIRFLOW__DATASTORES__DEFAULT_STORE", None)
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

import pytest  # noqa: E402

from tests.servers.azurite import AzuriteServer  # noqa: E402
from tests.servers.gcs import FakeGcsServer  # noqa: E402
from tests.servers.http import HttpFileServer  # noqa: E402
from tests.servers.moto import MotoServer  # noqa: E402
from tests.servers.seaweedfs import SeaweedFSServer  # noqa: E402
from tests.servers.swift import SwiftServer  # noqa: E402

_started: list = []


def _stop_all() -> None:
    while _started:
        server = _started.pop()
        try:
            server.close()
        except Exception:  # noqa: BLE001 - stopping the rest matters more
            pass


atexit.register(_stop_all)


def pytest_sessionfinish(session, exitstatus) -> None:
    _stop_all()
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def _serve(server, conn_id: str):
    server.start()
    _started.append(server)
    server.conn_id = conn_id
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(server.connection())
    return server


@pytest.fixture(scope="session")
def s3_server():
    return _serve(MotoServer(), "test_s3")


@pytest.fixture(scope="session")
def seaweedfs_server():
    return _serve(SeaweedFSServer(), "test_seaweedfs")


@pytest.fixture(scope="session")
def azure_server():
    return _serve(AzuriteServer(), "test_azure")


@pytest.fixture(scope="session")
def gcs_server():
    return _serve(FakeGcsServer(), "test_gcs")


@pytest.fixture(scope="session")
def swift_server():
    return _serve(SwiftServer(), "test_swift")


@pytest.fixture(scope="session")
def http_server():
    return _serve(HttpFileServer(), "test_http")


@pytest.fixture(scope="session")
def https_server():
    return _serve(HttpFileServer(tls=True), "test_https")


def _name() -> str:
    return f"t{uuid.uuid4().hex[:16]}"


@pytest.fixture
def _clear_stores():
    yield
    from airflow_datastores.stores.registry import clear_cache

    clear_cache()


@pytest.fixture
def local_root(tmp_path, _clear_stores) -> str:
    root = tmp_path / "store"
    root.mkdir()
    return f"file://{root}"


def _new_bucket(server) -> str:
    """A new bucket on the S3 server ``server`` (moto or SeaweedFS), as a store URL."""
    import boto3

    name = _name()
    boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture
def s3_root(s3_server, _clear_stores) -> str:
    return _new_bucket(s3_server)


@pytest.fixture
def seaweedfs_root(seaweedfs_server, _clear_stores) -> str:
    return _new_bucket(seaweedfs_server)


@pytest.fixture
def azure_root(azure_server, _clear_stores) -> str:
    from azure.storage.blob import BlobServiceClient

    name = _name()
    BlobServiceClient.from_connection_string(azure_server.connection_string).create_container(name)
    return f"az://{name}"


@pytest.fixture
def gcs_root(gcs_server, _clear_stores) -> str:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    name = _name()
    client = storage.Client(project="test-project", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": gcs_server.endpoint})
    client.create_bucket(name)
    return f"gs://{name}"


@pytest.fixture
def swift_root(swift_server, _clear_stores) -> str:
    import swiftclient

    name = _name()
    conn = swiftclient.Connection(authurl=swift_server.auth_url, user="test:tester", key="testing",
                                  auth_version="1")
    conn.put_container(name)
    conn.close()
    return f"swift://{name}"


@pytest.fixture(scope="session")
def airflow_db():
    """Initialise the session's SQLite metadata database (about 15 s, once)."""
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, env=os.environ)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return os.environ["AIRFLOW_HOME"]


# Keystone v3: setup takes a minute or more, so it starts once, and only when a Keystone test asks for it.


@pytest.fixture(scope="session")
def keystone_server():
    from tests.servers.keystone import KeystoneServer

    server = KeystoneServer()
    server.start()
    _started.append(server)
    return server


@pytest.fixture(scope="session")
def swift_keystone_server(keystone_server):
    """A second Swift cluster whose proxy authenticates with Keystone v3 (connection ``test_swift_keystone``)."""
    return _serve(SwiftServer(keystone=keystone_server), "test_swift_keystone")


@pytest.fixture
def swift_keystone_root(swift_keystone_server, _clear_stores) -> str:
    import swiftclient

    name = _name()
    conn = swiftclient.Connection(**swift_keystone_server.swiftclient_kwargs())
    conn.put_container(name)
    conn.close()
    return f"swift://{name}"
