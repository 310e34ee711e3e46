"""The commands on what the store knows about its versions: ``trace`` (lineage), ``alias`` (names for
versions) and ``dataset`` (dataset versions). Each takes the parsed arguments and an
:class:`~airflow_datastores.cli.output.Output`, and returns the exit code."""

from __future__ import annotations

import argparse
import sys

from airflow_datastores.cli.commands import emit_diff, emit_verify, store_of, version_of
from airflow_datastores.cli.output import Output, table
from airflow_datastores.units import human_size, plural
from airflow_datastores.versions import aliases, datasets, lineage
from airflow_datastores.versions.lookup import select_files

ALIAS_HEADERS = ("ALIAS", "#", "TASK", "VERSION", "FILE", "SET AT", "BY")


def trace(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    if args.rebuild_index:
        written = lineage.rebuild_index(store)
        print(f"Lineage index: {plural(written, 'use')} of a version recorded", file=sys.stderr)
    version = version_of(store, args.dag_id, args.task_id, args.version)
    found = lineage.trace(store, version.dag_id, version.task_id, version.version_id, path=args.path,
                          depth=args.depth, width=args.width)
    out.emit(found.to_dict(), "\n".join(trace_lines(found)))
    return 0


def trace_lines(found: lineage.Trace) -> list[str]:
    """The trace as two indented trees: what the root was made from (<-), and what used it (->)."""
    nodes = found.nodes
    root = nodes[found.root]
    lines = [f"{root.label} version {root.version_id}" + (f", file {found.path}" if found.path else "")]

    def describe(node: lineage.Node, edge: lineage.Edge) -> str:
        what = {"version": f"{node.label} version {node.version_id}", "dataset": node.label,
                "input": f"{node.label}: {node.url}", "hidden": node.label}[node.kind]
        facts = [plural(edge.files, "file")] if edge.files else []
        if edge.sha256:
            facts.append(f"sha256 {edge.sha256[:16]}")
        if edge.changed:
            facts.append("changed since the previous run")
        via = f" as input {edge.input}" if edge.input and node.kind != "input" else ""
        return f"{what}{via}" + (f" ({', '.join(facts)})" if facts else "")

    def walk(node_id: str, upstream: bool, indent: int, seen: set[str]) -> None:
        for edge in (e for e in found.edges if (e.target if upstream else e.source) == node_id):
            other = edge.source if upstream else edge.target
            lines.append("  " * indent + ("<- " if upstream else "-> ") + describe(nodes[other], edge))
            if other not in seen:
                walk(other, upstream, indent + 1, seen | {other})
        for more in found.more:
            if more["node"] == node_id and more["direction"] == ("from" if upstream else "to"):
                lines.append("  " * indent + f"... and {more['count']} more (--width)")

    lines.append("made from")
    walk(found.root, True, 1, {found.root})
    lines.append("used by")
    walk(found.root, False, 1, {found.root})
    return lines


def _alias_rows(entries) -> list[tuple]:
    return [(e.alias if e.scope == "task" else f"alias://{e.alias}", e.sequence, f"{e.dag_id}.{e.task_id}",
             e.version_id, e.path or "(all)", e.set_at, e.set_by) for e in entries]


def alias_set(args: argparse.Namespace, out: Output) -> int:
    entry = aliases.set_alias(store_of(args), args.name, dag_id=args.dag_id, task_id=args.task_id,
                              version_id=args.version, scope="global" if args.glob else "task", path=args.path or "")
    target = f"file {entry.path} of version" if entry.path else "version"
    out.emit(entry.to_dict(), f"{_alias_rows([entry])[0][0]} -> {target} {entry.version_id} of "
                              f"{entry.dag_id}.{entry.task_id} (entry {entry.sequence})")
    return 0


def alias_ls(args: argparse.Namespace, out: Output) -> int:
    entries = aliases.list_aliases(store_of(args), dag_id=args.dag_id, task_id=args.task_id)
    out.emit([e.to_dict() for e in entries], table(_alias_rows(entries), ALIAS_HEADERS) if entries else "No aliases.")
    return 0


def alias_history(args: argparse.Namespace, out: Output) -> int:
    entries = aliases.history(store_of(args), args.name, dag_id=args.dag_id, task_id=args.task_id)
    out.emit([e.to_dict() for e in entries],
             table(_alias_rows(entries), ALIAS_HEADERS) if entries else f"No alias {args.name!r} has been set.")
    return 0


def dataset_create(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    picked = []
    for dag_id, task_id, version_id, pattern in args.source:
        version = version_of(store, dag_id, task_id, version_id)
        picked.append((version, select_files(version.files, pattern)))
    made = datasets.create_dataset_version(store, "/".join(args.target), versions=picked,
                                           base="/".join(args.base) if args.base else None)
    out.emit({"name": made.name, "version": made.version, "files": len(made.files)},
             f"Created dataset version dataset://{made.name}/{made.version}: {plural(len(made.files), 'file')}")
    return 0


def dataset_ls(args: argparse.Namespace, out: Output) -> int:
    found = datasets.list_dataset_versions(store_of(args), args.name)
    rows = [(name, version, (when.isoformat(timespec="seconds") if when else "-")) for version, name, when in found]
    out.emit([{"name": n, "version": v, "written": w} for n, v, w in rows],
             table(rows, ("DATASET", "VERSION", "WRITTEN")) if rows else "No dataset versions.")
    return 0


def _dataset_version(store, ref: tuple[str, str]):
    return datasets.load_dataset_version(store, *ref).as_version(store)


def dataset_show(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    made = _dataset_version(store, args.target)
    out.emit({"name": args.target[0], "version": made.version_id, "files": [f.to_dict() for f in made.files]},
             table([(f.path, human_size(f.size), f.sha256) for f in made.files], ("PATH", "SIZE", "SHA256")))
    return 0


def dataset_verify(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    return emit_verify(out, store, _dataset_version(store, args.target))


def dataset_diff(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    emit_diff(out, _dataset_version(store, args.old), _dataset_version(store, args.new))
    return 0
