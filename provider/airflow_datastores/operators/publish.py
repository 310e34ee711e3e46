"""A task run's outputs committed and made its output: the version snapshotted, aliases moved, its record
pushed to XCom, its asset announced; or, when it wrote nothing, a record that says no version was made."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_datastores import config
from airflow_datastores.operators.assets import datastore_asset
from airflow_datastores.records import XCOM_OUTPUTS
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Producer, Version, aliases, datasets, snapshot


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
