"""Execution metadata in the Airflow glue: a collector per step run whose values pass Airflow's secrets
masker, stdout of a Python step read too, the summary pushed to XCom, and read back by a later step."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from airflow_datastores.execution_metadata import MetadataCollector
from airflow_datastores.records import XCOM_METADATA
from airflow_datastores.redaction import redact


def masked(value: Any) -> Any:
    """``value`` with what Airflow's secrets masker knows (connection passwords ...) and passwords typed
    into URLs replaced, so no metadata a step prints carries a secret to XCom, a manifest or a page."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # pragma: no cover - older task SDKs
        from airflow._shared.secrets_masker import redact as airflow_redact
    value = airflow_redact(value)
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, dict)):
        return json.loads(redact(json.dumps(value, default=str)))
    return value


def new_collector() -> MetadataCollector:
    return MetadataCollector(redact=masked)


def log_metadata(**values: Any) -> None:
    """Print one line of execution metadata from a Python step (what ``valohai.metadata.logger()``
    prints): ``log_metadata(epoch=3, loss=0.17)``. The step keeps it with its version."""
    print(json.dumps(values, default=str), flush=True)  # noqa: T201 - stdout is how metadata travels


@contextlib.contextmanager
def reading_stdout(collector: MetadataCollector) -> Iterator[None]:
    """While the body runs, every line written to ``sys.stdout`` also reaches ``collector``."""
    original = sys.stdout
    tee = _Tee(original, collector)
    sys.stdout = tee
    try:
        yield
    finally:
        tee.close_line()
        sys.stdout = original


class _Tee(io.TextIOBase):
    def __init__(self, target, collector: MetadataCollector) -> None:
        self.target, self.collector, self.pending = target, collector, ""

    def write(self, text: str) -> int:
        self.target.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.collector.feed(line)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close_line(self) -> None:
        if self.pending:
            self.collector.feed(self.pending)
            self.pending = ""


def push_metadata(context: Mapping[str, Any], summary: Mapping[str, Any] | None, *, logger) -> None:
    """Push what the step printed as ``datastore_metadata`` (nothing when it printed none), and log it."""
    if not summary or not summary.get("count"):
        return
    context["ti"].xcom_push(key=XCOM_METADATA, value=dict(summary))
    logger.info("Execution metadata: %d line%s; last values: %s", summary["count"],
                "" if summary["count"] == 1 else "s", json.dumps(summary.get("last", {}), default=str)[:2000])
