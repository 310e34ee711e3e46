"""The Airflow side of a YAML step: parameters into the command, sweeps into mapped tasks.

:class:`YamlStepOperator` is a :class:`DatastoreStepOperator` that, when it runs, reads its parameter
values (the DAG run's Params, or its sweep variant), renders them into the command (Valohai's own
``build_command``), the environment and its input URLs (``{parameter:NAME}``), and applies the Valohai
input forms (``filename``, ``download: on-demand``, inputs given at trigger, several edges into one input).
What the loader found Airflow cannot do (``problem``) fails the task here, when it runs, not the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.problem = problem
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
            try:
                values[param.name] = P.cast(param, value)
            except ValueError as err:
                raise AirflowFailException(f"Parameter {param.name!r} of step {self.task_id}: {err}. Trigger the "
                                           "DAG with a value that fits the parameter's type and limits") from None
        return values

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
        config_dir = os.path.join(dirs.base, "config")
        os.makedirs(config_dir, exist_ok=True)
        with open(os.path.join(config_dir, "parameters.json"), "w") as handle:
            json.dump(self._values, handle, indent=2, sort_keys=True)
        env = {**self.environment, "VH_INPUTS_DIR": dirs.inputs, "VH_OUTPUTS_DIR": dirs.outputs,
               "VH_CONFIG_DIR": config_dir}
        for name, urls in self.on_demand.items():
            env[f"DATASTORE_INPUT_{_env_name(name)}_URLS"] = "\n".join(urls)
        self.environment = env
        if self.parameters:
            self.log.info("Parameters: %s", json.dumps(self._values, sort_keys=True, default=str))
        return super().run_body(context, dirs, sorted({*input_names, *self._groups}))


class SweepVariantsOperator(BaseOperator):
    """Lists a sweep node's parameter variants when the run starts; the node maps over the list.

    :param variants: the fixed variants (from a ``- task:`` blueprint), ``[{}]`` if none.
    :param swept: parameter name -> the DAG Param key holding the list of values to sweep over.
    """

    ui_color = "#f2f2e6"

    def __init__(self, *, variants: Sequence[Mapping[str, Any]] = ({},), swept: Mapping[str, str] | None = None,
                 problem: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variants = [dict(v) for v in variants] or [{}]
        self.swept = dict(swept or {})
        self.problem = problem

    def execute(self, context) -> list[dict[str, Any]]:
        from airflow_datastores.pipelines.variants import grid

        if self.problem:
            raise AirflowFailException(f"Sweep {self.task_id} cannot run in Airflow: {self.problem}")
        params = context.get("params") or {}
        axes = {name: P.as_list(params.get(key)) for name, key in self.swept.items()}
        variants = grid(axes, self.variants)
        self.log.info("%d variants: %s", len(variants), json.dumps(variants, default=str))
        return variants


def _staging_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A YAML input as staging reads it, with the references to upstream versions apart (``groups``: per
    edge that fed it, one reference per version: several when the upstream is a sweep)."""
    from airflow_datastores.versions import make_reference

    groups: list[list[str]] = []
    for source in spec.get("fed") or ():
        upstream = source.get("version")
        records = [upstream] if isinstance(upstream, (Mapping, str)) or upstream is None else list(upstream)
        groups.append([make_reference(dag_id=r["dag_id"], task_id=r["task_id"], version=r["version_id"],
                                      path=source.get("path", ""), store=r.get("store"))
                       if isinstance(r, Mapping) else r for r in records if r is not None])
    keep = spec.get("keep_directories", "suffix" if groups else "none")
    result = {"urls": list(P.as_list(spec.get("urls"))), "groups": groups, "keep_directories": keep}
    if spec.get("optional"):
        result["optional"] = True
    return result


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
