"""Lineage: which versions a version was made from, and which versions were made from it.

"Made from" is in every manifest already (its ``inputs``: each staged file with its URL or the version
and dataset version it came from, and its sha256). "Made from it" is an index the commit keeps, one
small object per use, so finding a version's consumers is one listing, never a read of every manifest::

    _lineage/<dag>/<task>/<version>/<consumer dag>/<consumer task>/<consumer version>.json
    _lineage/@datasets/<name>/<version>/<consumer dag>/<consumer task>/<consumer version>.json

:func:`trace` walks both ways from one version (or one file of it), bounded in depth and in width, so
a trace costs at most a few dozen reads whatever the store holds. The index is written into the store of
the consuming version (where staging read from the same store, which is the usual case); versions
committed before the index existed are added by :func:`rebuild_index` (one read of every manifest, once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_datastores.errors import NotFound
from airflow_datastores.stores.base import Store
from airflow_datastores.versions.datasets import load_dataset_version
from airflow_datastores.versions.manifest import Version, list_versions, load_version
from airflow_datastores.versions.references import DATASET_SCHEME, REFERENCE_SCHEME

log = logging.getLogger(__name__)

LINEAGE = "_lineage"
_DATASETS = "@datasets"
DEPTH = 3  # steps each way a trace follows by default
WIDTH = 12  # neighbours of one node a trace shows by default; the rest are counted as "more"


def sources_of(version: Version) -> dict[tuple[str, ...], list[dict]]:
    """The input records of ``version`` by what they came from: ``("version", dag, task, version_id)``,
    ``("dataset", name, version)`` or ``("input", name)`` for files staged from a URL."""
    found: dict[tuple[str, ...], list[dict]] = {}
    for record in version.inputs:
        source = str(record.get("source") or "")
        if source.startswith(REFERENCE_SCHEME) and record.get("version_id"):
            dag_id, task_id = source[len(REFERENCE_SCHEME):].split("/", 2)[:2]
            key: tuple[str, ...] = ("version", dag_id, task_id, str(record["version_id"]))
        elif source.startswith(DATASET_SCHEME) and record.get("version_id"):
            key = ("dataset", source[len(DATASET_SCHEME):].split("/", 1)[0], str(record["version_id"]))
        else:
            key = ("input", str(record.get("name")))
        found.setdefault(key, []).append(record)
    return found


def used_by_prefix(kind: str, *parts: str) -> str:
    """Where the consumers of a version (``kind="version"``: dag, task, version) or of a dataset version
    (``"dataset"``: name, version) are listed."""
    return f"{LINEAGE}/{_DATASETS}/" + "/".join(parts) + "/" if kind == "dataset" else f"{LINEAGE}/" + "/".join(parts) + "/"


def record_uses(store: Store, version: Version, *, logger: logging.Logger | None = None) -> int:
    """Add ``version`` to the "used by" index of every version and dataset version it was made from;
    returns how many entries it wrote. A failure to write one is logged, never raised: the version is
    committed already, and :func:`rebuild_index` can add it later."""
    written = 0
    for key, records in sources_of(version).items():
        if key[0] == "input":
            continue
        entry = {"dag_id": version.dag_id, "task_id": version.task_id, "version_id": version.version_id,
                 "run_id": version.run_id, "committed_at": version.committed_at,
                 "paths": sorted({_source_path(str(r.get("source", ""))) for r in records}),
                 "sha256": sorted({str(r.get("sha256")) for r in records}),
                 "changed": _changed(records), "input": sorted({str(r.get("name")) for r in records})}
        target = used_by_prefix(key[0], *key[1:]) + f"{version.dag_id}/{version.task_id}/{version.version_id}.json"
        try:
            store.write_bytes(target, json.dumps(entry, sort_keys=True).encode())
            written += 1
        except Exception as err:  # noqa: BLE001 - see the docstring
            (logger or log).warning("Could not add %s to the lineage index (%s); airflow-datastores trace "
                                    "--rebuild-index adds it later", store.url_for(target), err)
    return written


def _source_path(source: str) -> str:
    """The file's path in its version: ``datastore://dag/task/<path>`` or ``dataset://name/<path>``."""
    if source.startswith(REFERENCE_SCHEME):
        return source[len(REFERENCE_SCHEME):].split("/", 2)[-1]
    return source[len(DATASET_SCHEME):].split("/", 1)[-1]


def used_by(store: Store, kind: str, *parts: str) -> list[dict]:
    """The versions made from a version (or dataset version), oldest first: one listing, one read each."""
    prefix = used_by_prefix(kind, *parts)
    entries = []
    for info in store.list(prefix):
        if info.key.endswith(".json") and info.key[len(prefix):].count("/") == 2:
            try:
                entries.append(json.loads(store.read_bytes(info.key)))
            except (NotFound, ValueError):
                continue
    return sorted(entries, key=lambda e: (e.get("committed_at") or "", e.get("version_id") or ""))


def forget(store: Store, version: Version, *, logger: logging.Logger | None = None) -> None:
    """Remove a purged version from the index: its entries under what it was made from, and its own
    list of consumers (their manifests still name it as an input, so a trace shows it as purged)."""
    keys = [used_by_prefix(key[0], *key[1:]) + f"{version.dag_id}/{version.task_id}/{version.version_id}.json"
            for key in sources_of(version) if key[0] != "input"]
    keys += [info.key for info in store.list(used_by_prefix("version", version.dag_id, version.task_id,
                                                            version.version_id))]
    for key in keys:
        try:
            store.delete(key)
        except NotFound:
            continue
        except Exception as err:  # noqa: BLE001 - a stale index entry misleads less than a failed purge
            (logger or log).warning("Could not remove %s from the lineage index (%s)", store.url_for(key), err)


def rebuild_index(store: Store, *, logger: logging.Logger | None = None) -> int:
    """Write the "used by" entries of every committed version (for versions committed before the index
    existed); returns how many it wrote."""
    written = 0
    for summary in list_versions(store):
        try:
            written += record_uses(store, load_version(store, summary.dag_id, summary.task_id, summary.version_id),
                                   logger=logger)
        except NotFound:
            continue
    return written


@dataclass
class Node:
    """A box of the trace: a version, a dataset version, or an input staged from a URL."""

    id: str
    kind: str  # "version", "dataset", "input"
    level: int  # 0: the traced version; negative: made from; positive: used by
    label: str
    dag_id: str | None = None
    task_id: str | None = None
    version_id: str | None = None
    run_id: str | None = None
    committed_at: str | None = None
    files: int = 0
    size: int = 0
    url: str | None = None


@dataclass
class Edge:
    """A staging: the files of ``source`` that ``target`` was made from (``input``: the input's name)."""

    source: str
    target: str
    input: str
    files: int
    sha256: str | None = None  # of a single file
    changed: bool | None = None  # whether an input changed since the previous run (None: first use)
    paths: list[str] = field(default_factory=list)


@dataclass
class Trace:
    root: str
    path: str
    nodes: dict[str, Node]
    edges: list[Edge]
    more: list[dict]  # {"node": id, "direction": "from"|"to", "count": n}: neighbours not shown
    hidden: dict[str, str] = field(default_factory=dict)  # a node's id -> the opaque id it is shown by

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "path": self.path, "nodes": [asdict(n) for n in self.nodes.values()],
                "edges": [asdict(e) for e in self.edges], "more": list(self.more)}


def trace(store: Store, dag_id: str, task_id: str, version_id: str, *, path: str = "", depth: int = DEPTH,
          width: int = WIDTH, readable: Any = None) -> Trace:
    """Where a version (or its file ``path``) came from and what used it, ``depth`` steps each way.

    :param readable: a predicate on a DAG id (the dashboard's permission); a node of a DAG it refuses
        says a step is there, not its names, files or hashes, and is not followed.
    """
    root = load_version(store, dag_id, task_id, version_id)
    if path and not any(f.path == path for f in root.files):
        raise NotFound(f"Version {version_id} of {dag_id}.{task_id} has no file {path!r}")
    allowed = readable or (lambda _dag: True)
    result = Trace(root=_version_id(root.dag_id, root.task_id, root.version_id), path=path, nodes={}, edges=[],
                   more=[])
    result.nodes[result.root] = _version_node(root, 0)
    _walk_upstream(store, result, root, level=0, depth=depth, width=width, allowed=allowed, cache={})
    _walk_downstream(store, result, ("version", root.dag_id, root.task_id, root.version_id), level=0, depth=depth,
                     width=width, allowed=allowed, path=path)
    return result


def _version_id(dag_id: str, task_id: str, version_id: str) -> str:
    return f"version:{dag_id}/{task_id}/{version_id}"


def _version_node(version: Version, level: int) -> Node:
    return Node(id=_version_id(version.dag_id, version.task_id, version.version_id), kind="version", level=level,
                label=f"{version.dag_id}.{version.task_id}", dag_id=version.dag_id, task_id=version.task_id,
                version_id=version.version_id, run_id=version.run_id, committed_at=version.committed_at,
                files=len(version.files), size=version.total_size)


def _hidden(result: Trace, node_id: str, level: int) -> str:
    """The id of the box that stands for ``node_id`` of a DAG the reader may not read: opaque, so neither
    its names nor its version show."""
    if node_id not in result.hidden:
        result.hidden[node_id] = f"hidden:{len(result.hidden) + 1}"
        shown = Node(id=result.hidden[node_id], kind="hidden", level=level, label="a step of a DAG you may not read")
        result.nodes[shown.id] = shown
    return result.hidden[node_id]


def _walk_upstream(store: Store, result: Trace, version: Version, *, level: int, depth: int, width: int,
                   allowed, cache: dict) -> None:
    if -level >= depth:
        return
    sources = list(sources_of(version).items())
    target = _version_id(version.dag_id, version.task_id, version.version_id)
    if len(sources) > width:
        result.more.append({"node": target, "direction": "from", "count": len(sources) - width})
    for key, records in sources[:width]:
        edge = Edge(source="", target=target, input=", ".join(sorted({str(r.get("name")) for r in records})),
                    files=len(records), sha256=records[0].get("sha256") if len(records) == 1 else None,
                    changed=_changed(records), paths=sorted(str(r.get("path")) for r in records)[:width])
        if key[0] == "input":
            urls = sorted({str(r.get("url")) for r in records})
            node = Node(id=f"input:{target}:{key[1]}", kind="input", level=level - 1, label=f"input {key[1]}",
                        url=urls[0] if len(urls) == 1 else _common_prefix(urls), files=len(records),
                        size=sum(int(r.get("size") or 0) for r in records))
            result.nodes.setdefault(node.id, node)
        elif key[0] == "dataset":
            node = Node(id=f"dataset:{key[1]}/{key[2]}", kind="dataset", level=level - 1,
                        label=f"{DATASET_SCHEME}{key[1]}/{key[2]}", version_id=key[2], files=len(records))
            seen = node.id in result.nodes
            result.nodes.setdefault(node.id, node)
            if not seen:
                _walk_dataset(store, result, key[1], key[2], level=level - 1, depth=depth, width=width,
                              allowed=allowed, cache=cache)
        else:
            _, dag_id, task_id, version_id = key
            node_id = _version_id(dag_id, task_id, version_id)
            if not allowed(dag_id):
                node_id = _hidden(result, node_id, level - 1)
                edge.paths, edge.sha256 = [], None
            elif node_id not in result.nodes:
                upstream = _load(store, dag_id, task_id, version_id, cache)
                if upstream is None:
                    result.nodes[node_id] = Node(id=node_id, kind="version", level=level - 1,
                                                 label=f"{dag_id}.{task_id} (purged)", dag_id=dag_id,
                                                 task_id=task_id, version_id=version_id)
                else:
                    result.nodes[node_id] = _version_node(upstream, level - 1)
                    _walk_upstream(store, result, upstream, level=level - 1, depth=depth, width=width,
                                   allowed=allowed, cache=cache)
            node = result.nodes[node_id]
        edge.source = node.id
        result.edges.append(edge)


def _walk_dataset(store: Store, result: Trace, name: str, version: str, *, level: int, depth: int, width: int,
                  allowed, cache: dict) -> None:
    """A dataset version is made from the task versions its files come from."""
    if -level >= depth:
        return
    try:
        dataset = load_dataset_version(store, name, version)
    except NotFound:
        return
    origins: dict[tuple[str, str, str], int] = {}
    for origin in dataset.origins:
        key = (origin.get("dag_id"), origin.get("task_id"), origin.get("version_id"))
        origins[key] = origins.get(key, 0) + 1
    target = f"dataset:{name}/{version}"
    for (dag_id, task_id, version_id), count in list(origins.items())[:width]:
        node_id = _version_id(dag_id, task_id, version_id)
        if not allowed(dag_id):
            node_id = _hidden(result, node_id, level - 1)
        elif node_id not in result.nodes:
            upstream = _load(store, dag_id, task_id, version_id, cache)
            if upstream is not None:
                result.nodes[node_id] = _version_node(upstream, level - 1)
                _walk_upstream(store, result, upstream, level=level - 1, depth=depth, width=width, allowed=allowed,
                               cache=cache)
        if node_id in result.nodes:
            result.edges.append(Edge(source=node_id, target=target, input=f"dataset {name}", files=count))
    if len(origins) > width:
        result.more.append({"node": target, "direction": "from", "count": len(origins) - width})


def _walk_downstream(store: Store, result: Trace, key: tuple[str, ...], *, level: int, depth: int, width: int,
                     allowed, path: str = "") -> None:
    if level >= depth:
        return
    source = _version_id(*key[1:]) if key[0] == "version" else f"dataset:{key[1]}/{key[2]}"
    entries = used_by(store, key[0], *key[1:])
    if path:  # the trace of one file: only the consumers that staged it
        entries = [e for e in entries if path in e.get("paths", [])]
    if len(entries) > width:
        result.more.append({"node": source, "direction": "to", "count": len(entries) - width})
    for entry in entries[:width]:
        node_id = _version_id(entry["dag_id"], entry["task_id"], entry["version_id"])
        digests = entry.get("sha256", [])
        edge = Edge(source=source, target=node_id, input=", ".join(entry.get("input", [])),
                    files=len(entry.get("paths", [])), paths=list(entry.get("paths", []))[:width],
                    sha256=digests[0] if len(digests) == 1 else None, changed=entry.get("changed"))
        if not allowed(entry["dag_id"]):
            edge.target = _hidden(result, node_id, level + 1)
            edge.input, edge.paths, edge.sha256 = "", [], None
        elif node_id not in result.nodes:
            result.nodes[node_id] = Node(id=node_id, kind="version", level=level + 1,
                                         label=f"{entry['dag_id']}.{entry['task_id']}", dag_id=entry["dag_id"],
                                         task_id=entry["task_id"], version_id=entry["version_id"],
                                         run_id=entry.get("run_id"), committed_at=entry.get("committed_at"))
            _walk_downstream(store, result, ("version", entry["dag_id"], entry["task_id"], entry["version_id"]),
                             level=level + 1, depth=depth, width=width, allowed=allowed)
        result.edges.append(edge)


def _load(store: Store, dag_id: str, task_id: str, version_id: str, cache: dict) -> Version | None:
    key = (dag_id, task_id, version_id)
    if key not in cache:
        try:
            cache[key] = load_version(store, dag_id, task_id, version_id)
        except NotFound:
            cache[key] = None
    return cache[key]


def _changed(records: Iterable[Mapping]) -> bool | None:
    flags = [r.get("changed") for r in records]
    if any(f is True for f in flags):
        return True
    return False if any(f is False for f in flags) else None


def _common_prefix(urls: list[str]) -> str:
    prefix = urls[0]
    for url in urls[1:]:
        while not url.startswith(prefix):
            prefix = prefix[:-1]
    return prefix + "…"
