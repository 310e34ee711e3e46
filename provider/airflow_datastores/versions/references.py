"""References: ``datastore://<dag_id>/<task_id>/<version id or latest>[/<path>][?store=...]``.

A reference names a version (or files inside it) by the task that produced it, so the next step reads
by reference instead of by URL; ``latest`` is the newest committed version when the reference is read
(:func:`airflow_datastores.versions.manifest.resolve_reference`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from airflow_datastores.errors import InvalidSpec

REFERENCE_SCHEME = "datastore://"
#: ``alias://<name>[/<path>]``: the version a global alias points to.
ALIAS_SCHEME = "alias://"
#: ``dataset://<name>/<version or latest>[/<path>]``: the files of a dataset version.
DATASET_SCHEME = "dataset://"
#: ``datum://<id or name>``: a Valohai datum, resolved by :mod:`airflow_datastores.versions.datums`.
DATUM_SCHEME = "datum://"
#: A dataset's name or version: letters, digits, ``.``, ``-``, ``_``.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


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
    """A reference, parsed. ``version`` is a version id, ``latest``, or ``@<alias>``; a global alias
    (``alias://``) has no ``dag_id`` and ``task_id`` until it is resolved; a dataset has no ``dag_id``,
    its name in ``task_id`` and the dataset version in ``version``."""

    dag_id: str
    task_id: str
    version: str
    path: str
    store: str | None


def is_reference(url: str) -> bool:
    """Whether ``url`` names files of versions (``datastore://``, ``alias://``, ``dataset://``, a Valohai
    ``datum://``) rather than objects of a store."""
    return url.startswith((REFERENCE_SCHEME, ALIAS_SCHEME, DATASET_SCHEME, DATUM_SCHEME))


def parse_reference(ref: str) -> Reference:
    """``datastore://<dag>/<task>/<version id | latest | @alias>[/<path>][?store=]``,
    ``alias://<name>[/<path>][?store=]`` or ``dataset://<name>/<version | latest>[/<path>][?store=]``. :raises InvalidSpec: naming what to write instead."""
    parts = urlsplit(ref)
    if parts.scheme == "datum":
        ident = parts.netloc + unquote(parts.path).rstrip("/")
        if not NAME.fullmatch(ident):
            raise InvalidSpec(f"{ref!r} is not a datum URL; write datum://<id or alias name>")
        return Reference("", "", f"datum:{ident}", "", _store_option(ref, parts.query))
    if parts.scheme == "dataset":
        base, _, query = ref.partition("?")
        name, version, path = parse_dataset_url(base)
        return Reference("", name, version, path, _store_option(ref, query))
    if parts.scheme == "alias":
        name, _, path = (parts.netloc + unquote(parts.path)).partition("/")
        if not name:
            raise InvalidSpec(f"{ref!r} is not an alias URL; write alias://<name>[/<path or wildcard>][?store=<store>]")
        return Reference("", "", f"@{name}", path, _store_option(ref, parts.query))
    segments = (parts.netloc + unquote(parts.path)).split("/", 3)
    if parts.scheme != "datastore" or len(segments) < 3 or not all(segments[:3]) or segments[2] == "@":
        raise InvalidSpec(
            f"{ref!r} is not a version reference; write "
            "datastore://<dag_id>/<task_id>/<version id, latest or @alias>[/<path or wildcard>][?store=<store>]"
        )
    return Reference(segments[0], segments[1], segments[2], segments[3] if len(segments) > 3 else "",
                     _store_option(ref, parts.query))


def _store_option(ref: str, query_text: str) -> str | None:
    query = parse_qs(query_text)
    unknown = set(query) - {"store"}
    if unknown:
        raise InvalidSpec(f"{ref!r}: unknown reference options {sorted(unknown)}; only 'store' is known")
    return query.get("store", [None])[0]


def parse_dataset_url(url: str) -> tuple[str, str, str]:
    """``dataset://<name>/<version | latest>[/<path>]`` -> ``(name, version, path)``."""
    rest = url[len(DATASET_SCHEME):] if url.startswith(DATASET_SCHEME) else ""
    name, _, rest = rest.partition("/")
    version, _, path = rest.partition("/")
    if not NAME.fullmatch(name) or not (version == "latest" or NAME.fullmatch(version)):
        raise InvalidSpec(f"{url!r} is not a dataset URL; write dataset://<dataset>/<version or latest>[/<path>]")
    return name, version, path
