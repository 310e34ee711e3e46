"""The provider's ``[datastores]`` configuration section, read with the defaults it declares."""

from __future__ import annotations

import os

from airflow_datastores.errors import InvalidSpec


def conf_value(option: str, fallback: str = "") -> str:
    """``[datastores] <option>`` from airflow.cfg or ``AIRFLOW__DATASTORES__<OPTION>``."""
    from airflow.configuration import conf

    return conf.get("datastores", option, fallback=fallback) or fallback


def airflow_home() -> str:
    return os.path.abspath(os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"))


def conf_int(option: str, default: int) -> int:
    """``[datastores] <option>`` as a whole number; a clear error names the option otherwise."""
    return _number(option, default, int, "a whole number")


def conf_float(option: str, default: float) -> float:
    """``[datastores] <option>`` as a number of seconds (or any decimal number)."""
    return _number(option, default, float, "a number")


def _number(option: str, default, kind: type, what: str):
    raw = conf_value(option, str(default))
    try:
        return kind(raw)
    except ValueError:
        raise InvalidSpec(f"[datastores] {option} = {raw!r} is not {what}") from None


def cache_dir() -> str:
    """Worker-local cache of staged inputs (``cache_dir``; default ``$AIRFLOW_HOME/datastores-cache``)."""
    return conf_value("cache_dir") or os.path.join(airflow_home(), "datastores-cache")


def cache_max_bytes() -> int:
    return conf_int("cache_max_bytes", 10 * 1024**3)


#: Connections one task may have open at once, unless ``[datastores] max_connections`` says otherwise.
DEFAULT_MAX_CONNECTIONS = 32


def max_connections() -> int:
    """``max_connections``: connections one task may have open to its stores at once (a file each,
    and a large object's parallel ranges or parts)."""
    return max(1, conf_int("max_connections", DEFAULT_MAX_CONNECTIONS))


def max_concurrency() -> int:
    """``max_concurrency``: files one task transfers at once; empty (the default): ``max_connections``."""
    if not conf_value("max_concurrency").strip():
        return max_connections()
    return max(1, conf_int("max_concurrency", DEFAULT_MAX_CONNECTIONS))


def work_dir() -> str:
    """Where tasks get their inputs and outputs directories (``work_dir``; default
    ``$AIRFLOW_HOME/datastores-work``, beside the cache so staged files can be hard links)."""
    return conf_value("work_dir") or os.path.join(airflow_home(), "datastores-work")
