"""SwiftHook against the real servers on 127.0.0.1: Swift with tempauth, and Swift behind a real Keystone v3
(``authtoken keystoneauth``); plus the ``swiftclient.Connection`` arguments it builds for a v3 connection.
"""

from __future__ import annotations

import json
import logging
import sys

import pytest
from swiftclient.exceptions import ClientException

from airflow_datastores import get_provider_info
from airflow_datastores.errors import DataStoreError, MissingExtra
from airflow_datastores.hooks.swift import SwiftHook

KEYSTONE = {
    "conn_type": "swift",
    "host": "https://keystone.example.test:5000/v3",
    "login": "alice",
    "password": "keystone-secret-1234",
    "extra": {"project_name": "science", "region_name": "RegionTwo", "project_domain_name": "research",
              "cacert": "/etc/ssl/example-ca.pem"},
}


def _connection(monkeypatch, conn_id: str, conn: dict) -> SwiftHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return SwiftHook(swift_conn_id=conn_id)


def test_tempauth_connects_for_real(swift_server):
    hook = SwiftHook(swift_conn_id=swift_server.conn_id)
    conn = hook.get_conn()
    assert (conn.authurl, conn.user, conn.key) == (swift_server.auth_url, "test:tester", "testing")
    assert (conn.auth_version, conn.os_options) == ("1", {})
    assert conn.head_account()["x-account-container-count"].isdigit()
    conn.close()
    assert hook.test_connection() == (True, "Connected to OpenStack Swift")


def test_each_get_conn_is_a_new_connection(swift_server):
    hook = SwiftHook(swift_conn_id=swift_server.conn_id)
    first, second = hook.get_conn(), hook.get_conn()
    assert first is not second  # swiftclient connections are not thread-safe: one per thread
    first.head_account()
    reused = hook.get_conn(preauthurl=first.url, preauthtoken=first.token)
    reused.head_account()
    assert reused.token == first.token


def test_wrong_key_is_refused_without_the_key_or_token_in_messages_or_logs(swift_server, monkeypatch, caplog):
    bad = dict(swift_server.connection(), password="wrong-key-5678")
    hook = _connection(monkeypatch, "bad_swift_hook", bad)
    with caplog.at_level(logging.DEBUG, logger="swiftclient"):
        ok, message = hook.test_connection()
    assert not ok and "refused the credentials" in message
    assert "wrong-key-5678" not in message and "wrong-key-5678"[:3] not in caplog.text


def test_swiftclient_logs_no_part_of_the_token(swift_server, swift_root, caplog):
    conn = SwiftHook(swift_conn_id=swift_server.conn_id).get_conn()
    conn.head_account()
    with caplog.at_level(logging.DEBUG, logger="swiftclient"), pytest.raises(ClientException):
        conn.head_object(swift_root[len("swift://"):], "no-such-object")  # logged at INFO
    assert "HEAD" in caplog.text  # the request was logged ...
    assert conn.token[:12] not in caplog.text  # ... without the token's first characters


def test_keystone_v3_connection_arguments(monkeypatch):
    conn = _connection(monkeypatch, "keystone", KEYSTONE).get_conn()
    assert conn.authurl == KEYSTONE["host"]
    assert (conn.user, conn.key, conn.auth_version) == ("alice", "keystone-secret-1234", "3")
    assert conn.os_options == {
        "project_name": "science",
        "user_domain_name": "Default",
        "project_domain_name": "research",
        "region_name": "RegionTwo",
    }
    assert (conn.cacert, conn.insecure, conn.retries, conn.timeout) == ("/etc/ssl/example-ca.pem", False, 5, 60.0)


def test_keystone_v3_is_the_default_and_airflow2_field_names_are_read(monkeypatch):
    legacy = dict(KEYSTONE, extra={"extra__swift__project_name": "old-form", "extra__swift__insecure": True,
                                   "auth_version": "v3"})
    hook = _connection(monkeypatch, "legacy", legacy)
    hook.retries, hook.timeout = 1, 5.0
    conn = hook.get_conn()
    assert conn.auth_version == "3" and conn.insecure is True and (conn.retries, conn.timeout) == (1, 5.0)
    assert conn.os_options == {"project_name": "old-form", "user_domain_name": "Default",
                               "project_domain_name": "Default"}


def test_keystone_v3_connects_for_real(swift_keystone_server, keystone_server):
    hook = SwiftHook(swift_conn_id=swift_keystone_server.conn_id)
    conn = hook.get_conn()
    assert (conn.authurl, conn.auth_version) == (keystone_server.auth_url, "3")
    conn.head_account()
    # The storage URL came from Keystone's catalog: the proxy's endpoint, the project's account.
    assert conn.url == f"{swift_keystone_server.endpoint}/v1/{swift_keystone_server.account}"
    conn.close()
    assert hook.test_connection() == (True, "Connected to OpenStack Swift")


def test_keystone_v3_wrong_password_is_refused_without_secrets(swift_keystone_server, monkeypatch, caplog):
    bad = dict(swift_keystone_server.connection(), password="wrong-password-9876")
    hook = _connection(monkeypatch, "bad_keystone", bad)
    with caplog.at_level(logging.DEBUG):
        ok, message = hook.test_connection()
    assert not ok and "refused the credentials" in message
    assert "wrong-password-9876" not in message and "wrong-password-9876" not in caplog.text
    assert swift_keystone_server.password not in caplog.text


def test_keystone_v3_without_the_keystone_libraries_says_what_to_install(swift_keystone_server, swift_server,
                                                                         monkeypatch):
    import swiftclient.client

    # What swiftclient holds when python-keystoneclient or keystoneauth1 could not be imported.
    monkeypatch.setattr(swiftclient.client, "ksclient_v3", None)
    hook = SwiftHook(swift_conn_id=swift_keystone_server.conn_id)
    with pytest.raises(MissingExtra) as err:
        hook.get_conn()
    message = str(err.value)
    assert "Keystone v3" in message and "pip install 'airflow-provider-datastores[swift]'" in message
    assert swift_keystone_server.conn_id in message
    assert hook.test_connection() == (False, message)
    assert swift_keystone_server.password not in message
    monkeypatch.undo()
    monkeypatch.setattr(swiftclient.client, "ksclient_v3", None)
    assert SwiftHook(swift_conn_id=swift_server.conn_id).get_conn().auth_version == "1"  # tempauth needs neither


def test_swift_extra_installs_what_keystone_v3_needs():
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    requires = [Requirement(r) for r in distribution("airflow-provider-datastores").requires or []]
    names = {r.name.lower() for r in requires if r.marker and r.marker.evaluate({"extra": "swift"})}
    assert {"python-swiftclient", "python-keystoneclient", "keystoneauth1"} <= names


@pytest.mark.parametrize(
    ("change", "error"),
    [({"host": None}, "has no host"), ({"extra": {"auth_version": "2"}}, "auth_version '2' is not supported")],
)
def test_invalid_connections_are_named(monkeypatch, change, error):
    hook = _connection(monkeypatch, "broken_swift", {**KEYSTONE, **change})
    with pytest.raises(DataStoreError, match=error) as err:
        hook.get_conn()
    assert "broken_swift" in str(err.value)
    assert hook.test_connection() == (False, str(err.value))


def test_missing_swiftclient_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "swiftclient", None)  # "not installed"
    with pytest.raises(MissingExtra, match=r"swift:// store needs the 'swift' extra.*\[swift\]'"):
        SwiftHook().get_conn()


def test_provider_info_declares_every_field_the_hook_reads():
    (swift,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "swift"]
    assert (swift["hook-class-name"], swift["hook-name"]) == ("airflow_datastores.hooks.swift.SwiftHook",
                                                              SwiftHook.hook_name)
    assert set(swift["conn-fields"]) == {"auth_version", "project_name", "user_domain_name",
                                         "project_domain_name", "region_name", "cacert", "insecure"}
    assert (SwiftHook.conn_type, SwiftHook.conn_name_attr, SwiftHook.default_conn_name) == (
        "swift", "swift_conn_id", "swift_default")
