"""The Airflow glue shared by the operators, the decorator and YAML steps.

It turns a task's context into plain arguments for the core modules (staging, changes, versioning)
and moves records through XCom. Tasks use the Task SDK only: they never touch the metadata database.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_datastores import config
from airflow_datastores.errors import InvalidSpec
from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.changes import all_unchanged, apply_policy, check_policy, compare, unchanged_by_identity
from airflow_datastores.inputs.resolve import resolve_inputs
from airflow_datastores.inputs.spec import Input, check_inputs, is_template, parse_inputs
from airflow_datastores.inputs.stage import StagingResult, stage_files
from airflow_datastores.operators._state import previous_records
from airflow_datastores.records import XCOM_INPUTS, XCOM_OUTPUTS, InputRecord
from airflow_datastores.redaction import split_userinfo
from airflow_datastores.stores.registry import get_store, split_url
from airflow_datastores.units import plural
from airflow_datastores.versions import Producer, Version, aliases, datasets, slug, snapshot


@dataclass(frozen=True)
class TaskDirs:
    """The local directories of one task attempt.

    :param base: the attempt's directory, ``<root>/<dag>/<task>/<run>[/map-<i>]/try-<n>``.
    :param inputs: where its inputs are staged (``base/inputs``).
    :param outputs: what it writes to become the version (``base/outputs``).
    :param root: ``[datastores] work_dir``; :meth:`remove` prunes empty directories up to it.
    """

    base: str
    inputs: str
    outputs: str
    root: str = ""

    def create(self) -> TaskDirs:
        for attempt in range(3):
            try:
                os.makedirs(self.inputs, exist_ok=True)
                os.makedirs(self.outputs, exist_ok=True)
                return self
            except FileNotFoundError:  # another task pruned a shared parent at that moment
                if attempt == 2:
                    raise
        return self

    def remove(self) -> None:
        """Delete the attempt's directory, then its parents (run, task, DAG) that are left empty."""
        shutil.rmtree(self.base, ignore_errors=True)
        if not self.root:
            return
        root = os.path.abspath(self.root)
        parent = os.path.dirname(os.path.abspath(self.base))
        while parent != root and parent.startswith(root + os.sep):
            try:
                os.rmdir(parent)  # only succeeds when empty: another run's files are never touched
            except OSError:
                return
            parent = os.path.dirname(parent)


def task_dirs(context: Mapping[str, Any]) -> TaskDirs:
    """Inputs and outputs directories unique to this task attempt, under ``[datastores] work_dir``."""
    ti = context["ti"]
    root = config.work_dir()
    parts = [ti.dag_id, ti.task_id, slug(ti.run_id)]
    if getattr(ti, "map_index", -1) >= 0:
        parts.append(f"map-{ti.map_index}")
    parts.append(f"try-{ti.try_number}")
    base = os.path.join(root, *parts)
    return TaskDirs(base=base, inputs=os.path.join(base, "inputs"), outputs=os.path.join(base, "outputs"),
                    root=root)


def producer(context: Mapping[str, Any]) -> Producer:
    ti = context["ti"]
    logical_date = context.get("logical_date")
    return Producer(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=getattr(ti, "map_index", -1),
        try_number=ti.try_number,
        logical_date=logical_date.isoformat() if logical_date else None,
    )


def check_task(task_id: str, *, inputs: Any, on_input_change: str, store: str | None = None) -> str:
    """Check a step's arguments when the DAG is parsed, so a mistake fails the DAG's import and names
    the task (what is templated or comes from an upstream step is checked when it runs).

    :return: the change policy, checked.
    """
    try:
        policy = check_policy(on_input_change)
        check_inputs(inputs)
        if store and "://" in store and not is_template(store):
            split_url(store)
    except InvalidSpec as err:
        raise InvalidSpec(f"Task {task_id!r}: {err}") from None
    return policy


def check_promote(task_id: str, promote: str | Sequence[str] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The aliases a step moves to its committed version, checked at parse time: ``(name, path)`` pairs,
    ``path`` the one file an alias names (``promote={"model-best": "model.pkl"}``) or "" for all of it."""
    if isinstance(promote, Mapping):
        pairs = [(name, str(path or "")) for name, path in promote.items()]
    else:
        pairs = [(name, "") for name in ([promote] if isinstance(promote, str) else list(promote or ()))]
    try:
        return tuple((aliases.check_alias_name(name), path) for name, path in pairs)
    except InvalidSpec as err:
        raise InvalidSpec(f"Task {task_id!r}: promote: {err}") from None


def mask_url_passwords(inputs: Any) -> None:
    """Have Airflow's secrets masker hide each password written into an input URL: the task's rendered
    template fields (a page of the UI) and Airflow's own log lines show the inputs as written.
    Our messages and records never carry it (see :class:`~airflow_datastores.inputs.spec.Input`)."""
    passwords = set()
    for text in _strings(inputs):
        try:
            userinfo = split_userinfo(text)[1] if "@" in text else None
        except ValueError:  # not a URL
            continue
        if userinfo and userinfo[1]:
            passwords.add(userinfo[1])
    if passwords:
        from airflow.sdk.log import mask_secret

        for password in passwords:
            mask_secret(password)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Input):
        yield from value.given_urls.values()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, Sequence):
        for item in value:
            yield from _strings(item)


class SkipUnchanged(Exception):
    """Every input is byte-identical to the previous run's; the caller raises AirflowSkipException."""


def stage_for_task(
    context: Mapping[str, Any],
    *,
    inputs: Mapping | Sequence | None,
    inputs_dir: str,
    on_input_change: str,
    skip_if_unchanged: bool,
    logger: logging.Logger,
    conn_id: str | None = None,
) -> StagingResult:
    """Stage a task's inputs, compare them with its previous run, and apply the change policy.

    The previous run's records come from :func:`~airflow_datastores.operators._state.previous_records`
    (the asset state store, else XCom); ``conn_id`` is the store's connection, used when they must be
    read from the previous version's manifest.

    :raises SkipUnchanged: ``skip_if_unchanged`` and nothing changed (decided from store metadata
        alone when every identity matches, so nothing is downloaded).
    :raises airflow_datastores.errors.InputChanged: ``on_input_change="fail"`` and an input changed.
    """
    ti = context["ti"]
    files = resolve_inputs(parse_inputs(inputs))
    previous = previous_records(context, conn_id=conn_id)
    if skip_if_unchanged and unchanged_by_identity(files, previous):
        raise SkipUnchanged(
            f"Skipping: {_every(len(files))} unchanged since run "
            f"{previous[0].get('run_id')} (same store identity and size, nothing downloaded)"
        )
    result = stage_files(
        files,
        inputs_dir=inputs_dir,
        cache=InputCache(directory=config.cache_dir(), max_bytes=config.cache_max_bytes()),
        max_concurrency=config.max_concurrency(),
        logger=logger,
    )
    for record in result.records:
        record.run_id = ti.run_id
    report = compare(result.records, previous)
    if skip_if_unchanged and all_unchanged(report, result.records):
        raise SkipUnchanged(
            f"Skipping: {_every(len(result.records))} byte-identical to run "
            f"{report.previous_run_id} (same sha256)"
        )
    apply_policy(report, policy=on_input_change, logger=logger)
    logger.info(
        "Staged %s into %s: %d downloaded, %d from the cache",
        plural(len(result.records), "file"), inputs_dir, result.files_downloaded, result.files_cached,
    )
    return result


def _every(count: int) -> str:
    """``the input file is`` / ``all 3 input files are``."""
    return "the input file is" if count == 1 else f"all {count} input files are"


def record_dicts(records: Sequence[InputRecord], *, inputs_dir: str) -> list[dict]:
    """The records as plain JSON, each ``path`` relative to the inputs directory (``table/a.csv``).

    The inputs directory belongs to one task attempt and a step removes it when it ends, so an
    absolute path would name a file that is gone; relative to wherever the inputs are staged, the
    path stays true (it is also the file's place under ``DATASTORE_INPUTS`` in the next run).
    """
    values = []
    for record in records:
        value = record.to_dict()
        value["path"] = _relative(record.path, inputs_dir)
        values.append(value)
    return values


def _relative(path: str, inputs_dir: str) -> str:
    if not path or not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, inputs_dir)
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")


def push_inputs(context: Mapping[str, Any], records: Sequence[Mapping]) -> list[dict]:
    """Push the records (from :func:`record_dicts`) to XCom as ``datastore_inputs``."""
    value = [dict(r) for r in records]
    context["ti"].xcom_push(key=XCOM_INPUTS, value=value)
    return value


def commit_for_task(
    context: Mapping[str, Any],
    *,
    outputs_dir: str,
    store: str | None,
    conn_id: str | None,
    inputs: Sequence[Mapping] = (),
    tags: Sequence[str] = (),
    properties: Mapping | None = None,
    dataset_version: str | None = None,
    promote: Sequence[tuple[str, str]] = (),
    execution_metadata: Mapping | None = None,
    commit_empty: bool = False,
    logger: logging.Logger,
) -> Version | None:
    """Snapshot ``outputs_dir`` as this task run's version, push its record, and announce the asset.
    A step that wrote no outputs commits nothing (unless ``commit_empty``): its record says so, and
    ``None`` is returned.

    :param inputs: the run's input records (from :func:`record_dicts`), kept in the manifest.
    :param tags: tags of the version; ``properties`` its JSON properties.
    :param dataset_version: ``<dataset>/<version>`` to create from the new version's files.
    :param promote: ``(alias, path)`` of the task to move to the new version (a file of it, if ``path``).
    :param execution_metadata: what the step printed as metadata, kept in the manifest.
    """
    target = get_store(store, conn_id=conn_id)
    version = snapshot(
        outputs_dir,
        store=target,
        tags=tags,
        properties=properties,
        dataset_version=dataset_version,
        producer=producer(context),
        inputs=[dict(r) for r in inputs],
        execution_metadata=execution_metadata,
        commit_empty=commit_empty,
        max_concurrency=config.max_concurrency(),
        logger=logger,
    )
    if version is None:
        publish_nothing(context, logger=logger)
        return None
    publish_version(context, version, store=target, promote=promote, logger=logger)
    return version


def publish_nothing(context: Mapping[str, Any], *, logger: logging.Logger) -> None:
    """This task run wrote no outputs: its ``datastore_outputs`` record says no version was committed."""
    ti = context["ti"]
    logger.info("No outputs: no version committed (commit_empty=True commits an empty marker version)")
    ti.xcom_push(key=XCOM_OUTPUTS, value={"committed": False, "why": "no outputs", "version_id": None,
                                          "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
                                          "files": []})


def publish_version(context: Mapping[str, Any], version: Version, *, store,
                    promote: Sequence[tuple[str, str]] = (),
                    dataset_version: str | None = None, reused: bool = False, logger: logging.Logger) -> None:
    """Make ``version`` this task run's output: move the ``promote`` aliases to it, make ``dataset_version``
    of its files (a reused version; a snapshot makes its own), push its record (``reused`` when it is an
    earlier run's), announce the asset."""
    ti = context["ti"]
    for name, path in promote if version.files else ():  # an alias never names an empty version
        aliases.set_alias(store, name, dag_id=version.dag_id, task_id=version.task_id, version_id=version.version_id,
                          path=path, set_by=f"{ti.dag_id}.{ti.task_id} {ti.run_id}", logger=logger)
    if dataset_version:
        datasets.create_dataset_version(store, dataset_version, versions=[(version, version.files)])
    record = version.to_record()
    if reused:  # the version of an earlier run (its run_id), this run's output
        record["reused"] = True
    ti.xcom_push(key=XCOM_OUTPUTS, value=record)
    _announce(context, version)


def datastore_asset(dag_id: str, task_id: str):
    """The Airflow asset a step's versions are published as (one per DAG and task)."""
    from airflow.sdk import Asset

    # The URI's "x-" scheme is one Airflow leaves alone: any other makes it load every provider's URI
    # handlers (and with them boto3, the Google and Azure SDKs) while the DAG is parsed.
    return Asset(uri=f"x-datastore://{dag_id}/{task_id}", name=f"datastore://{dag_id}/{task_id}")


def _announce(context: Mapping[str, Any], version: Version) -> None:
    """Put the version into the outlet event of the task's asset, for asset-scheduled DAGs."""
    events = context.get("outlet_events")
    if events is None:
        return
    asset = datastore_asset(version.dag_id, version.task_id)
    task = context.get("task")
    if task is None or not any(getattr(o, "uri", None) == asset.uri for o in getattr(task, "outlets", ())):
        return
    events[asset].extra = {
        "version_id": version.version_id,
        "manifest_url": version.manifest_url,
        "reference": version.reference(),
        "files": len(version.files),
        "bytes": version.total_size,
    }


def outputs_of(task: Any, path: str = "") -> dict:
    """An input that stages exactly the version ``task`` commits in the same DAG run.

    :param task: the upstream step: an operator, or what calling a ``@task.datastore`` function
        returned.
    :param path: a file or wildcard inside the version (default: all of it).

    Passing it as an input also makes ``task`` an upstream of the consuming step.
    """
    from airflow.sdk import XComArg

    operator = getattr(task, "operator", task)
    return {"version": XComArg(operator, key=XCOM_OUTPUTS), "path": path}
