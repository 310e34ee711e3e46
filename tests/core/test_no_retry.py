"""Failures that no retry can mend end the task at its first try, in real DAG runs with ``retries=2``:
an input that changed under ``on_input_change="fail"``, an input spec that renders into no URL, a missing
extra, credentials the store refuses, bytes that do not match their checksum. A command that fails may
pass next time: Airflow tries it three times."""

from __future__ import annotations

import json
import sys

import pytest

from .dagfiles import load_dag
from .test_dag_runs import task_state


def try_number(run, task_id: str) -> int:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(TaskInstance.try_number).where(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id, TaskInstance.task_id == task_id))


def step_dag(dag_id: str, *, inputs: dict, command: str = "true", **step_kwargs):
    return load_dag(f"""
        import datetime
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator

        with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                 default_args={{"retries": 2, "retry_delay": datetime.timedelta(seconds=0)}}) as dag:
            DatastoreStepOperator(task_id="step", inputs={inputs!r}, command={command!r}, **{step_kwargs!r})
        """, dag_id)


def _failed_at_first_try(dag, capfd, *, says: str) -> None:
    capfd.readouterr()
    run = dag.test()
    out = capfd.readouterr()
    assert task_state(run, "step") == "failed"
    assert try_number(run, "step") == 1, "retried"
    assert says in out.out + out.err
    assert "not retried, another try would fail the same way" in out.out + out.err


def test_a_failing_command_is_retried_by_airflow(airflow_db, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    dag = step_dag("retry_command", inputs={"a": f"file://{tmp_path}/a.txt"}, command="exit 3")
    run = dag.test()
    assert task_state(run, "step") == "failed" and try_number(run, "step") == 3


def test_a_changed_input_under_fail_is_not_retried(airflow_db, tmp_path, capfd):
    (tmp_path / "a.txt").write_text("a")
    dag = step_dag("no_retry_changed", inputs={"a": f"file://{tmp_path}/a.txt"}, on_input_change="fail")
    assert task_state(dag.test(), "step") == "success"
    (tmp_path / "a.txt").write_text("changed")
    _failed_at_first_try(dag, capfd, says="InputChanged")


def test_an_input_that_renders_into_no_url_is_not_retried(airflow_db, capfd):
    dag = step_dag("no_retry_spec", inputs={"a": "{{ ds }}/a.txt"})
    _failed_at_first_try(dag, capfd, says="is not a store URL")


@pytest.mark.parametrize("installed", [False, True], ids=["missing", "broken"])
def test_a_missing_or_broken_extra_is_not_retried(airflow_db, monkeypatch, capfd, installed):
    from airflow_datastores.stores import registry

    for module in [m for m in sys.modules if m.startswith(("airflow_datastores.stores.s3",
                                                          "airflow.providers.amazon.aws.hooks.s3"))]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.s3", None)  # the import fails
    if not installed:  # and the amazon provider's distribution is not there either: the extra is missing
        found = registry.installed_version
        monkeypatch.setattr(registry, "installed_version",
                            lambda name: None if name == "apache-airflow-providers-amazon" else found(name))
    dag = step_dag(f"no_retry_extra_{'broken' if installed else 'missing'}", inputs={"a": "s3://bucket/a.txt"})
    _failed_at_first_try(dag, capfd, says="is installed but does not import" if installed
                         else "pip install 'airflow-provider-datastores[s3]'")


def test_refused_credentials_are_not_retried(airflow_db, seaweedfs_server, seaweedfs_root, monkeypatch, capfd):
    bad = {**seaweedfs_server.connection(), "password": "not-the-secret-4321"}  # SeaweedFS checks signatures
    monkeypatch.setenv("AIRFLOW_CONN_BAD_SEAWEEDFS", json.dumps(bad))
    dag = step_dag("no_retry_denied", inputs={"a": {"url": f"{seaweedfs_root}/a.txt", "conn_id": "bad_seaweedfs"}})
    _failed_at_first_try(dag, capfd, says="access denied")
    assert "not-the-secret-4321" not in "".join(capfd.readouterr())


def test_bytes_that_do_not_match_their_checksum_are_not_retried(airflow_db, azure_server, azure_root, capfd):
    import hashlib

    from azure.storage.blob import BlobServiceClient, ContentSettings

    from airflow_datastores.stores.registry import open_store

    open_store(azure_root, conn_id="test_azure").write_bytes("model.bin", b"the real bytes")
    blob = BlobServiceClient.from_connection_string(azure_server.connection_string).get_blob_client(
        azure_root[len("az://"):], "model.bin")
    blob.set_http_headers(ContentSettings(content_md5=hashlib.md5(b"other bytes", usedforsecurity=False).digest()))
    dag = step_dag("no_retry_integrity", inputs={"m": {"url": f"{azure_root}/model.bin", "conn_id": "test_azure"}})
    _failed_at_first_try(dag, capfd, says="md5 of the received bytes")


@pytest.fixture(autouse=True)
def _fresh_stores():
    from airflow_datastores.stores.registry import clear_cache

    clear_cache()
    yield
    clear_cache()
