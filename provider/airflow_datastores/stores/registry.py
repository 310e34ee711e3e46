"""From a URL or a store name to the backend that serves it.

``file:///abs/path``, ``s3://bucket/key``, ``az://container/blob``, ``gs://bucket/key``,
``swift://container/object`` and ``http(s)://host/path`` (read-only). Named stores come from the
``[datastores] stores`` option; with nothing configured, the default store is a local directory under
``$AIRFLOW_HOME``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from airflow_datastores.config import airflow_home, conf_json_object, conf_value as _conf
from airflow_datastores.errors import BrokenExtra, InvalidSpec, MissingExtra
from airflow_datastores.redaction import redact
from airflow_datastores.stores.base import Store
from airflow_datastores.stores.retrying import RetryingStore

#: scheme -> (module, class, extra that provides its SDK or None)
_BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "file": ("airflow_datastores.stores.local", "LocalStore", None),
    "s3": ("airflow_datastores.stores.s3", "S3Store", "s3"),
    "az": ("airflow_datastores.stores.azure", "AzureBlobStore", "azure"),
    "gs": ("airflow_datastores.stores.gcs", "GCSStore", "gcs"),
    "swift": ("airflow_datastores.stores.swift", "SwiftStore", "swift"),
    "http": ("airflow_datastores.stores.http", "HttpStore", None),
    "https": ("airflow_datastores.stores.http", "HttpStore", None),
}

SCHEMES = tuple(_BACKENDS)

_cache: dict[tuple[str, str, str | None], Store] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class StoreConfig:
    """A named store: where it is and which Airflow connection holds its credentials."""

    name: str
    url: str
    conn_id: str | None = None


def backend_class(scheme: str) -> type[Store]:
    """The Store class for ``scheme``; a missing optional dependency names the extra to install."""
    try:
        module_name, class_name, extra = _BACKENDS[scheme]
    except KeyError:
        raise InvalidSpec(
            f"Unknown store scheme {scheme + '://'!r}: use one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if extra is None or (err.name or "").startswith("airflow_datastores"):
            raise
        raise _extra_error(scheme, extra, err) from err
    return getattr(module, class_name)


_DISTRIBUTION = "airflow-provider-datastores"


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None`` when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _extra_error(scheme: str, extra: str, err: ImportError) -> ImportError:
    """Why a backend did not import: its extra is missing (some package it needs is not installed), or it
    is installed and broken (the underlying error, with the versions of what the extra needs)."""
    from packaging.requirements import Requirement

    cause = err.__cause__ if isinstance(err, MissingExtra) and isinstance(err.__cause__, ImportError) else err
    requires = importlib.metadata.requires(_DISTRIBUTION) if installed_version(_DISTRIBUTION) else None
    needed = [r for r in map(Requirement, requires or []) if r.marker and r.marker.evaluate({"extra": extra})
              and r.name != _DISTRIBUTION]
    installed = {r.name: installed_version(r.name) for r in needed}
    missing = [name for name, version in installed.items() if version is None]
    if not needed or missing:  # without our own metadata (a source tree on sys.path) say what the SDK said
        return MissingExtra(scheme=scheme, extra=extra, missing=missing or [f"{type(cause).__name__}: {cause}"])
    versions = [f"apache-airflow-core {installed_version('apache-airflow-core') or 'not installed'}"]
    outside = []
    for req in needed:
        version = installed[req.name]
        if req.specifier.contains(version, prereleases=True):
            versions.append(f"{req.name} {version}")
        else:
            versions.append(f"{req.name} {version} (the extra needs {req.specifier})")
            outside.append(req.name)
    return BrokenExtra(scheme=scheme, extra=extra, error=cause, versions=versions, outside=outside)


def split_url(url: str) -> tuple[str, str, str]:
    """Split a store URL into ``(scheme, root URL, key)``.

    The root is the bucket / container / host (``file:///`` for local paths); the key is the rest,
    without a leading slash. Keys are written as they are (``s3://bucket/my file.csv``), not
    percent-encoded, as the cloud CLIs write them: in a ``file``, ``s3``, ``az``, ``gs`` or ``swift``
    URL everything after the bucket is the key, ``#`` included (``?`` is a wildcard: ``[?]`` names the
    character itself). Only ``http(s)`` URLs have a query (``?``) and a fragment (``#``, never sent).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _BACKENDS:
        raise InvalidSpec(
            f"{redact(url)!r} is not a store URL: it must start with one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
            + " (local paths as file:///absolute/path)"
        )
    if scheme not in ("http", "https"):
        # No query, no fragment: the rest of the URL is the key, as written.
        netloc, _, path = url.split("://", 1)[1].partition("/")
        parts = parts._replace(netloc=netloc, path=f"/{path}", query="", fragment="")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidSpec(f"{redact(url)!r}: local paths are written file:///absolute/path (three slashes)")
        return scheme, "file:///", parts.path.lstrip("/")
    if not parts.netloc:
        raise InvalidSpec(f"{redact(url)!r}: the URL names no bucket, container or host")
    if "@" in parts.netloc and scheme not in ("http", "https"):
        raise InvalidSpec(
            f"{redact(url)!r}: credentials written into a {scheme}:// URL are not accepted; put them in an "
            "Airflow connection and give its conn_id"
        )
    if scheme in ("http", "https"):
        key = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
        return scheme, f"{scheme}://{parts.netloc}", key
    return scheme, f"{scheme}://{parts.netloc}", parts.path.lstrip("/")


@dataclass(frozen=True)
class Location:
    """A URL parsed once: which backend serves it, the store's root, the key below it, the connection.

    :param scheme: ``file``, ``s3``, ``az``, ``gs``, ``swift``, ``http`` or ``https``.
    :param root: the bucket / container / host as a URL (``file:///`` for local paths).
    :param key: the rest, without a leading slash, as written (not percent-encoded).
    :param conn_id: the Airflow connection for it: given, or the named store's that covers the URL.
    """

    scheme: str
    root: str
    key: str
    conn_id: str | None = None

    @property
    def url(self) -> str:
        """The location as one URL (without a trailing slash), as a store rooted here is named."""
        key, _, query = self.key.partition("?") if self.scheme in ("http", "https") else (self.key, "", "")
        key = key.rstrip("/")
        if self.scheme == "file":
            return f"file:///{key}"
        url = f"{self.root}/{key}" if key else self.root
        return f"{url}?{query}" if query else url


def normalize_root(url: str) -> str:
    """``url`` as a store rooted there is named: without trailing slashes (``file:///`` stays ``/``)."""
    scheme, root, key = split_url(url)
    return Location(scheme=scheme, root=root, key=key).url


def parse_location(url: str, *, conn_id: str | None = None) -> Location:
    """Parse ``url`` once (see :func:`split_url`); ``conn_id`` defaults to the connection of the named
    store whose URL covers it (``[datastores] stores``), else the backend's usual default."""
    scheme, root, key = split_url(url)
    if conn_id is None and scheme != "file":  # a local directory takes no connection: no config to read
        conn_id = _conn_id_for(url)
    return Location(scheme=scheme, root=root, key=key, conn_id=conn_id)


def open_store(url: str | Location, *, conn_id: str | None = None) -> Store:
    """A store rooted at ``url`` (a bucket, a container, a prefix or a directory).

    ``conn_id`` defaults to the connection of the named store whose URL covers ``url``, and then to
    the backend's usual default (``aws_default``, ``wasb_default``, ``google_cloud_default``,
    ``swift_default``). Every request of the store goes through the retry policy
    (:class:`~airflow_datastores.stores.retrying.RetryingStore`). Instances are shared within a
    process: they are thread-safe.
    """
    location = url if isinstance(url, Location) else parse_location(url, conn_id=conn_id)
    return _open(location.scheme, location.url, location.conn_id)


def locate(url: str, *, conn_id: str | None = None) -> tuple[Store, str]:
    """The store that holds the object at ``url`` (rooted at its bucket, container, host or ``/``),
    and the object's key in it."""
    location = parse_location(url, conn_id=conn_id)
    return _open(location.scheme, location.root, location.conn_id), location.key


def _open(scheme: str, root: str, conn_id: str | None) -> Store:
    cache_key = (scheme, root, conn_id)
    with _cache_lock:
        store = _cache.get(cache_key)
        if store is None:
            store = RetryingStore(backend_class(scheme)(root=root, conn_id=conn_id))
            _cache[cache_key] = store
        return store


def clear_cache() -> None:
    """Forget every open store (tests, and after connections changed)."""
    with _cache_lock:
        stores = list(_cache.values())
        _cache.clear()
    for store in stores:
        store.close()


# Configuration


def named_stores() -> dict[str, StoreConfig]:
    """Stores configured by name in ``[datastores] stores`` (JSON: name -> URL or {url, conn_id})."""
    data = conf_json_object("stores", of="names to stores")
    stores = {}
    for name, spec in data.items():
        if isinstance(spec, str):
            spec = {"url": spec}
        if not isinstance(spec, dict) or "url" not in spec:
            raise InvalidSpec(f"[datastores] stores: store {name!r} needs a 'url'")
        unknown = set(spec) - {"url", "conn_id"}
        if unknown:
            raise InvalidSpec(
                f"[datastores] stores: store {name!r} has unknown keys {sorted(unknown)}; "
                "allowed are 'url' and 'conn_id'"
            )
        split_url(spec["url"])
        stores[name] = StoreConfig(name=name, url=spec["url"].rstrip("/"), conn_id=spec.get("conn_id"))
    return stores


def default_store_url() -> str:
    """``[datastores] default_store`` (a URL or a store name), else ``$AIRFLOW_HOME/datastores``."""
    configured = _conf("default_store").strip()
    if configured:
        return resolve_store(configured).url
    return "file://" + os.path.join(os.path.abspath(airflow_home()), "datastores")


def resolve_store(name_or_url: str | None) -> Location:
    """The location of a store name (from ``[datastores] stores``), a store URL, or ``None``/``"default"``
    for the default store; ``[datastores] stores`` is read once."""
    if name_or_url and "://" in name_or_url:
        return parse_location(name_or_url)
    if not name_or_url or name_or_url == "default":
        return parse_location(default_store_url())
    stores = named_stores()
    if name_or_url not in stores:
        known = ", ".join(sorted(stores)) or "none are configured"
        raise InvalidSpec(
            f"Unknown store {name_or_url!r} (known stores: {known}); name a store from "
            "[datastores] stores or give a URL such as s3://bucket/prefix"
        )
    config = stores[name_or_url]
    return parse_location(config.url, conn_id=config.conn_id or _conn_id_among(config.url, stores))


def get_store(name_or_url: str | None = None, *, conn_id: str | None = None) -> Store:
    """The store named ``name_or_url`` (a configured name or a URL); ``None`` gives the default."""
    location = resolve_store(name_or_url)
    if conn_id:
        location = replace(location, conn_id=conn_id)
    return open_store(location)


def _conn_id_for(url: str) -> str | None:
    """The connection of the longest named store whose URL covers ``url``, if any."""
    return _conn_id_among(url, named_stores())


def _conn_id_among(url: str, stores: dict[str, StoreConfig]) -> str | None:
    best: StoreConfig | None = None
    for config in stores.values():
        if (url == config.url or url.startswith(config.url + "/")) and (best is None or len(config.url) > len(best.url)):
            best = config
    return best.conn_id if best else None
