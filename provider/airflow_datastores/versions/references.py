"""References: ``datastore://<dag_id>/<task_id>/<version id or latest>[/<path>][?store=...]``.

A reference names a version (or files inside it) by the task that produced it, so the next step reads
by reference instead of by URL; ``latest`` is the newest committed version when the reference is read
(:func:`airflow_datastores.versions.manifest.resolve_reference`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from airflow_datastores.errors import InvalidSpec

REFERENCE_SCHEME = "datastore://"


def make_reference(*, dag_id: str, task_id: str, version: str = "latest", path: str = "",
                   store: str | None = None) -> str:
    """``datastore://<dag_id>/<task_id>/<version or latest>[/<path or wildcard>][?store=<name or URL>]``."""
    ref = f"{REFERENCE_SCHEME}{dag_id}/{task_id}/{version}"
    if path:
        ref += "/" + path.lstrip("/")
    if store:
        ref += "?store=" + quote(store, safe="")
    return ref


@dataclass(frozen=True)
class Reference:
    dag_id: str
    task_id: str
    version: str
    path: str
    store: str | None


def parse_reference(ref: str) -> Reference:
    parts = urlsplit(ref)
    segments = (parts.netloc + unquote(parts.path)).split("/", 3)
    if parts.scheme != "datastore" or len(segments) < 3 or not all(segments[:3]):
        raise InvalidSpec(
            f"{ref!r} is not a version reference; write "
            "datastore://<dag_id>/<task_id>/<version id or latest>[/<path or wildcard>][?store=<store>]"
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"store"}
    if unknown:
        raise InvalidSpec(f"{ref!r}: unknown reference options {sorted(unknown)}; only 'store' is known")
    store = query.get("store", [None])[0]
    return Reference(segments[0], segments[1], segments[2], segments[3] if len(segments) > 3 else "", store)
