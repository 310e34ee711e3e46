"""Which stores the dashboard shows, and whether each answers: one tiny request per store, in the
background, waited for at most a few seconds; an answer is reused for a few seconds more."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_datastores.errors import DataStoreError, NotFound
from airflow_datastores.plugin.redact import safe_text, safe_url
from airflow_datastores.retry import RetryPolicy
from airflow_datastores.stores.registry import default_store_url, named_stores, normalize_root, open_store
from airflow_datastores.stores.retrying import RetryingStore
from airflow_datastores.versions.layout import manifest_prefix

TIMEOUT = 3.0  # seconds a page waits for a store to answer
REUSE = 15.0  # seconds an answer is reused, so reloading a page does not knock on every store again
ONE_TRY = RetryPolicy(attempts=1)
MAX_UNCONFIGURED = 20  # stores seen only in records (a URL given to one task) that are checked too

KINDS = {"file": "Local directory", "s3": "Amazon S3", "az": "Azure Blob", "gs": "Google Cloud Storage",
         "swift": "OpenStack Swift", "http": "HTTP", "https": "HTTPS"}


@dataclass(frozen=True)
class StoreRef:
    name: str
    url: str
    conn_id: str | None = None
    default: bool = False
    configured: bool = True

    @property
    def kind(self) -> str:
        scheme = self.url.split("://", 1)[0]
        return KINDS.get(scheme, scheme)


def known_stores(recorded: Iterable[str] = ()) -> tuple[list[StoreRef], str | None]:
    """The default store, the named stores, and stores seen only in version records.

    :returns: the stores, and the configuration error if ``[datastores] stores`` cannot be read.
    """
    error = None
    try:
        named = list(named_stores().values())
    except DataStoreError as err:
        named, error = [], safe_text(str(err))
    try:
        default = normalize_root(default_store_url())
    except DataStoreError as err:
        default, error = None, error or safe_text(str(err))
    refs: dict[str, StoreRef] = {}
    for config in named:
        url = normalize_root(config.url)
        refs.setdefault(url, StoreRef(config.name, url, config.conn_id, default=url == default))
    if default and default not in refs:
        refs[default] = StoreRef("default", default, default=True)
    ordered = sorted(refs.values(), key=lambda r: (not r.default, r.name))
    extra = [u for u in dict.fromkeys(recorded) if u and u not in refs][:MAX_UNCONFIGURED]
    return ordered + [StoreRef("", url, configured=False) for url in extra], error


@dataclass
class _Probe:
    started: float
    done: threading.Event
    finished: float = 0.0
    error: str | None = None


_probes: dict[tuple[str, str | None], _Probe] = {}
_lock = threading.Lock()


def reachability(stores: Iterable[StoreRef], *, timeout: float = TIMEOUT) -> dict[str, str | None]:
    """``{url: None if it answered, else the error}``, waiting at most ``timeout`` seconds in all."""
    now = time.monotonic()
    probes = {}
    with _lock:
        for ref in stores:
            key = (ref.url, ref.conn_id)
            probe = _probes.get(key)
            if probe is None or (probe.done.is_set() and now - probe.finished > REUSE):
                probe = _Probe(started=now, done=threading.Event())
                _probes[key] = probe
                threading.Thread(target=_run, args=(probe, ref), daemon=True,
                                 name=f"datastores-probe-{ref.name or 'store'}").start()
            probes[ref.url] = probe
    result = {}
    for url, probe in probes.items():
        # A probe still hanging from an earlier request is not waited for again.
        probe.done.wait(max(0.0, probe.started + timeout - time.monotonic()))
        result[url] = probe.error if probe.done.is_set() else f"no answer within {timeout:g} s"
    return result


def _run(probe: _Probe, ref: StoreRef) -> None:
    try:
        # One try: a page says at once that a store does not answer, rather than retrying for minutes.
        store = RetryingStore(open_store(ref.url, conn_id=ref.conn_id).inner, policy=ONE_TRY)
        if store.writable:
            next(iter(store.list(manifest_prefix())), None)  # one listing page at most
        else:
            try:
                store.stat("")
            except NotFound:
                pass  # the server answered; a read-only store has no root object to find
    except Exception as err:  # noqa: BLE001 - any failure is what the page shows, made safe
        probe.error = safe_text(str(err) or type(err).__name__) or type(err).__name__
    finally:
        probe.finished = time.monotonic()
        probe.done.set()


def describe(ref: StoreRef) -> dict:
    """The store as the page and JSON show it: no credentials, the connection only by its id."""
    return {"name": ref.name or None, "kind": ref.kind, "location": safe_url(ref.url), "conn_id": ref.conn_id,
            "default": ref.default, "configured": ref.configured}
