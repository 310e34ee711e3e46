"""SnapshotOutputsOperator: commit a directory as a new immutable version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_datastores.operators._failures import fail_without_retry
from airflow_datastores.operators._lineage import LineageMixin, TaskLineage, output_pairs
from airflow_datastores.operators.assets import datastore_asset
from airflow_datastores.operators.checks import check_promote
from airflow_datastores.operators.publish import commit_for_task


class SnapshotOutputsOperator(LineageMixin, BaseOperator):
    """Upload everything under ``outputs_dir`` to the store as this task's new version.

    The version's record (id, manifest URL, files with md5/sha1/sha256) is returned and pushed to XCom
    as ``datastore_outputs``; the task's asset ``datastore://<dag_id>/<task_id>`` gets an event with
    the version in its ``extra``.

    :param outputs_dir: the directory to snapshot. (templated)
    :param store: store name or URL; default: ``[datastores] default_store``. (templated)
    :param conn_id: Airflow connection of the store, when not the store's configured one.
    :param tags: tags of the version (files get theirs from ``<file>.metadata.json`` sidecars).
        (templated)
    :param properties: JSON properties of the version. (templated)
    :param dataset_version: ``<dataset>/<version>`` (e.g. ``images/v3``) to create from the committed
        version's files, readable as ``dataset://images/v3``. (templated)
    :param promote: alias name(s) of this task to move to the committed version; a mapping of alias ->
        file names one file of it each.
    :param commit_empty: commit an empty version when the directory holds no file (by default nothing is
        committed then).
    """

    template_fields: Sequence[str] = ("outputs_dir", "store", "tags", "properties", "dataset_version")
    ui_color = "#f3ecf8"

    def __init__(
        self,
        *,
        outputs_dir: str,
        store: str | None = None,
        conn_id: str | None = None,
        tags: Sequence[str] = (),
        properties: Mapping[str, Any] | None = None,
        dataset_version: str | None = None,
        promote: str | Sequence[str] | Mapping[str, str] = (),
        commit_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.commit_empty = commit_empty
        self.outputs_dir = outputs_dir
        self.store = store
        self.conn_id = conn_id
        self.tags = list(tags)
        self.properties = dict(properties or {})
        self.dataset_version = dataset_version
        self.promote = check_promote(self.task_id, promote)
        if self.has_dag():
            self.outlets = [*self.outlets, datastore_asset(self.dag_id, self.task_id)]

    @fail_without_retry
    def execute(self, context) -> dict:
        version = commit_for_task(
            context, outputs_dir=self.outputs_dir, store=self.store, conn_id=self.conn_id, tags=self.tags,
            properties=self.properties, dataset_version=self.dataset_version, promote=self.promote,
            commit_empty=self.commit_empty, logger=self.log,
        )
        if version is None:  # nothing written, nothing committed: the record says so
            return {"committed": False, "why": "no outputs", "version_id": None}
        self._lineage = TaskLineage(outputs=output_pairs(version), conn_id=self.conn_id)
        return version.to_record()
