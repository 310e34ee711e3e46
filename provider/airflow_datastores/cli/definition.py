"""The parser of ``airflow-datastores``: every command, its arguments, and the checks argparse cannot
express (they end in ``parser.error``, exit code 2, as a wrong argument does)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta

from airflow_datastores import __version__
from airflow_datastores.cli import catalog, commands
from airflow_datastores.cli.output import FORMATS
from airflow_datastores.errors import InvalidSpec
from airflow_datastores.units import parse_duration
from airflow_datastores.versions import datasets, lineage


def _argument_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` as an argparse type: an :class:`InvalidSpec` becomes argparse's error for the argument."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except InvalidSpec as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = parse.__name__.strip("_")
    return convert


@_argument_type
def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidSpec(f"{text!r}: write KEY=VALUE, e.g. --where accuracy=0.93")
    return key, value


@_argument_type
def _age(text: str) -> timedelta | None:
    return None if text == "never" else parse_duration(text)


@_argument_type
def _dataset_version(text: str) -> tuple[str, str]:
    name, _, version = text.partition("/")
    return (name, version) if name and version == "latest" else datasets.check_dataset_version(text)


@_argument_type
def _new_dataset_version(text: str) -> tuple[str, str]:
    return datasets.check_dataset_version(text)


@_argument_type
def _version_files(text: str) -> tuple[str, str, str, str]:
    parts = text.split("/", 3)
    if len(parts) < 3 or not all(parts[:3]):
        raise InvalidSpec(f"{text!r}: write DAG/TASK/VERSION[/PATH or wildcard], e.g. etl/fit/latest/*.bin")
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else ""


def _command(sub, name: str, func, *, parents, help: str, description: str | None = None, check=None):
    parser = sub.add_parser(name, parents=parents, help=help, description=description or help)
    parser.set_defaults(func=func, check=(lambda args: check(parser, args)) if check else None)
    return parser


def _check_alias_history(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    words = args.words
    if args.glob and len(words) == 1:
        args.dag_id, args.task_id, args.name = None, None, words[0]
    elif not args.glob and len(words) == 3:
        args.dag_id, args.task_id, args.name = words
    else:
        parser.error("write DAG TASK NAME (an alias of the task), or NAME --global (a global alias)")


def _check_purge(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.task_id and not args.dag_id:
        parser.error("--task-id needs --dag-id (task ids repeat across DAGs)")
    if args.all_tasks and not args.version:
        parser.error("--all-tasks widens --version; name the version(s) with --version ID")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-datastores",
        description="Look at stores and versions, verify, diff and purge them, from a shell. Output is written "
        "for people (aligned tables, human sizes); -o json gives the same for programs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store name or URL (default: [datastores] default_store)")
    common.add_argument("--conn-id", help="Airflow connection for the store")
    common.add_argument("-o", "--output", choices=FORMATS, default="table",
                        help="table for people (default), or json: exactly one JSON document on stdout")
    common.add_argument("--json", dest="output", action="store_const", const="json", help="the same as -o json")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    on = [common]

    _command(sub, "stores", commands.stores, parents=on, help="the configured stores")
    ls = _command(sub, "ls", commands.ls, parents=on, help="objects below a URL")
    ls.add_argument("url")

    versions = _command(sub, "versions", commands.versions, parents=on, help="committed versions, oldest first")
    versions.add_argument("dag_id", nargs="?", metavar="DAG")
    versions.add_argument("task_id", nargs="?", metavar="TASK")
    versions.add_argument("--tag", action="append", metavar="TAG",
                          help="only versions with this tag, on the version or one of its files (repeatable)")
    versions.add_argument("--where", action="append", metavar="KEY=VALUE", type=_key_value,
                          help="only versions with this property, on the version or a file (repeatable)")

    for name, func, text in (("show", commands.show, "one version's files and provenance"),
                             ("verify", commands.verify, "re-read a version and check every sha256")):
        one = _command(sub, name, func, parents=on, help=text)
        one.add_argument("dag_id", metavar="DAG")
        one.add_argument("task_id", metavar="TASK")
        one.add_argument("version", metavar="VERSION", help="version id or 'latest'")

    trace = _command(sub, "trace", catalog.trace, parents=on,
                     help="what a version (or a file of it) was made from, and what used it",
                     description="Where a version came from (its inputs: URLs, versions, dataset versions, "
                                 "recursively) and the versions made from it (the index commits keep).")
    trace.add_argument("dag_id", metavar="DAG")
    trace.add_argument("task_id", metavar="TASK")
    trace.add_argument("version", metavar="VERSION", help="version id or 'latest'")
    trace.add_argument("path", nargs="?", default="", metavar="PATH", help="one file of the version")
    trace.add_argument("--depth", type=int, default=lineage.DEPTH, help="steps each way (default %(default)s)")
    trace.add_argument("--width", type=int, default=lineage.WIDTH,
                       help="neighbours shown per version (default %(default)s)")
    trace.add_argument("--rebuild-index", action="store_true",
                       help="first add every committed version to the used-by index (once, for versions "
                            "committed before it existed)")

    diff = _command(sub, "diff", commands.diff, parents=on, help="files added, removed and changed between versions")
    diff.add_argument("dag_id", metavar="DAG")
    diff.add_argument("task_id", metavar="TASK")
    diff.add_argument("old", metavar="OLD", help="version id or 'latest'")
    diff.add_argument("new", metavar="NEW", help="version id or 'latest'")

    _alias_commands(sub.add_parser(
        "alias", help="names for versions: set, ls, history",
        description="An alias names a version of a task (datastore://DAG/TASK/@NAME) or, with --global, of the "
                    "store (alias://NAME); moving it appends to its history, which is kept."), on)
    _dataset_commands(sub.add_parser(
        "dataset", help="dataset versions: create, ls, show, verify, diff",
        description="A dataset version lists files of committed versions (no bytes copied); inputs read it "
                    "as dataset://NAME/VERSION or dataset://NAME/latest."), on)
    _purge_command(sub, on)
    return parser


def _alias_commands(alias: argparse.ArgumentParser, on: list) -> None:
    sub = alias.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = _command(sub, "set", catalog.alias_set, parents=on,
                   help="point an alias at a version (its history keeps where it pointed before)")
    put.add_argument("dag_id", metavar="DAG")
    put.add_argument("task_id", metavar="TASK")
    put.add_argument("name", metavar="NAME")
    put.add_argument("version", nargs="?", default="latest", metavar="VERSION",
                     help="version id or 'latest' (default latest)")
    put.add_argument("--path", metavar="FILE", help="one file of the version the alias names (as a Valohai "
                                                     "datum alias does; datum://NAME stages it)")
    put.add_argument("--global", dest="glob", action="store_true", help="a global alias (alias://NAME)")

    listing = _command(sub, "ls", catalog.alias_ls, parents=on, help="where every alias points now")
    listing.add_argument("dag_id", nargs="?", metavar="DAG")
    listing.add_argument("task_id", nargs="?", metavar="TASK")

    history = _command(sub, "history", catalog.alias_history, parents=on, check=_check_alias_history,
                       help="every version an alias named, oldest first")
    history.usage = "%(prog)s DAG TASK NAME | NAME --global [options]"
    history.add_argument("words", nargs="+", metavar="DAG TASK NAME | NAME",
                         help="the task's alias NAME, or with --global the global alias NAME")
    history.add_argument("--global", dest="glob", action="store_true", help="a global alias (alias://NAME)")


def _dataset_commands(dataset: argparse.ArgumentParser, on: list) -> None:
    sub = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _command(sub, "create", catalog.dataset_create, parents=on,
                      help="a new dataset version from files of committed versions")
    create.add_argument("target", type=_new_dataset_version, metavar="NAME/VERSION")
    create.add_argument("--from", dest="source", action="append", required=True, type=_version_files,
                        metavar="DAG/TASK/VERSION[/PATH]",
                        help="files of a committed version (a path or wildcard picks some; repeatable)")
    create.add_argument("--base", type=_new_dataset_version, metavar="NAME/VERSION",
                        help="start from this dataset version's files")

    listing = _command(sub, "ls", catalog.dataset_ls, parents=on, help="dataset versions, oldest first")
    listing.add_argument("name", nargs="?", metavar="NAME", help="one dataset")
    for name, func, text in (("show", catalog.dataset_show, "one dataset version's files"),
                             ("verify", catalog.dataset_verify, "re-read a dataset version's files and check "
                                                                "every sha256")):
        one = _command(sub, name, func, parents=on, help=text)
        one.add_argument("target", type=_dataset_version, metavar="NAME/VERSION", help="a version or NAME/latest")
    diff = _command(sub, "diff", catalog.dataset_diff, parents=on,
                    help="files added, removed and changed between dataset versions")
    diff.add_argument("old", type=_dataset_version, metavar="NAME/OLD")
    diff.add_argument("new", type=_dataset_version, metavar="NAME/NEW")


def _purge_command(sub, on: list) -> None:
    prune = _command(
        sub, "purge", commands.purge_versions, parents=on, check=_check_purge,
        help="delete versions by rule, and what unfinished writes left (dry run unless --yes)",
        description="Delete versions by rule, and what writes that never committed left behind: uncommitted "
                    "attempt files, incomplete S3 multipart uploads, Swift segments without a manifest, Azure "
                    "uncommitted blocks, local temp files. A dry run unless --yes.")
    prune.add_argument("--dag-id", help="only this DAG's versions, attempt files and leftovers")
    prune.add_argument("--task-id", help="only this task's (needs --dag-id)")
    prune.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N versions per task")
    prune.add_argument("--older-than", type=_age, metavar="AGE", help="purge versions older than e.g. 30d, 12h")
    prune.add_argument("--version", action="append", metavar="ID",
                       help="purge this version (repeatable). Version ids come from run ids, so one id is in "
                            "every task of a run: an id that matches several tasks needs --dag-id "
                            "(and --task-id) or --all-tasks")
    prune.add_argument("--all-tasks", action="store_true",
                       help="let --version purge that version in every task of every DAG that has it")
    prune.add_argument("--orphans-older-than", type=_age, default="24h", metavar="AGE",
                       help="grace period: remove uncommitted attempt files and leftovers of unfinished "
                            "writes older than this (default 24h; 'never' keeps them)")
    prune.add_argument("--yes", action="store_true", help="really delete")
