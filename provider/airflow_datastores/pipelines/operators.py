"""The Airflow side of a YAML step: parameters into the command, sweeps into mapped tasks.

:class:`YamlStepOperator` is a :class:`DatastoreStepOperator` that, when it runs, reads its parameter
values (the DAG run's Params, or its sweep variant), renders them into the command (Valohai's own
``build_command``), the environment and its input URLs (``{parameter:NAME}``), and applies the Valohai
input forms (``filename``, ``download: on-demand``, inputs given at trigger, several edges into one input).
What the loader found Airflow cannot do (``problem``) fails the task here, when it runs, not the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_datastores.operators._failures import fail_without_retry
from airflow_datastores.operators.step import DatastoreStepOperator
from airflow_datastores.pipelines import parameters as P

XCOM_ON_DEMAND = "datastore_on_demand"


class YamlStepOperator(DatastoreStepOperator):
    """A step from a pipeline file.

    :param parameters: the step's parameter specs, as plain dicts (``ParameterSpec`` fields).
    :param parameter_sources: parameter name -> the DAG Param key its value is read from.
    :param variant: parameter name -> value for this task (a sweep's mapped variant); wins over Params.
        (templated)
    :param input_params: input name -> the DAG Param key holding its URLs (steps-only DAGs).
    :param on_demand: input name -> URLs of inputs that are not staged (``download: on-demand``).
    :param filenames: input name -> the file name a single staged file is also given.
    :param problem: why the step cannot run in Airflow (found when the file was loaded); the task fails
        with it, without retries.
    :param step_name: the Valohai step the node runs; ``pipeline_name`` the pipeline (``execution.json``).
    :param metadata_sources: parameter name -> ``{"task_id", "key"}``: a ``metadata -> parameter`` edge; the
        parameter takes the last value the upstream task printed for that key (else its own value).
    """

    template_fields: Sequence[str] = (*DatastoreStepOperator.template_fields, "variant")
    check_inputs_when_parsed = False  # the loader checked them, naming the file and line

    def __init__(
        self,
        *,
        parameters: Sequence[Mapping[str, Any]] = (),
        parameter_sources: Mapping[str, str] | None = None,
        variant: Mapping[str, Any] | None = None,
        input_params: Mapping[str, str] | None = None,
        on_demand: Mapping[str, Sequence[str]] | None = None,
        filenames: Mapping[str, str] | None = None,
        problem: str | None = None,
        step_name: str | None = None,
        pipeline_name: str | None = None,
        metadata_sources: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.problem = problem
        self.metadata_sources = {k: dict(v) for k, v in (metadata_sources or {}).items()}
        self.step_name = step_name
        self.pipeline_name = pipeline_name
        self.parameters = [dict(p) for p in parameters]
        self.parameter_sources = dict(parameter_sources or {})
        self.variant = dict(variant or {})
        self.input_params = dict(input_params or {})
        self.on_demand = {k: list(v) for k, v in (on_demand or {}).items()}
        self.filenames = dict(filenames or {})
        self._values: dict[str, Any] = {}
        self._groups: dict[str, list[str]] = {}

    def parameter_values(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """Each parameter's value for this run (the variant's, else the DAG run's Param), cast as Valohai
        casts it."""
        params = context.get("params") or {}
        values: dict[str, Any] = {}
        for param in map(P.from_dict, self.parameters):
            if param.name in self.variant:
                value = self.variant[param.name]
            else:
                value = params.get(self.parameter_sources.get(param.name, param.name), param.default)
                source = self.metadata_sources.get(param.name)
                if source:
                    found, printed = upstream_metadata(context, source)
                    if found:
                        self.log.info("Parameter %s = %r: the last value of metadata key %r that %s printed",
                                      param.name, printed, source["key"], source["task_id"])
                        value = printed
                    else:
                        self.log.warning("%s kept no metadata key %r (never printed, or past the metadata bounds); "
                                         "parameter %s keeps %r", source["task_id"],
                                         source["key"], param.name, value)
            try:
                values[param.name] = P.cast(param, value)
            except ValueError as err:
                raise AirflowFailException(f"Parameter {param.name!r} of step {self.task_id}: {err}. Trigger the "
                                           "DAG with a value that fits the parameter's type and limits") from None
        return values

    @fail_without_retry
    def execute(self, context) -> Any:
        if self.problem:
            raise AirflowFailException(f"Step {self.task_id} cannot run in Airflow: {self.problem}")
        self._values = self.parameter_values(context)
        # Rendered before the base class runs, so reuse=True keys on the values (command and environment).
        params_list = [P.from_dict(p) for p in self.parameters]
        lines = [self.command] if isinstance(self.command, str) else list(self.command)
        self.command = P.render_command(lines, params_list, self._values)  # {parameters} is empty without any
        self.environment = {**self.environment, **P.environment(params_list, self._values)}
        self.inputs = self._inputs_to_stage(context.get("params") or {}, params_list)
        if self.on_demand:
            self.log.info("On-demand inputs are not staged; their URLs are in $DATASTORE_INPUT_<NAME>_URLS (one a "
                          "line) and in XCom %r. Fetch one with: airflow_datastores.inputs.stage_files("
                          "resolve_inputs(parse_inputs({name: urls})), inputs_dir=...)", XCOM_ON_DEMAND)
            context["ti"].xcom_push(key=XCOM_ON_DEMAND, value=[{"name": n, "urls": u}
                                                               for n, u in self.on_demand.items()])
        return super().execute(context)

    def _inputs_to_stage(self, params: Mapping[str, Any], params_list: list) -> dict[str, Any]:
        """The inputs as staging reads them: URLs given at trigger, ``{parameter:NAME}`` rendered, versions
        fed by edges; a sweep upstream's versions each in its own directory."""
        inputs: dict[str, Any] = {}
        for name, spec in dict(self.inputs).items():
            spec = dict(spec) if isinstance(spec, Mapping) else {"urls": P.as_list(spec)}
            if name in self.input_params:
                spec["urls"] = P.as_list(params.get(self.input_params[name], spec.get("urls")))
            spec["urls"] = [P.render_text(u, params_list, self._values) for u in P.as_list(spec.get("urls"))]
            staged = _staging_input(spec)
            groups = staged.pop("groups")
            empty = staged.pop("empty_upstreams")
            if empty and not groups and not staged["urls"] and not staged.get("optional"):
                raise AirflowFailException(
                    f"Input {name!r} of step {self.task_id}: {', '.join(empty)} wrote no outputs in this run, so it "
                    "committed no version to stage; mark the input optional, or give it a default")
            if len(groups) == 1 and len(groups[0]) > 1:  # a sweep upstream: one version per variant
                self._groups[name] = []
                for index, url in enumerate(groups[0]):
                    self._groups[name].append(f"{name}__{index}")
                    inputs[f"{name}__{index}"] = {**staged, "urls": [url]}
                if staged["urls"]:
                    inputs[name] = staged
            else:
                inputs[name] = {**staged, "urls": [*staged["urls"], *(u for g in groups for u in g)]}
        for name, key in self.input_params.items():
            if name not in inputs and params.get(key):
                inputs[name] = {"urls": P.as_list(params[key])}
        for name, spec in inputs.items():
            if not spec["urls"] and not spec.get("optional") and name in self.input_params:
                raise AirflowFailException(
                    f"Input {name!r} of step {self.task_id} has no URL: give its URLs when triggering the run "
                    f"(the field {self.input_params[name]!r}), or give the input a default or an edge in the YAML")
        return {n: s for n, s in inputs.items() if s.get("urls") or not s.get("optional")}

    def run_body(self, context, dirs, input_names: Sequence[str]) -> Any:
        for name, parts in self._groups.items():
            _gather(dirs.inputs, name, parts)
        for name, filename in self.filenames.items():
            _link_filename(os.path.join(dirs.inputs, name), filename, self.log)
        self._valohai_environment(context, dirs)
        for name, urls in self.on_demand.items():
            self.environment[f"DATASTORE_INPUT_{_env_name(name)}_URLS"] = "\n".join(urls)
        if self.parameters:
            self.log.info("Parameters: %s", json.dumps(self._values, sort_keys=True, default=str))
        return super().run_body(context, dirs, sorted({*input_names, *self._groups}))

    def _valohai_environment(self, context, dirs) -> None:
        """What a Valohai step script finds (:mod:`.valohai_env`): config files, ``VH_*`` variables, and
        the ``/valohai/...`` paths (bind mounts where the worker allows them, else the command's words)."""
        from airflow_datastores.mounts.namespace import has_mount_privilege
        from airflow_datastores.pipelines import valohai_env

        ti = context["ti"]
        config_dir = os.path.join(dirs.base, "config")
        repository = self.cwd or os.path.join(dirs.base, "work")
        os.makedirs(repository, exist_ok=True)
        execution_id = str(getattr(ti, "id", "") or f"{ti.dag_id}.{ti.task_id}.{ti.run_id}.{ti.try_number}")
        valohai_env.write_config(
            config_dir, parameters=self._values,
            inputs=valohai_env.inputs_config(_staged_files(dirs.inputs, self._records, self._groups,
                                                           self.filenames), inputs_dir=dirs.inputs),
            execution=valohai_env.execution_config(
                execution_id=execution_id, counter=self._counter(), title=f"{ti.dag_id}.{ti.task_id}",
                dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, try_number=ti.try_number,
                map_index=getattr(ti, "map_index", -1), step=self.step_name or ti.task_id,
                pipeline=self.pipeline_name))
        self.environment = {**self.environment, **valohai_env.environment(
            inputs_dir=dirs.inputs, outputs_dir=dirs.outputs, config_dir=config_dir, repository=repository,
            job_id=execution_id)}
        directories = {"inputs": dirs.inputs, "outputs": dirs.outputs, "config": config_dir, "repository": repository}
        lines = [self.command] if isinstance(self.command, str) else list(self.command)
        if has_mount_privilege():
            self._own_mounts = valohai_env.path_mounts(directories)
        elif valohai_env.uses_literal_paths(lines):
            self.command = valohai_env.rewrite_literal_paths(lines, directories)
            self.log.warning("This worker cannot make mounts (it needs root or CAP_SYS_ADMIN), so the /valohai/... "
                             "paths of the command were rewritten to the step's directories; a script that opens "
                             "/valohai/... itself will not find them: read $VH_INPUTS_DIR, $VH_OUTPUTS_DIR "
                             "(valohai-utils does)")

    def _counter(self) -> int:
        """This step's execution counter: the versions it committed before, plus one."""
        from airflow_datastores.stores.registry import get_store
        from airflow_datastores.versions.manifest import list_versions

        try:
            return len(list_versions(get_store(self.store, conn_id=self.conn_id), dag_id=self.dag_id,
                                     task_id=self.task_id)) + 1
        except Exception:  # noqa: BLE001 - a counter is a nicety; a store that does not answer fails later
            return 1


class SweepVariantsOperator(BaseOperator):
    """Lists a sweep node's parameter variants when the run starts; the node maps over the list.

    :param variants: the fixed variants (from a ``- task:`` blueprint), ``[{}]`` if none.
    :param swept: parameter name -> the DAG Param key holding the list of values to sweep over.
    :param metadata_swept: parameter name -> ``{"task_id", "key"}``: sweep over the (list) value an upstream
        node printed last for that metadata key (Valohai's dynamic pipelines).
    """

    ui_color = "#f2f2e6"

    def __init__(self, *, variants: Sequence[Mapping[str, Any]] = ({},), swept: Mapping[str, str] | None = None,
                 problem: str | None = None, metadata_swept: Mapping[str, Mapping[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variants = [dict(v) for v in variants] or [{}]
        self.swept = dict(swept or {})
        self.problem = problem
        self.metadata_swept = {k: dict(v) for k, v in (metadata_swept or {}).items()}

    def execute(self, context) -> list[dict[str, Any]]:
        from airflow_datastores.pipelines.variants import grid

        if self.problem:
            raise AirflowFailException(f"Sweep {self.task_id} cannot run in Airflow: {self.problem}")
        params = context.get("params") or {}
        axes = {name: P.as_list(params.get(key)) for name, key in self.swept.items()}
        for name, source in self.metadata_swept.items():
            found, value = upstream_metadata(context, source)
            if found:
                axes[name] = P.as_list(value)
                self.log.info("Sweeping %s over %r: the last value of metadata key %r that %s printed", name, value,
                              source["key"], source["task_id"])
            else:
                self.log.warning("%s kept no metadata key %r (never printed, or past the metadata bounds), so %s is "
                                 "not swept", source["task_id"], source["key"], name)
        variants = grid(axes, self.variants)
        self.log.info("%d variants: %s", len(variants), json.dumps(variants, default=str))
        return variants


def upstream_metadata(context: Mapping[str, Any], source: Mapping[str, str]) -> tuple[bool, Any]:
    """``(found, value)``: the last value of metadata key ``source["key"]`` that task ``source["task_id"]``
    printed in this run (of a sweep, the last variant that printed it)."""
    from airflow_datastores.records import XCOM_METADATA

    pulled = context["ti"].xcom_pull(task_ids=source["task_id"], key=XCOM_METADATA)
    summaries = list(pulled) if isinstance(pulled, (list, tuple)) else [pulled]
    for summary in reversed(summaries):
        last = (summary or {}).get("last", {})
        if source["key"] in last:
            return True, last[source["key"]]
    return False, None


def _staging_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A YAML input as staging reads it, with the references to upstream versions apart (``groups``: per
    edge that fed it, one reference per version: several when the upstream is a sweep)."""
    from airflow_datastores.versions import make_reference

    groups: list[list[str]] = []
    empty: list[str] = []  # upstream steps that wrote nothing this run
    for source in spec.get("fed") or ():
        upstream = source.get("version")
        records = [upstream] if isinstance(upstream, (Mapping, str)) or upstream is None else list(upstream)
        empty += [f"{r.get('dag_id')}.{r.get('task_id')}" for r in records
                  if isinstance(r, Mapping) and r.get("committed") is False]
        groups.append([make_reference(dag_id=r["dag_id"], task_id=r["task_id"], version=r["version_id"],
                                      path=source.get("path", ""), store=r.get("store"))
                       if isinstance(r, Mapping) else r for r in records
                       if r is not None and not (isinstance(r, Mapping) and r.get("committed") is False)])
    groups = [g for g in groups if g]
    keep = spec.get("keep_directories", "suffix" if groups else "none")
    result = {"urls": list(P.as_list(spec.get("urls"))), "groups": groups, "keep_directories": keep,
              "empty_upstreams": empty}
    if spec.get("optional"):
        result["optional"] = True
    return result


def _staged_files(inputs_dir: str, records: Sequence[Mapping[str, Any]], groups: Mapping[str, Sequence[str]],
                  filenames: Mapping[str, str]) -> list[dict[str, Any]]:
    """The records of the files a script finds under each input's directory (after a sweep's versions
    were gathered into ``<input>/<i>/`` and ``filename`` links made): matched to their records by inode
    (the gathered files and the links are hard links of the staged ones)."""
    by_inode = {}
    for record in records:
        path = os.path.join(inputs_dir, record["path"])
        with contextlib.suppress(OSError):
            by_inode[os.stat(path).st_ino] = record
    parts = {part for names in groups.values() for part in names}
    files = []
    for name in sorted(os.listdir(inputs_dir)) if os.path.isdir(inputs_dir) else ():
        if name in parts:
            continue
        found = []
        for root, _, names in os.walk(os.path.join(inputs_dir, name)):
            for file in sorted(names):
                path = os.path.join(root, file)
                record = by_inode.get(os.stat(path).st_ino)
                if record is not None:
                    found.append({**record, "name": name, "path": os.path.relpath(path, inputs_dir)})
        wanted = filenames.get(name)  # Valohai's `filename`: the file a script sees first
        found.sort(key=lambda r: os.path.basename(r["path"]) != wanted)
        files += found
    return files


def _gather(inputs_dir: str, name: str, parts: Sequence[str]) -> None:
    """``<name>/<i>/...``: hard links to the files of each variant's ``<name>__<i>`` directory."""
    for index, part in enumerate(parts):
        source = os.path.join(inputs_dir, part)
        for root, _, files in os.walk(source):
            target = os.path.join(inputs_dir, name, str(index), os.path.relpath(root, source))
            os.makedirs(target, exist_ok=True)
            for file in files:
                os.link(os.path.join(root, file), os.path.join(target, file))
    os.makedirs(os.path.join(inputs_dir, name), exist_ok=True)


def _link_filename(directory: str, filename: str, log) -> None:
    """Give a single staged file the name the step asked for (Valohai's ``filename``), as a hard link."""
    files = [os.path.join(root, f) for root, _, names in os.walk(directory) for f in names]
    if len(files) != 1:
        log.info("Input %s has %d files, so 'filename: %s' does not apply", os.path.basename(directory),
                 len(files), filename)
        return
    target = os.path.join(directory, filename)
    if os.path.abspath(files[0]) != os.path.abspath(target):
        os.link(files[0], target)


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()
