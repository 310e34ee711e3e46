"""StageInputsOperator: stage a task's inputs for the tasks after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_datastores.errors import SkipUnchanged
from airflow_datastores.operators._failures import fail_without_retry
from airflow_datastores.operators._lineage import LineageMixin, TaskLineage, input_pairs
from airflow_datastores.operators.checks import check_task, mask_url_passwords
from airflow_datastores.operators.dirs import task_dirs
from airflow_datastores.operators.staging import push_inputs, record_dicts, stage_for_task


class StageInputsOperator(LineageMixin, BaseOperator):
    """Download, hash and verify the named inputs into a local directory, and record them.

    The records (md5, sha1, sha256, store identity, whether each changed since the previous run) go to
    XCom as ``datastore_inputs``, each ``path`` relative to the inputs directory; the return value is
    ``{"inputs_dir": ..., "files": {name: [absolute paths]}}`` for the tasks after it (on the same
    worker, or with a shared file system). This operator does not remove the directory: the tasks
    after it read from it.

    :param inputs: input name -> URL, wildcard or list of them (``s3://``, ``az://``, ``gs://``,
        ``swift://``, ``http(s)://``, ``file://``, ``datastore://`` references). (templated)
    :param inputs_dir: where the files go; default: a directory unique to this task attempt under
        ``[datastores] work_dir``. (templated)
    :param on_input_change: ``warn`` (default), ``fail`` or ``ignore`` when an input's sha256 differs
        from the previous run's.
    :param skip_if_unchanged: skip the task when every input is byte-identical to the previous run.
    """

    template_fields: Sequence[str] = ("inputs", "inputs_dir")
    template_fields_renderers = {"inputs": "json"}
    ui_color = "#e8f4f8"

    def __init__(
        self,
        *,
        inputs: Mapping[str, Any] | Sequence[Any],
        inputs_dir: str | None = None,
        on_input_change: str = "warn",
        skip_if_unchanged: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inputs = inputs
        self.inputs_dir = inputs_dir
        self.on_input_change = check_task(self.task_id, inputs=self.inputs, on_input_change=on_input_change)
        self.skip_if_unchanged = skip_if_unchanged

    def render_template_fields(self, context, jinja_env=None) -> None:
        super().render_template_fields(context, jinja_env)
        mask_url_passwords(self.inputs)

    @fail_without_retry
    def execute(self, context) -> dict:
        inputs_dir = self.inputs_dir or task_dirs(context).inputs
        try:
            staged = stage_for_task(
                context,
                inputs=self.inputs,
                inputs_dir=inputs_dir,
                on_input_change=self.on_input_change,
                skip_if_unchanged=self.skip_if_unchanged,
                logger=self.log,
            )
        except SkipUnchanged as skip:
            raise AirflowSkipException(str(skip)) from None
        records = push_inputs(context, record_dicts(staged.records, inputs_dir=staged.inputs_dir))
        self._lineage = TaskLineage(inputs=input_pairs(records))
        files: dict[str, list[str]] = {}
        for record in staged.records:
            files.setdefault(record.name, []).append(record.path)
        return {"inputs_dir": staged.inputs_dir, "files": files}
