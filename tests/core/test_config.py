"""The [datastores] options: declared once (config.OPTIONS, what provider info hands Airflow), read one way
(Airflow's task-SDK configuration, from config.py alone), each reader falling back to the declared default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_datastores import config
from airflow_datastores.provider_info import get_provider_info
from airflow_datastores.retry import RetryPolicy

PACKAGE = Path(config.__file__).parent


@pytest.fixture
def unset(monkeypatch):
    for option in config.OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__DATASTORES__{option.upper()}", raising=False)


def test_airflow_is_told_the_defaults_the_readers_use(unset):
    assert get_provider_info()["config"]["datastores"]["options"] is config.OPTIONS
    policy = RetryPolicy.from_config()
    assert (policy.attempts, policy.max_seconds, policy.read_timeout) == (
        int(config.default("retry_attempts")), float(config.default("retry_max_seconds")),
        float(config.default("read_timeout")))
    assert RetryPolicy() == policy  # the policy's own defaults are the declared ones
    assert config.max_connections() == int(config.default("max_connections"))
    assert config.max_concurrency() == config.max_connections()  # declared empty: as many as connections
    assert config.cache_max_bytes() == int(config.default("cache_max_bytes"))


def test_a_value_set_in_the_environment_is_read_and_a_bad_one_named(unset, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATASTORES__RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("AIRFLOW__DATASTORES__MAX_CONNECTIONS", "4")
    assert RetryPolicy.from_config().attempts == 3 and config.max_concurrency() == 4
    monkeypatch.setenv("AIRFLOW__DATASTORES__MAX_CONCURRENCY", "two")
    with pytest.raises(ValueError, match=r"\[datastores\] max_concurrency = 'two' is not a whole number"):
        config.max_concurrency()


def test_only_config_reads_airflow_configuration():
    readers = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if re.search(r"airflow(\.sdk)?\.configuration|from airflow import conf", p.read_text())]
    assert readers == ["config.py"]


@pytest.mark.parametrize("option", ["stores", "datums", "environment_queues"])
def test_a_json_object_option_that_is_not_one_is_named_with_its_example(unset, monkeypatch, option):
    from airflow_datastores.errors import InvalidSpec
    from airflow_datastores.pipelines.steps import environment_queues
    from airflow_datastores.stores.registry import named_stores
    from airflow_datastores.versions.datums import datum_table

    read = {"stores": named_stores, "datums": datum_table, "environment_queues": environment_queues}[option]
    assert read() == {}  # empty: nothing configured
    monkeypatch.setenv(f"AIRFLOW__DATASTORES__{option.upper()}", "{oops")
    with pytest.raises(InvalidSpec, match=rf"\[datastores\] {option} is not valid JSON \(.* at column 2\); "
                                          rf"give an object such as {re.escape(config.OPTIONS[option]['example'])}"):
        read()
    monkeypatch.setenv(f"AIRFLOW__DATASTORES__{option.upper()}", '["a list"]')
    with pytest.raises(InvalidSpec, match=rf"\[datastores\] {option} must be a JSON object mapping "):
        read()
