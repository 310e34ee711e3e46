"""The provider's ``[datastores]`` configuration: every option declared once here (its default, type,
description: what ``provider_info`` hands Airflow, and what the readers fall back to), and read one way,
through Airflow's task-SDK configuration (``airflow.cfg``, ``AIRFLOW__DATASTORES__<OPTION>``, secrets)."""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_datastores.errors import InvalidSpec

#: The ``[datastores]`` options as Airflow's provider info declares them (defaults are text, as there).
OPTIONS: dict[str, dict[str, str]] = {
    "default_store": {
        "description": "URL or name of the store used when a task names none. "
        "Empty: a local directory, $AIRFLOW_HOME/datastores.",
        "version_added": "0.1.0",
        "type": "string",
        "example": "s3://my-bucket/airflow",
        "default": "",
    },
    "stores": {
        "description": "Named stores, as JSON: name -> URL, or name -> "
        '{"url": ..., "conn_id": ...}. Inputs under a named store\'s URL use its connection.',
        "version_added": "0.1.0",
        "type": "string",
        "example": '{"raw": {"url": "s3://raw-data", "conn_id": "aws_raw"}}',
        "default": "",
    },
    "cache_dir": {
        "description": "Local cache of staged inputs on each worker. "
        "Empty: $AIRFLOW_HOME/datastores-cache.",
        "version_added": "0.1.0",
        "type": "string",
        "example": "/var/cache/airflow-datastores",
        "default": "",
    },
    "work_dir": {
        "description": "Where tasks get their inputs and outputs directories. Empty: "
        "$AIRFLOW_HOME/datastores-work. Keep it on the same file system as cache_dir.",
        "version_added": "0.1.0",
        "type": "string",
        "example": "/var/lib/airflow-datastores/work",
        "default": "",
    },
    "cache_max_bytes": {
        "description": "Upper bound of the cache's size in bytes; the least recently "
        "used entries go first.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "107374182400",
        "default": "10737418240",
    },
    "max_connections": {
        "description": "How many connections one task may have open to its stores at once: "
        "many small files transfer that many at once (each waits on round trips), a large "
        "object is read as parallel ranges that share them (each stream is capped by the "
        "network), and large uploads send parts in parallel.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "64",
        "default": "32",
    },
    "max_concurrency": {
        "description": "How many files one task transfers at once. Empty: as many as "
        "max_connections.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "16",
        "default": "",
    },
    "retry_attempts": {
        "description": "Tries of one request to a store in all, the first included (1: no "
        "retry). Transient failures (resets, timeouts, 408/429/5xx, throttling) are retried "
        "with exponential backoff and jitter; a read resumes at its last byte.",
        "version_added": "0.1.0",
        "type": "integer",
        "example": "12",
        "default": "8",
    },
    "retry_max_seconds": {
        "description": "No retry of a request starts after this many seconds since its first try.",
        "version_added": "0.1.0",
        "type": "float",
        "example": "600",
        "default": "300",
    },
    "read_timeout": {
        "description": "Seconds a request may wait for the next bytes before it counts as "
        "stalled and is retried.",
        "version_added": "0.1.0",
        "type": "float",
        "example": "120",
        "default": "60",
    },
    "environment_queues": {
        "description": "YAML pipelines: JSON object of Valohai environment (a step's "
        "'environment', a machine type) -> the Airflow queue its task goes to. A step whose "
        "environment is not listed runs on the default queue, with a note.",
        "version_added": "0.1.0",
        "type": "string",
        "example": '{"aws-eu-west-1-p2-xlarge": "gpu"}',
        "default": "",
    },
    "datums": {
        "description": "Valohai datum:// URLs: JSON object of datum id (or name) -> the URL of "
        "that file here, for teams that copied their Valohai data into their own bucket. A datum "
        "not listed is looked up as an alias of that name (one that names a file).",
        "version_added": "0.1.0",
        "type": "string",
        "example": '{"0182b0ad-5a7a-c36b-e79e-80623acea29f": "s3://bucket/data/train.csv"}',
        "default": "",
    },
}


def default(option: str) -> str:
    """The declared default of ``[datastores] <option>`` (as text)."""
    return OPTIONS[option]["default"]


def airflow_conf() -> Any:
    """Airflow's configuration, as task code reads it (the one place this provider imports it from)."""
    from airflow.sdk.configuration import conf

    return conf


def conf_value(option: str, fallback: str | None = None) -> str:
    """``[datastores] <option>`` from airflow.cfg or ``AIRFLOW__DATASTORES__<OPTION>``; empty: ``fallback``
    (default: the declared default)."""
    fallback = default(option) if fallback is None else fallback
    return airflow_conf().get("datastores", option, fallback=fallback) or fallback


def airflow_home() -> str:
    return os.path.abspath(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"))


def conf_int(option: str) -> int:
    """``[datastores] <option>`` as a whole number; a clear error names the option otherwise."""
    return _number(option, int, "a whole number")


def conf_float(option: str) -> float:
    """``[datastores] <option>`` as a number of seconds (or any decimal number)."""
    return _number(option, float, "a number")


def _number(option: str, kind: type, what: str):
    raw = conf_value(option)
    try:
        return kind(raw)
    except ValueError:
        raise InvalidSpec(f"[datastores] {option} = {raw!r} is not {what}") from None


def conf_json_object(option: str, *, of: str) -> dict:
    """``[datastores] <option>`` as a JSON object (empty: ``{}``); a clear error names the option and
    shows its declared example otherwise.

    :param of: what the object maps, for the message (e.g. ``"names to stores"``).
    """
    raw = conf_value(option).strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InvalidSpec(f"[datastores] {option} is not valid JSON ({err.msg} at column {err.colno}); "
                          f"give an object such as {OPTIONS[option]['example']}") from None
    if not isinstance(value, dict):
        raise InvalidSpec(f"[datastores] {option} must be a JSON object mapping {of}")
    return value


def cache_dir() -> str:
    """Worker-local cache of staged inputs (``cache_dir``; default ``$AIRFLOW_HOME/datastores-cache``)."""
    return conf_value("cache_dir") or os.path.join(airflow_home(), "datastores-cache")


def cache_max_bytes() -> int:
    return conf_int("cache_max_bytes")


def max_connections() -> int:
    """``max_connections``: connections one task may have open to its stores at once (a file each,
    and a large object's parallel ranges or parts)."""
    return max(1, conf_int("max_connections"))


def max_concurrency() -> int:
    """``max_concurrency``: files one task transfers at once; empty (the default): ``max_connections``."""
    if not conf_value("max_concurrency").strip():
        return max_connections()
    return max(1, conf_int("max_concurrency"))


def work_dir() -> str:
    """Where tasks get their inputs and outputs directories (``work_dir``; default
    ``$AIRFLOW_HOME/datastores-work``, beside the cache so staged files can be hard links)."""
    return conf_value("work_dir") or os.path.join(airflow_home(), "datastores-work")
