"""The commands on stores and versions: ``stores``, ``ls``, ``versions``, ``show``, ``verify``, ``diff`` and
``purge``. Each takes the parsed arguments and an :class:`~airflow_datastores.cli.output.Output`, and
returns the exit code."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from airflow_datastores.cli.output import Output, table
from airflow_datastores.execution_metadata import numeric_series
from airflow_datastores.patterns import list_location
from airflow_datastores.stores.registry import default_store_url, get_store, locate, named_stores
from airflow_datastores.units import format_duration, human_size, plural
from airflow_datastores.versions import (
    Version,
    diff_versions,
    latest_version,
    list_versions,
    load_version,
    metadata,
    verify_version,
)
from airflow_datastores.versions.retention import PurgeRule, purge


def store_of(args: argparse.Namespace):
    """The store the command names (``--store``, ``--conn-id``), or the default store."""
    return get_store(args.store, conn_id=args.conn_id)


def version_of(store, dag_id: str, task_id: str, version_id: str) -> Version:
    """A committed version by id, or the task's newest one for ``latest``."""
    if version_id == "latest":
        return latest_version(store, dag_id, task_id)
    return load_version(store, dag_id, task_id, version_id)


def stores(args: argparse.Namespace, out: Output) -> int:
    found = [{"name": "default", "url": default_store_url(), "conn_id": None}]
    found += [{"name": s.name, "url": s.url, "conn_id": s.conn_id} for s in named_stores().values()]
    out.emit(found, table([(s["name"], s["url"], s["conn_id"] or "-") for s in found], ("STORE", "URL", "CONNECTION")))
    return 0


def ls(args: argparse.Namespace, out: Output) -> int:
    store, key = locate(args.url, conn_id=args.conn_id)
    infos = list_location(store, key)
    data = [{"url": i.url, "size": i.size, "identity": i.identity,
             "modified": i.modified.isoformat() if i.modified else None} for i in infos]
    out.emit(data, table([(human_size(i.size), i.modified.strftime("%Y-%m-%d %H:%M:%S") if i.modified else "-", i.url)
                          for i in infos], ("SIZE", "MODIFIED", "URL")))
    return 0


def versions(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    where = dict(args.where or ())
    rows, data = [], []
    for summary in list_versions(store, dag_id=args.dag_id, task_id=args.task_id):
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
    out.emit(data, text)
    return 0


def _labels(tags: Sequence[str], properties: dict) -> str:
    parts = [f"#{t}" for t in tags] + [f"{k}={json.dumps(v)}" for k, v in sorted(properties.items())]
    return " ".join(parts) or "-"


def show(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    version = version_of(store, args.dag_id, args.task_id, args.version)
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
            [(i.get("name"), i.get("url"), i.get("sha256")) for i in version.inputs], ("INPUT", "URL", "SHA256"))
    printed = version.execution_metadata or {}
    if printed.get("count"):
        series = numeric_series(printed)
        text += f"\n\nmetadata   {plural(printed['count'], 'line')} printed\n" + table(
            [(key, json.dumps(value, default=str),
              f"{len(series[key])} points, {series[key][0][1]} -> {series[key][-1][1]}" if key in series else "")
             for key, value in sorted(printed.get("last", {}).items())], ("KEY", "LAST VALUE", "OVER THE RUN"))
    out.emit({**version.to_record(), "inputs": version.inputs, "execution_metadata": printed}, text)
    return 0


def verify(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    return emit_verify(out, store, version_of(store, args.dag_id, args.task_id, args.version))


def emit_verify(out: Output, store, version: Version) -> int:
    """Re-read every file of ``version``, report what is missing or corrupt; exit code 1 if anything is."""
    report = verify_version(store, version)
    lines = [f"{path}: MISSING" for path in report.missing] + [f"{path}: CORRUPT" for path in report.corrupt]
    lines.append(f"{'OK' if report.ok else 'FAILED'}: {plural(report.checked, 'file')} checked, "
                 f"{len(report.missing)} missing, {len(report.corrupt)} corrupt in version {version.version_id}")
    out.emit({"version_id": version.version_id, "ok": report.ok, "checked": report.checked,
              "missing": report.missing, "corrupt": report.corrupt}, "\n".join(lines))
    return 0 if report.ok else 1


def diff(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    emit_diff(out, version_of(store, args.dag_id, args.task_id, args.old),
              version_of(store, args.dag_id, args.task_id, args.new))
    return 0


def emit_diff(out: Output, old: Version, new: Version) -> None:
    """Files added (+), removed (-) and changed (~) from ``old`` to ``new``."""
    found = diff_versions(old, new)
    lines = [f"+ {p}" for p in found.added] + [f"- {p}" for p in found.removed] + [f"~ {p}" for p in found.changed]
    lines.append(f"{old.version_id} -> {new.version_id}: {len(found.added)} added, {len(found.removed)} removed, "
                 f"{len(found.changed)} changed, {found.unchanged} unchanged")
    out.emit({"old": old.version_id, "new": new.version_id, "added": found.added, "removed": found.removed,
              "changed": found.changed, "unchanged": found.unchanged}, "\n".join(lines))


def purge_versions(args: argparse.Namespace, out: Output) -> int:
    store = store_of(args)
    grace = args.orphans_older_than
    rule = PurgeRule(keep_last=args.keep_last, older_than=args.older_than, version_ids=tuple(args.version or ()),
                     orphans_older_than=grace)
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
    out.emit({"dry_run": not args.yes, "bytes": result.bytes, "removed_bytes": sum(i.bytes for i in result.removed),
              "grace_period": format_duration(grace) if grace is not None else None,
              "items": [i.to_record() for i in result.items], "kept": [i.to_record() for i in result.kept],
              "version_matches": result.version_matches}, "\n\n".join(parts))
    return 1 if result.failed else 0
