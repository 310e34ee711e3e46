"""What the dashboard reads from the stores themselves: lineage traces, aliases and datasets.

Only known stores are opened (the default store, ``[datastores] stores``, and stores versions were written
to): a page never opens a URL a person typed. Every request tries once (a store that does not answer is
said to, at once), and every list is bounded. What belongs to a DAG the user may not read is left out,
or in a trace shown as a step without its names, files or hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from airflow_datastores.errors import DataStoreError, NotFound
from airflow_datastores.plugin.probes import ONE_TRY, StoreRef, known_stores
from airflow_datastores.plugin.redact import safe_text, safe_url
from airflow_datastores.stores.registry import normalize_root, open_store
from airflow_datastores.stores.retrying import RetryingStore
from airflow_datastores.versions import aliases, datasets, lineage

MAX_ALIASES = 200  # aliases listed per store
MAX_HISTORY = 20  # moves shown per alias
MAX_DATASET_VERSIONS = 100  # dataset versions listed per store
MAX_DATASET_FILES = 20  # files shown per dataset version


def open_ref(ref: StoreRef):
    return RetryingStore(open_store(ref.url, conn_id=ref.conn_id).inner, policy=ONE_TRY)


def find_store(name_or_url: str | None, *, recorded: Collection[str] = ()) -> StoreRef:
    """The known store ``name_or_url`` names (the default store for none). :raises NotFound: not a known one."""
    refs, _ = known_stores(recorded)
    if not name_or_url:
        return next(r for r in refs if r.default)
    try:
        url = normalize_root(name_or_url) if "://" in name_or_url else None
    except DataStoreError:
        url = None
    for ref in refs:
        if name_or_url == ref.name or url == ref.url or name_or_url == safe_url(ref.url):
            return ref
    raise NotFound(f"{safe_text(name_or_url)} is not a store the dashboard knows")


def _readable(dags: Collection[str] | None):
    return lambda dag_id: dags is None or dag_id in dags


def trace(ref: StoreRef, *, dag_id: str, task_id: str, version_id: str, path: str = "",
          dags: Collection[str] | None = None, depth: int = lineage.DEPTH, width: int = lineage.WIDTH) -> dict:
    """The lineage of one version (or file), as plain JSON with URLs made safe."""
    if not _readable(dags)(dag_id):
        raise NotFound(f"No version {version_id} of {dag_id}.{task_id} you may read")
    found = lineage.trace(open_ref(ref), dag_id, task_id, version_id, path=path, depth=depth, width=width,
                          readable=_readable(dags)).to_dict()
    for node in found["nodes"]:
        node["url"] = safe_url(node.get("url"))
        node["store"] = ref.name or safe_url(ref.url)
    return found


def _per_store(recorded: Collection[str], key: str, fill: Callable[[Any, list[dict]], None]) -> list[dict]:
    """``{"store", key: [...], "error"}`` for every known store that has items or an error: ``fill(store,
    items)`` appends a store's items; what it appended before a failure stays, beside the error."""
    result = []
    for ref in known_stores(recorded)[0]:
        entry: dict[str, Any] = {"store": ref.name or safe_url(ref.url), key: [], "error": None}
        try:
            fill(open_ref(ref), entry[key])
        except Exception as err:  # noqa: BLE001 - one store that does not answer must not stop the page
            entry["error"] = safe_text(str(err) or type(err).__name__)
        if entry[key] or entry["error"]:
            result.append(entry)
    return result


def alias_list(*, dags: Collection[str] | None = None, recorded: Collection[str] = ()) -> list[dict]:
    """Per store, its aliases (of readable DAGs) with what each names now and its history, newest first."""
    readable = _readable(dags)

    def fill(store, items: list[dict]) -> None:
        for current in aliases.list_aliases(store)[:MAX_ALIASES]:
            if not readable(current.dag_id):
                continue
            scope = {} if current.scope == "global" else {"dag_id": current.dag_id, "task_id": current.task_id}
            moves = aliases.history(store, current.alias, **scope)
            items.append({**current.to_dict(), "history": [m.to_dict() for m in moves[::-1]
                                                           if readable(m.dag_id)][:MAX_HISTORY]})

    return _per_store(recorded, "aliases", fill)


def dataset_list(*, dags: Collection[str] | None = None, recorded: Collection[str] = ()) -> list[dict]:
    """Per store, its dataset versions with their files and the task versions those came from."""
    readable = _readable(dags)

    def fill(store, items: list[dict]) -> None:
        listed = sorted(datasets.list_dataset_versions(store), key=lambda v: (v[1], str(v[2] or "")),
                        reverse=True)[:MAX_DATASET_VERSIONS]  # (version, name, written): by name, newest first
        for version, name, _written in listed:
            loaded = datasets.load_dataset_version(store, name, version)
            origins: dict[tuple, int] = {}
            for origin in loaded.origins:
                key = (origin.get("dag_id"), origin.get("task_id"), origin.get("version_id"))
                origins[key] = origins.get(key, 0) + 1
            shown = [{"dag_id": d, "task_id": t, "version_id": v, "files": n} if readable(d)
                     else {"dag_id": None, "task_id": None, "version_id": None, "files": n}
                     for (d, t, v), n in origins.items()]
            files = [{"path": f.path, "size": f.size, "sha256": f.sha256}
                     for f, o in zip(loaded.files, loaded.origins, strict=False) if readable(o.get("dag_id"))]
            items.append({"name": name, "version": version, "created_at": loaded.created_at,
                          "file_count": len(loaded.files), "files": files[:MAX_DATASET_FILES], "origins": shown})

    return _per_store(recorded, "datasets", fill)


def alias_badges(store_urls: Collection[str]) -> dict[tuple[str, str, str, str], list[str]]:
    """``(store URL, dag, task, version)`` -> the aliases that name that version now (for the versions page)."""
    badges: dict[tuple[str, str, str, str], list[str]] = {}
    for ref in known_stores(store_urls)[0]:
        if safe_url(ref.url) not in store_urls and ref.url not in store_urls:
            continue
        try:
            for entry in aliases.list_aliases(open_ref(ref)):
                name = entry.alias if entry.scope == "task" else f"alias://{entry.alias}"
                badges.setdefault((safe_url(ref.url), entry.dag_id, entry.task_id, entry.version_id), []).append(name)
        except Exception:  # noqa: BLE001 - badges are a nicety; the page shows the versions regardless
            continue
    return badges
