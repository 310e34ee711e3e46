"""DatastoreStepOperator: stage inputs, run a command or a callable, snapshot outputs."""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_datastores.errors import InvalidSpec, SkipUnchanged
from airflow_datastores.operators._failures import fail_without_retry
from airflow_datastores.operators._lineage import LineageMixin, TaskLineage, input_pairs, output_pairs
from airflow_datastores.operators._state import save_records
from airflow_datastores.operators.assets import datastore_asset
from airflow_datastores.operators.checks import check_promote, check_task, mask_url_passwords
from airflow_datastores.operators.dirs import TaskDirs, task_dirs
from airflow_datastores.operators.metadata import new_collector, push_metadata, reading_stdout
from airflow_datastores.operators.publish import commit_for_task, publish_version
from airflow_datastores.operators.staging import push_inputs, record_dicts, stage_for_task
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Version
from airflow_datastores.versions.reuse import reuse_key, run_once

#: What a step templates besides its command: the documented "(templated)" arguments, shared with
#: ``@task.datastore`` (whose body is a function, so it has no command to template).
STEP_TEMPLATE_FIELDS: tuple[str, ...] = ("op_kwargs", "inputs", "store", "environment", "cwd", "tags", "properties",
                                         "dataset_version")


class DatastoreStepOperator(LineageMixin, BaseOperator):
    """One pipeline step: stage its inputs, run its body, commit its outputs as a new version.

    In that order: a body that fails commits nothing. The body is either a shell ``command`` or a
    ``python_callable``. Both see the directories:

    * a command runs in ``cwd`` with ``DATASTORE_INPUTS``, ``DATASTORE_OUTPUTS`` and, per input,
      ``DATASTORE_INPUT_<NAME>`` in its environment; ``{{ inputs_dir }}`` and ``{{ outputs_dir }}``
      can also be used in the command's template. Its output streams into the task log.
    * a callable gets ``inputs_dir`` and ``outputs_dir`` (``pathlib.Path``) if its signature names
      them, a parameter named like an input gets that input's directory, plus ``op_kwargs``.

    :param command: shell command, or a list of lines run as one script that stops at the first
        failing line. (templated)
    :param python_callable: function to call instead of a command.
    :param op_kwargs: keyword arguments for ``python_callable``. (templated)
    :param inputs: input name -> URL, wildcard, list of them, a ``datastore://`` reference, or
        ``outputs_of(upstream_step, "*.csv")``. (templated)
    :param store: store name or URL the outputs go to; default ``[datastores] default_store``.
        (templated)
    :param conn_id: Airflow connection for ``store`` when not its configured one.
    :param mounts: NFS shares or worker directories to mount for the body (``Mount`` objects, dicts
        or ``"source:destination"`` strings). Mounted data is not versioned.
    :param on_input_change: ``warn`` (default), ``fail`` or ``ignore`` when an input changed since
        the previous run.
    :param skip_if_unchanged: skip the step when every input is byte-identical to the previous run.
    :param tags: tags of the version (files get theirs from ``<file>.metadata.json`` sidecars, which
        are not committed as files). (templated)
    :param properties: JSON properties of the version. (templated)
    :param dataset_version: ``<dataset>/<version>`` (e.g. ``images/v3``) to create from the committed
        version's files, readable as ``dataset://images/v3``. (templated)
    :param reuse: when an earlier committed version of this task was made from the same inputs (by
        sha256), parameters (``op_kwargs``, ``environment``, tags and properties) and code (the command
        text, the callable's source, or ``code_version``), do not run: take that version as this run's
        output (XCom, asset event; a callable's return value is then ``None``). Two runs with one key at
        once compute it once: the other waits for it under a lock in the store.
    :param code_version: what names the code for ``reuse`` instead of the command or the callable's source
        (e.g. a git commit or an image tag).
    :param promote: alias name(s) of this task (``"prod"`` or ``["prod", "candidate"]``) to move to the
        committed version, so ``datastore://<dag>/<task>/@prod`` reads it; each move is kept in the
        alias's history. A mapping names one file each (``{"model-best": "model.pkl"}``), as a Valohai
        datum alias does: ``datum://model-best`` then stages that file.
    :param environment: extra environment variables for the command. (templated)
    :param cwd: working directory of the command; default: a scratch directory of this attempt.
        (templated)
    :param commit_empty: commit an empty version (a marker) when the step writes no outputs; by default
        a step that writes nothing commits nothing, its ``datastore_outputs`` record says so, and
        ``latest`` and aliases keep naming the last version that has files.

    With the OpenLineage provider, each staged file is reported as an input dataset and each file of
    the committed version as an output dataset (``get_openlineage_facets_on_complete``).
    """

    template_fields: Sequence[str] = ("command", *STEP_TEMPLATE_FIELDS)
    template_fields_renderers = {"command": "bash", "inputs": "json", "op_kwargs": "py"}
    ui_color = "#e6f2e6"
    #: Whether the constructor checks ``inputs`` (YAML steps' are checked by the loader, with file:line).
    check_inputs_when_parsed: bool = True

    def __init__(
        self,
        *,
        command: str | Sequence[str] | None = None,
        python_callable: Callable[..., Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | Sequence[Any] | None = None,
        store: str | None = None,
        conn_id: str | None = None,
        mounts: Sequence[Any] = (),
        on_input_change: str = "warn",
        skip_if_unchanged: bool = False,
        tags: Sequence[str] = (),
        properties: Mapping[str, Any] | None = None,
        dataset_version: str | None = None,
        promote: str | Sequence[str] | Mapping[str, str] = (),
        reuse: bool = False,
        code_version: str | None = None,
        environment: Mapping[str, str] | None = None,
        cwd: str | None = None,
        commit_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (command is None) == (python_callable is None):
            raise InvalidSpec(f"{self.task_id}: give either a command or a python_callable, not both or neither")
        if python_callable is not None and not callable(python_callable):
            raise TypeError(f"{self.task_id}: python_callable must be callable")
        self.command = command
        self.python_callable = python_callable
        self.op_kwargs = dict(op_kwargs or {})
        self.inputs = inputs or {}
        self.store = store
        self.conn_id = conn_id
        self.mounts = _parse_mounts(mounts)
        self.on_input_change = check_task(self.task_id, inputs=self.inputs if self.check_inputs_when_parsed else None,
                                          on_input_change=on_input_change,
                                          store=store)
        self.skip_if_unchanged = skip_if_unchanged
        self.tags = list(tags)
        self.properties = dict(properties or {})
        self.dataset_version = dataset_version
        self.promote = check_promote(self.task_id, promote)
        self.reuse = reuse
        self.commit_empty = commit_empty
        self.code_version = code_version
        self.environment = dict(environment or {})
        self.cwd = cwd
        self._process: subprocess.Popen | None = None
        self._metadata = new_collector()
        self._records: list[dict] = []  # the staged inputs' records, for the body (a YAML step's config)
        self._own_mounts: list[dict] = []  # mounts of the task's own directories (not announced as data)
        if self.has_dag():
            self.outlets = [*self.outlets, datastore_asset(self.dag_id, self.task_id)]

    def render_template_fields(self, context, jinja_env=None) -> None:
        # The directories are known before rendering, so commands can template them.
        dirs = task_dirs(context)
        context["inputs_dir"] = dirs.inputs
        context["outputs_dir"] = dirs.outputs
        super().render_template_fields(context, jinja_env)
        mask_url_passwords(self.inputs)

    @fail_without_retry
    def execute(self, context) -> Any:
        dirs = task_dirs(context).create()
        try:
            self.check_mounts(dirs)  # a share that does not answer fails before any download
            try:
                staged = stage_for_task(
                    context,
                    inputs=self.inputs,
                    inputs_dir=dirs.inputs,
                    on_input_change=self.on_input_change,
                    skip_if_unchanged=self.skip_if_unchanged,
                    logger=self.log,
                    conn_id=self.conn_id,
                )
            except SkipUnchanged as skip:
                raise AirflowSkipException(str(skip)) from None
            input_names = sorted({r.name for r in staged.records} | _input_names(self.inputs))
            records = record_dicts(staged.records, inputs_dir=dirs.inputs)
            self._records = records
            returned: list[Any] = [None]
            self._metadata = new_collector()

            def run_and_commit() -> Version | None:
                returned[0] = self.run_body(context, dirs, input_names)
                summary = self._metadata.summary()
                return commit_for_task(
                    context, outputs_dir=dirs.outputs, store=self.store, conn_id=self.conn_id,
                    inputs=records, tags=self.tags, properties=self.properties,
                    dataset_version=self.dataset_version, promote=self.promote,
                    execution_metadata=summary if summary["count"] else None, commit_empty=self.commit_empty,
                    logger=self.log,
                )

            version = self._reuse_or(run_and_commit, context, records) if self.reuse else run_and_commit()
            push_metadata(context, version.execution_metadata if version else self._metadata.summary(),
                          logger=self.log)
            result = returned[0]
            push_inputs(context, records)
            record = version.to_record() if version else {"committed": False, "why": "no outputs", "version_id": None}
            save_records(context, records, version=record if version else None)
            self._lineage = TaskLineage(inputs=input_pairs(records), outputs=output_pairs(version) if version else [],
                                        conn_id=self.conn_id)
            return record if self.python_callable is None else result
        finally:
            dirs.remove()

    def _reuse_or(self, run_and_commit: Callable[[], Version | None], context,
                  records: Sequence[Mapping]) -> Version | None:
        """The version an earlier run made from the same inputs, parameters and code, else ``run_and_commit()``."""
        ti = context["ti"]
        store = get_store(self.store, conn_id=self.conn_id)
        key = reuse_key(inputs=records, code=self.code_version or _code_of(self.command, self.python_callable),
                        parameters={"op_kwargs": self.op_kwargs, "environment": self.environment, "tags": self.tags,
                                    "properties": self.properties})
        outcome = run_once(store, dag_id=self.dag_id, task_id=self.task_id, key=key, compute=run_and_commit,
                           owner=f"run {ti.run_id}", logger=self.log)
        if not outcome.computed:
            version = outcome.version
            self.log.info("Reusing version %s of %s.%s (run %s): it was made from the same inputs, parameters and "
                          "code (reuse key %s); the step did not run", version.version_id, self.dag_id, self.task_id,
                          version.run_id, key[:16])
            publish_version(context, version, store=store, promote=self.promote,
                            dataset_version=self.dataset_version, reused=True, logger=self.log)
        return outcome.version

    def check_mounts(self, dirs: TaskDirs) -> None:
        if self.mounts:
            from airflow_datastores.mounts import check_mounts_reachable, validate_mounts

            validate_mounts(self.mounts, inputs_dir=dirs.inputs, outputs_dir=dirs.outputs)
            check_mounts_reachable(self.mounts)

    def run_body(self, context, dirs: TaskDirs, input_names: Sequence[str]) -> Any:
        """Run the command or the callable with the staged inputs and an empty outputs directory."""
        if self.python_callable is not None:
            return self._call(context, dirs, input_names)
        return self._run_command(dirs, input_names)

    def _call(self, context, dirs: TaskDirs, input_names: Sequence[str]) -> Any:
        kwargs = callable_kwargs(self.python_callable, context=context, dirs=dirs, input_names=input_names,
                                 op_kwargs=self.op_kwargs)
        if self.mounts:
            from airflow_datastores.mounts import run_with_mounts

            return run_with_mounts(self.mounts, self.python_callable, **kwargs)
        with reading_stdout(self._metadata):  # what it prints as JSON is its execution metadata
            return self.python_callable(**kwargs)

    def _run_command(self, dirs: TaskDirs, input_names: Sequence[str]) -> None:
        script = self.command if isinstance(self.command, str) else "\n".join(self.command)
        argv = ["bash", "-e", "-o", "pipefail", "-c", script]
        env = {**os.environ, **{k: str(v) for k, v in self.environment.items()}}
        env["DATASTORE_INPUTS"] = dirs.inputs
        env["DATASTORE_OUTPUTS"] = dirs.outputs
        for name in input_names:
            env[f"DATASTORE_INPUT_{_env_name(name)}"] = os.path.join(dirs.inputs, name)
        cwd = self.cwd or os.path.join(dirs.base, "work")
        os.makedirs(cwd, exist_ok=True)
        self.log.info("Running command in %s:\n%s", cwd, script)
        mounts = [*self.mounts, *self._own_mounts]
        if mounts:
            from airflow_datastores.mounts import run_command_with_mounts

            code = run_command_with_mounts(mounts, argv, env=env, cwd=cwd, log=self.log, on_line=self._metadata.feed,
                                           own=[m["destination"] for m in self._own_mounts])
        else:
            code = self._stream(argv, env=env, cwd=cwd)
        if code != 0:
            raise AirflowException(
                f"The step's command exited with code {code}; no version was committed. "
                "Its output is in the log above"
            )

    def _stream(self, argv: list[str], *, env: Mapping[str, str], cwd: str) -> int:
        self._process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        assert self._process.stdout is not None
        for line in iter(self._process.stdout.readline, b""):
            text = line.decode(errors="replace").rstrip("\n")
            self.log.info("%s", text)
            self._metadata.feed(text)
        return self._process.wait()

    def on_kill(self) -> None:
        if self._process and self._process.poll() is None:
            os.killpg(self._process.pid, 15)


def callable_kwargs(
    func: Callable[..., Any],
    *,
    context: Mapping[str, Any],
    dirs: TaskDirs,
    input_names: Sequence[str],
    op_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments a step function asks for by name: directories, inputs, context keys."""
    offered: dict[str, Any] = dict(context)
    offered.update({name: Path(dirs.inputs) / name for name in input_names})
    offered["inputs_dir"] = Path(dirs.inputs)
    offered["outputs_dir"] = Path(dirs.outputs)
    offered.update(op_kwargs)
    parameters = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return {**{k: offered[k] for k in ("inputs_dir", "outputs_dir")}, **dict(op_kwargs)}
    return {name: offered[name] for name in parameters if name in offered}


def _input_names(inputs: Any) -> set[str]:
    if isinstance(inputs, Mapping):
        return set(inputs)
    return {i["name"] if isinstance(i, Mapping) else getattr(i, "name", "") for i in inputs or ()} - {""}


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def _parse_mounts(mounts: Sequence[Any]) -> list:
    if not mounts:
        return []
    from airflow_datastores.mounts import parse_mounts

    return parse_mounts(list(mounts))


def _code_of(command: str | Sequence[str] | None, python_callable: Callable[..., Any] | None) -> str:
    """What names the code of a step for reuse: its (rendered) command, or a hash of its callable's source."""
    if python_callable is None:
        return command if isinstance(command, str) else "\n".join(command or ())
    try:
        source = inspect.getsource(python_callable)
    except (OSError, TypeError):  # no source file (a built-in, a REPL): its compiled code stands in
        code = getattr(python_callable, "__code__", None)
        source = repr(code.co_code) if code else repr(python_callable)
    return "python:" + hashlib.sha256(source.encode()).hexdigest()
