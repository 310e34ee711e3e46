"""SwiftHook: tempauth against the real Swift on 127.0.0.1; Keystone v3 as the arguments it builds.

There is no Keystone here, so the v3 tests check the ``swiftclient.Connection`` the hook builds and what a
missing python-keystoneclient looks like, not a v3 login.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys

import pytest
from swiftclient.exceptions import ClientException

from airflow_datastores import get_provider_info
from airflow_datastores.hooks.swift import SwiftHook
from airflow_datastores.stores.base import DataStoreError, MissingExtra

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


@pytest.mark.skipif(importlib.util.find_spec("keystoneclient") is not None, reason="python-keystoneclient installed")
def test_keystone_v3_without_keystoneclient_says_what_to_install(monkeypatch):
    hook = _connection(monkeypatch, "keystone", KEYSTONE)
    ok, message = hook.test_connection()
    assert not ok and "pip install python-keystoneclient" in message
    assert "keystone-secret-1234" not in message


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
    info = get_provider_info()
    assert {"hook-class-name": "airflow_datastores.hooks.swift.SwiftHook", "connection-type": "swift"} in (
        info["connection-types"])
    assert set(info["conn-fields"]["swift"]) == {"auth_version", "project_name", "user_domain_name",
                                                 "project_domain_name", "region_name", "cacert", "insecure"}
    assert (SwiftHook.conn_type, SwiftHook.conn_name_attr, SwiftHook.default_conn_name) == (
        "swift", "swift_conn_id", "swift_default")
