"""``airflow-datastores``: look at stores and versions, verify, diff and purge them, from a shell.

Output is written for people (aligned tables, human sizes); ``--json`` gives the same for programs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence

from airflow_datastores import __version__
from airflow_datastores.errors import DataStoreError, InvalidSpec
from airflow_datastores.execution_metadata import numeric_series
from airflow_datastores.patterns import list_location
from airflow_datastores.redaction import redact
from airflow_datastores.stores.registry import (
    default_store_url,
    get_store,
    locate,
    named_stores,
)
from airflow_datastores.units import format_duration, human_size, parse_duration, plural
from airflow_datastores.versions import (
    Version,
    aliases,
    datasets,
    diff_versions,
    latest_version,
    lineage,
    list_versions,
    load_version,
    metadata,
    verify_version,
)
from airflow_datastores.versions.lookup import select_files
from airflow_datastores.versions.retention import PurgeRule, purge


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows as an aligned text table; numbers and sizes are right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].replace(".", "", 1)
    return head.isdigit()


#: Where results go. Everything else any library prints (Airflow's log lines among them) goes to
#: stderr while a command runs, so ``--json`` output is exactly one JSON document.
_results = sys.stdout


def _emit(args: argparse.Namespace, data: object, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text, file=_results, flush=True)


def _version(store, dag_id: str, task_id: str, version_id: str) -> Version:
    if version_id == "latest":
        return latest_version(store, dag_id, task_id)
    return load_version(store, dag_id, task_id, version_id)


def cmd_stores(args: argparse.Namespace) -> int:
    stores = [{"name": "default", "url": default_store_url(), "conn_id": None}]
    stores += [{"name": s.name, "url": s.url, "conn_id": s.conn_id} for s in named_stores().values()]
    _emit(args, stores, table([(s["name"], s["url"], s["conn_id"] or "-") for s in stores],
                              ("STORE", "URL", "CONNECTION")))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    store, key = locate(args.url, conn_id=args.conn_id)
    infos = list_location(store, key)
    data = [{"url": i.url, "size": i.size, "identity": i.identity,
             "modified": i.modified.isoformat() if i.modified else None} for i in infos]
    _emit(args, data, table([(human_size(i.size), i.modified.strftime("%Y-%m-%d %H:%M:%S") if i.modified
                              else "-", i.url) for i in infos], ("SIZE", "MODIFIED", "URL")))
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    summaries = list_versions(store, dag_id=args.dag_id, task_id=args.task_id)
    where = dict(_key_value(item) for item in args.where or ())
    rows, data = [], []
    for summary in summaries:
        version = load_version(store, summary.dag_id, summary.task_id, summary.version_id)
        if not metadata.matches(tags=args.tag or (), where=where, version_tags=version.tags,
                                version_properties=version.properties, files=version.files):
            continue
        data.append(version.to_record())
        rows.append((summary.dag_id, summary.task_id, summary.version_id,
                     (version.committed_at or "-").replace("T", " ").replace("+00:00", "Z"),
                     len(version.files), human_size(version.total_size), ",".join(version.tags) or "-"))
    text = table(rows, ("DAG", "TASK", "VERSION", "COMMITTED", "FILES", "SIZE", "TAGS"))
    text += f"\n\n{plural(len(rows), 'version')} in {store.root}" + (" (filtered)" if args.tag or where else "")
    _emit(args, data, text)
    return 0


def _labels(tags: Sequence[str], properties: dict) -> str:
    parts = [f"#{t}" for t in tags] + [f"{k}={json.dumps(v)}" for k, v in sorted(properties.items())]
    return " ".join(parts) or "-"


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidSpec(f"--where {text!r}: write KEY=VALUE, e.g. --where accuracy=0.93")
    return key, value


def cmd_show(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    version = _version(store, args.dag_id, args.task_id, args.version)
    text = "\n".join([
        f"version    {version.version_id}",
        f"task       {version.dag_id}.{version.task_id} (run {version.run_id}, try {version.try_number})",
        f"committed  {version.committed_at} on {version.hostname}",
        f"manifest   {version.manifest_url}",
        f"reference  {version.reference()}",
        f"size       {human_size(version.total_size)} in {plural(len(version.files), 'file')}",
        f"files in   {version.store.rstrip('/')}/{version.data_prefix}",
        "",
        table([(f.path, human_size(f.size), f.sha256, _labels(f.tags, f.properties)) for f in version.files],
              ("PATH", "SIZE", "SHA256", "TAGS / PROPERTIES")),
    ])
    if version.tags or version.properties:
        text += f"\n\nversion    {_labels(version.tags, version.properties)}"
    if version.inputs:
        text += "\n\nmade from\n" + table(
            [(i.get("name"), i.get("url"), i.get("sha256")) for i in version.inputs],
            ("INPUT", "URL", "SHA256"))
    metadata = version.execution_metadata or {}
    if metadata.get("count"):
        series = numeric_series(metadata)
        text += f"\n\nmetadata   {plural(metadata['count'], 'line')} printed\n" + table(
            [(key, json.dumps(value, default=str),
              f"{len(series[key])} points, {series[key][0][1]} -> {series[key][-1][1]}" if key in series else "")
             for key, value in sorted(metadata.get("last", {}).items())], ("KEY", "LAST VALUE", "OVER THE RUN"))
    _emit(args, {**version.to_record(), "inputs": version.inputs, "execution_metadata": metadata}, text)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    if args.rebuild_index:
        written = lineage.rebuild_index(store)
        print(f"Lineage index: {plural(written, 'use')} of a version recorded", file=sys.stderr)
    version = _version(store, args.dag_id, args.task_id, args.version)
    found = lineage.trace(store, version.dag_id, version.task_id, version.version_id, path=args.path,
                          depth=args.depth, width=args.width)
    _emit(args, found.to_dict(), "\n".join(_trace_lines(found)))
    return 0


def _trace_lines(found: lineage.Trace) -> list[str]:
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
        edges = [e for e in found.edges if (e.target if upstream else e.source) == node_id]
        for edge in edges:
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


def cmd_verify(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    version = _version(store, args.dag_id, args.task_id, args.version)
    report = verify_version(store, version)
    lines = [f"{path}: MISSING" for path in report.missing] + [f"{path}: CORRUPT" for path in report.corrupt]
    verdict = "OK" if report.ok else "FAILED"
    lines.append(f"{verdict}: {plural(report.checked, 'file')} checked, {len(report.missing)} missing, "
                 f"{len(report.corrupt)} corrupt in version {version.version_id}")
    _emit(args, {"version_id": version.version_id, "ok": report.ok, "checked": report.checked,
                 "missing": report.missing, "corrupt": report.corrupt}, "\n".join(lines))
    return 0 if report.ok else 1


def cmd_diff(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    old = _version(store, args.dag_id, args.task_id, args.old)
    new = _version(store, args.dag_id, args.task_id, args.new)
    _emit_diff(args, old, new)
    return 0


def _emit_diff(args: argparse.Namespace, old: Version, new: Version) -> None:
    diff = diff_versions(old, new)
    lines = [f"+ {p}" for p in diff.added] + [f"- {p}" for p in diff.removed] + [f"~ {p}" for p in diff.changed]
    lines.append(f"{old.version_id} -> {new.version_id}: {len(diff.added)} added, {len(diff.removed)} removed, "
                 f"{len(diff.changed)} changed, {diff.unchanged} unchanged")
    _emit(args, {"old": old.version_id, "new": new.version_id, "added": diff.added, "removed": diff.removed,
                 "changed": diff.changed, "unchanged": diff.unchanged}, "\n".join(lines))


def cmd_purge(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    grace = parse_duration(args.orphans_older_than) if args.orphans_older_than != "never" else None
    rule = PurgeRule(
        keep_last=args.keep_last,
        older_than=parse_duration(args.older_than) if args.older_than else None,
        version_ids=tuple(args.version or ()),
        orphans_older_than=grace,
    )
    result = purge(store, rule=rule, dag_id=args.dag_id, task_id=args.task_id, all_tasks=args.all_tasks,
                   dry_run=not args.yes)
    headers = ("KIND", "TASK", "VERSION", "FILES", "SIZE", "WHY", "WHERE")

    def rows(items):
        return [(i.kind, f"{i.dag_id}.{i.task_id}" if i.dag_id != "-" else "-", i.version_id, i.files,
                 human_size(i.bytes), i.reason, i.url) for i in items]

    parts = [table(rows(result.items), headers) if result.items else "Nothing to purge."]
    if result.kept:
        parts.append("Kept (WHY says why):\n" + table(rows(result.kept), headers))
    for version_id, tasks in result.version_matches.items():
        parts.append(f"--version {version_id} matches {plural(len(tasks), 'task')}"
                     + (f": {', '.join(tasks)}" if tasks else ""))
    if args.yes:
        removed = result.removed
        summary = f"Deleted {plural(len(removed), 'item')}, {human_size(sum(i.bytes for i in removed))}."
        for item in result.failed:
            summary += f"\nNot deleted: {item.kind} {item.url}: {item.error}"
    else:
        summary = f"Would delete {plural(len(result.items), 'item')}, {human_size(result.bytes)}."
        if result.items:
            summary += " This was a dry run: add --yes to delete."
    parts.append(summary)
    _emit(args, {"dry_run": not args.yes, "bytes": result.bytes,
                 "removed_bytes": sum(i.bytes for i in result.removed),
                 "grace_period": format_duration(grace) if grace is not None else None,
                 "items": [i.to_record() for i in result.items], "kept": [i.to_record() for i in result.kept],
                 "version_matches": result.version_matches}, "\n\n".join(parts))
    return 1 if result.failed else 0


def cmd_alias(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    if args.glob and args.action == "history" and args.name is None:  # alias history NAME --global
        args.name, args.dag_id = args.dag_id, None
    scope = {"dag_id": None, "task_id": None} if args.glob else {"dag_id": args.dag_id, "task_id": args.task_id}
    headers = ("ALIAS", "#", "TASK", "VERSION", "FILE", "SET AT", "BY")

    def rows(entries):
        return [(e.alias if e.scope == "task" else f"alias://{e.alias}", e.sequence, f"{e.dag_id}.{e.task_id}",
                 e.version_id, e.path or "(all)", e.set_at, e.set_by) for e in entries]

    if args.action == "set":
        if not (args.dag_id and args.task_id and args.name):
            raise InvalidSpec("alias set needs DAG TASK NAME [VERSION] (VERSION defaults to latest)")
        entry = aliases.set_alias(store, args.name, dag_id=args.dag_id, task_id=args.task_id,
                                  version_id=args.version or "latest", scope="global" if args.glob else "task",
                                  path=args.path or "")
        target = f"file {entry.path} of version" if entry.path else "version"
        _emit(args, entry.to_dict(), f"{rows([entry])[0][0]} -> {target} {entry.version_id} of "
                                     f"{entry.dag_id}.{entry.task_id} (entry {entry.sequence})")
    elif args.action == "history":
        if not args.name or (not args.glob and not (args.dag_id and args.task_id)):
            raise InvalidSpec("alias history needs DAG TASK NAME, or NAME --global")
        entries = aliases.history(store, args.name, **scope)
        _emit(args, [e.to_dict() for e in entries],
              table(rows(entries), headers) if entries else f"No alias {args.name!r} has been set.")
    else:
        entries = aliases.list_aliases(store, dag_id=args.dag_id, task_id=args.task_id)
        _emit(args, [e.to_dict() for e in entries], table(rows(entries), headers) if entries else "No aliases.")
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    store = get_store(args.store, conn_id=args.conn_id)
    if args.action == "ls":
        found = datasets.list_dataset_versions(store, args.target)
        rows = [(name, version, (when.isoformat(timespec="seconds") if when else "-")) for version, name, when in found]
        _emit(args, [{"name": n, "version": v, "written": w} for n, v, w in rows],
              table(rows, ("DATASET", "VERSION", "WRITTEN")) if rows else "No dataset versions.")
        return 0
    if not args.target:
        raise InvalidSpec(f"dataset {args.action} needs a dataset version: <dataset>/<version>")
    if args.action == "create":
        if not args.source:
            raise InvalidSpec("dataset create needs --from DAG/TASK/VERSION[/PATH or wildcard] (repeatable)")
        picked = []
        for text in args.source:
            dag_id, task_id, version_id, *pattern = text.split("/", 3)
            version = _version(store, dag_id, task_id, version_id) if task_id and version_id else None
            if version is None:
                raise InvalidSpec(f"--from {text!r}: write DAG/TASK/VERSION[/PATH or wildcard]")
            picked.append((version, select_files(version.files, pattern[0] if pattern else "")))
        made = datasets.create_dataset_version(store, args.target, versions=picked, base=args.base)
        _emit(args, {"name": made.name, "version": made.version, "files": len(made.files)},
              f"Created dataset version dataset://{made.name}/{made.version}: {plural(len(made.files), 'file')}")
        return 0
    name, version = _dataset_ref(args.target)
    made = datasets.load_dataset_version(store, name, version).as_version(store)
    if args.action == "verify":
        report = verify_version(store, made)
        _emit(args, {"version": made.version_id, "checked": report.checked, "missing": report.missing,
                     "corrupt": report.corrupt, "ok": report.ok},
              f"{'OK' if report.ok else 'FAILED'}: {plural(report.checked, 'file')} checked, {len(report.missing)} missing, "
              f"{len(report.corrupt)} corrupt")
        return 0 if report.ok else 1
    if args.action == "diff":
        if not args.other:
            raise InvalidSpec("dataset diff needs two dataset versions: <dataset>/<old> <dataset>/<new>")
        _emit_diff(args, made, datasets.load_dataset_version(store, *_dataset_ref(args.other)).as_version(store))
        return 0
    _emit(args, {"name": name, "version": made.version_id, "files": [f.to_dict() for f in made.files]},
          table([(f.path, human_size(f.size), f.sha256) for f in made.files], ("PATH", "SIZE", "SHA256")))
    return 0


def _dataset_ref(text: str) -> tuple[str, str]:
    name, sep, version = text.partition("/")
    if version == "latest" and name:
        return name, version
    return datasets.check_dataset_version(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-datastores",
        description="Look at stores and versions, verify, diff and purge them, from a shell. Output is written "
        "for people (aligned tables, human sizes); --json gives the same for programs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store name or URL (default: [datastores] default_store)")
    common.add_argument("--conn-id", help="Airflow connection for the store")
    common.add_argument("--json", action="store_true", help="print JSON for programs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("stores", parents=[common], help="the configured stores").set_defaults(func=cmd_stores)
    ls = sub.add_parser("ls", parents=[common], help="objects below a URL")
    ls.add_argument("url")
    ls.set_defaults(func=cmd_ls)

    versions = sub.add_parser("versions", parents=[common], help="committed versions, oldest first")
    versions.add_argument("dag_id", nargs="?")
    versions.add_argument("task_id", nargs="?")
    versions.add_argument("--tag", action="append", metavar="TAG",
                          help="only versions with this tag, on the version or one of its files (repeatable)")
    versions.add_argument("--where", action="append", metavar="KEY=VALUE",
                          help="only versions with this property, on the version or a file (repeatable)")
    versions.set_defaults(func=cmd_versions)

    for name, func, text in (("show", cmd_show, "one version's files and provenance"),
                             ("verify", cmd_verify, "re-read a version and check every sha256")):
        cmd = sub.add_parser(name, parents=[common], help=text)
        cmd.add_argument("dag_id")
        cmd.add_argument("task_id")
        cmd.add_argument("version", help="version id or 'latest'")
        cmd.set_defaults(func=func)

    trace = sub.add_parser("trace", parents=[common], help="what a version (or a file of it) was made from, and "
                                                          "what used it",
                           description="Where a version came from (its inputs: URLs, versions, dataset versions, "
                                       "recursively) and the versions made from it (the index commits keep).")
    trace.add_argument("dag_id")
    trace.add_argument("task_id")
    trace.add_argument("version", help="version id or 'latest'")
    trace.add_argument("path", nargs="?", default="", help="one file of the version")
    trace.add_argument("--depth", type=int, default=lineage.DEPTH, help="steps each way (default %(default)s)")
    trace.add_argument("--width", type=int, default=lineage.WIDTH,
                       help="neighbours shown per version (default %(default)s)")
    trace.add_argument("--rebuild-index", action="store_true",
                       help="first add every committed version to the used-by index (once, for versions "
                            "committed before it existed)")
    trace.set_defaults(func=cmd_trace)

    diff = sub.add_parser("diff", parents=[common], help="files added, removed and changed between versions")
    diff.add_argument("dag_id")
    diff.add_argument("task_id")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.set_defaults(func=cmd_diff)

    alias = sub.add_parser(
        "alias", parents=[common], help="names for versions: set, ls, history",
        description="An alias names a version of a task (datastore://DAG/TASK/@NAME) or, with --global, of the "
                    "store (alias://NAME); moving it appends to its history, which is kept.")
    alias.add_argument("action", choices=("set", "ls", "history"))
    alias.add_argument("dag_id", nargs="?", metavar="DAG")
    alias.add_argument("task_id", nargs="?", metavar="TASK")
    alias.add_argument("name", nargs="?", metavar="NAME")
    alias.add_argument("version", nargs="?", metavar="VERSION", help="version id or 'latest' (set; default latest)")
    alias.add_argument("--path", metavar="FILE", help="set: one file of the version the alias names (as a Valohai "
                                                       "datum alias does; datum://NAME stages it)")
    alias.add_argument("--global", dest="glob", action="store_true",
                       help="a global alias (alias://NAME), not one of the task (history of one: history NAME --global)")
    alias.set_defaults(func=cmd_alias)

    dataset = sub.add_parser(
        "dataset", parents=[common], help="dataset versions: create, ls, show, verify, diff",
        description="A dataset version lists files of committed versions (no bytes copied); inputs read it "
                    "as dataset://NAME/VERSION or dataset://NAME/latest.")
    dataset.add_argument("action", choices=("create", "ls", "show", "verify", "diff"))
    dataset.add_argument("target", nargs="?", metavar="NAME/VERSION", help="the dataset version (ls: a dataset)")
    dataset.add_argument("other", nargs="?", metavar="NAME/VERSION", help="diff: the newer dataset version")
    dataset.add_argument("--from", dest="source", action="append", metavar="DAG/TASK/VERSION[/PATH]",
                         help="create: files of a committed version (a path or wildcard picks some; repeatable)")
    dataset.add_argument("--base", metavar="NAME/VERSION", help="create: start from this dataset version's files")
    dataset.set_defaults(func=cmd_dataset)

    prune = sub.add_parser(
        "purge", parents=[common], help="delete versions by rule, and what unfinished writes left (dry run unless --yes)",
        description="Delete versions by rule, and what writes that never committed left behind: uncommitted "
                    "attempt files, incomplete S3 multipart uploads, Swift segments without a manifest, Azure "
                    "uncommitted blocks, local temp files. A dry run unless --yes.")
    prune.add_argument("--dag-id", help="only this DAG's versions, attempt files and leftovers")
    prune.add_argument("--task-id", help="only this task's (needs --dag-id)")
    prune.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N versions per task")
    prune.add_argument("--older-than", metavar="AGE", help="purge versions older than e.g. 30d, 12h")
    prune.add_argument("--version", action="append", metavar="ID",
                       help="purge this version (repeatable). Version ids come from run ids, so one id is in "
                            "every task of a run: an id that matches several tasks needs --dag-id "
                            "(and --task-id) or --all-tasks")
    prune.add_argument("--all-tasks", action="store_true",
                       help="let --version purge that version in every task of every DAG that has it")
    prune.add_argument("--orphans-older-than", default="24h", metavar="AGE",
                       help="grace period: remove uncommitted attempt files and leftovers of unfinished "
                            "writes older than this (default 24h; 'never' keeps them)")
    prune.add_argument("--yes", action="store_true", help="really delete")
    prune.set_defaults(func=cmd_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "purge" and args.task_id and not args.dag_id:
        print("error: --task-id needs --dag-id", file=sys.stderr)
        return 2
    with _results_on_stdout_only():
        try:
            return args.func(args)
        except (DataStoreError, ValueError) as err:
            if args.json:
                print(json.dumps({"error": redact(str(err))}), file=_results)
            print(f"error: {redact(str(err))}", file=sys.stderr)
            return 1


@contextlib.contextmanager
def _results_on_stdout_only() -> Iterator[None]:
    """While a command runs, everything but its results goes to stderr: ``sys.stdout`` and, when it is
    the process's file descriptor 1, that descriptor too (log handlers made at import time hold it)."""
    global _results
    stdout = sys.stdout
    try:
        real = stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False
    saved = None
    if real:
        stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        _results = open(saved, "w", closefd=False)  # noqa: SIM115 - flushed and dropped below
    else:
        _results = stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        _results.flush()
        sys.stdout = stdout
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        _results = stdout

if __name__ == "__main__":
    sys.exit(main())
