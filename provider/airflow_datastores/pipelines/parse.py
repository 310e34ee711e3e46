"""Reading a pipeline file (Valohai's ``valohai.yaml`` shape) into checked specs, naming file:line."""

from __future__ import annotations

import copy
import difflib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from airflow_datastores.errors import PipelineError, SweepError
from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.model import (
    Edge,
    InputSpec,
    NodeSpec,
    ParamDef,
    ParameterSpec,
    PipelineSpec,
    StepSpec,
    TaskBlueprint,
    topological_order,
)
from airflow_datastores.pipelines.variants import SEARCHES, grid, style_values
from airflow_datastores.pipelines.yamlfile import List, Map, load_yaml, merged

log = logging.getLogger("airflow_datastores.pipelines")

POLICIES = ("warn", "fail", "ignore")
KEEP = ("none", "full", "suffix")

# Keys we honour, and keys we accept with a note (Valohai-only: nothing in Airflow does what they ask).
STEP_KEYS = ("name", "command", "inputs", "parameters", "environment", "environment-variables", "store",
             "on-input-change", "skip-if-unchanged", "mounts", "description", "time-limit")
STEP_NOTES = {
    "image": "the step runs in the Airflow worker's environment, not in image {value!r}; install what it "
             "needs on the workers (or run it with a KubernetesPodOperator)",
    "no-output-timeout": "Airflow has no timeout for silence; use 'time-limit' for an execution timeout",
    "icon": "the Airflow UI shows no step icons",
    "source-path": "kept for Valohai only",
    "upload-store": "outputs go to 'store' (or [datastores] default_store), not to Valohai store {value!r}",
    "category": "the Airflow UI has no step categories",
    "outputs": "a step's outputs are whatever its command writes to $DATASTORE_OUTPUTS",
    "resources": "ask for resources through the Airflow queue/executor (e.g. a pod template), not the step",
    "runtime-config-preset": "Valohai runtime presets have no Airflow meaning",
    "cache-volumes": "Valohai cache volumes have no Airflow meaning; inputs are cached by [datastores] cache_dir",
    "environment-variable-groups": "Valohai variable groups are not read; set the variables on the workers",
    "stop-condition": "Airflow does not stop a step on a metadata condition",
}
INPUT_KEYS = ("name", "default", "optional", "keep-directories", "filename", "download", "description")
PARAMETER_KEYS = ("name", "type", "default", "optional", "description", "pass-as", "pass-true-as",
                  "pass-false-as", "multiple", "multiple-separator", "choices", "min", "max")
PARAMETER_NOTES = {"category": "the trigger form has no parameter categories",
                   "widget": "the trigger form picks its widget from the parameter's type"}
ENV_KEYS = ("name", "default", "optional", "description")
PIPELINE_KEYS = ("name", "nodes", "edges", "parameters", "schedule", "description", "tags", "start-date",
                 "catchup", "store")
PIPELINE_NOTES = {"reuse-executions": "not mapped: Valohai also compares parameters and code; set "
                                      "'skip-if-unchanged: true' on a step to skip it when its inputs are "
                                      "byte-identical to the previous run"}
PIPELINE_PARAMETER_KEYS = ("name", "target", "targets", "default", "value", "description")
NODE_KEYS = ("name", "step", "type", "override", "task", "edge-merge-mode")
NODE_NOTES = {"on-error": "an Airflow task failure stops its downstream tasks; use trigger rules in Python "
                          "DAGs for other behaviour",
              "actions": "Valohai node actions (conditions on metadata) are not run",
              "commit": "the step runs the code on the workers, not commit {value!r}"}
OVERRIDE_KEYS = ("command", "inputs", "parameters", "environment", "environment-variables", "mounts")
OVERRIDE_NOTES = {"image": STEP_NOTES["image"], "runtime-config-preset": STEP_NOTES["runtime-config-preset"]}
TASK_KEYS = ("name", "step", "type", "parameters", "parameter-sets", "description",
             "maximum-queued-executions")
TASK_NOTES = {k: "Valohai task setting, not used by Airflow's task mapping" for k in (
    "engine", "execution-batch-size", "execution-count", "on-child-error", "optimization-target-metric",
    "optimization-target-value", "reuse-children", "stop-condition")}
EDGE_KINDS = {("output", "input"), ("input", "input"), ("parameter", "parameter"),
              ("environment-variable", "environment-variable"), ("dependency", "dependency")}
DEPLOYMENT_HELP = ("Airflow does not run Valohai deployments: deploy from a step whose command pushes the "
                   "model to your serving platform (its inputs can be fed by an edge), or remove the node "
                   "and its edges")


def slug(name: str) -> str:
    """A valid Airflow id for a Valohai name: ``Train model`` -> ``train_model``."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_.-").lower()
    return text or "unnamed"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... so no two ids of one DAG (or file) are the same."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def duration(value: Any) -> int | None:
    """Seconds from ``300`` or ``"1h 30m 5s"``; ``None`` if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", value.lower())
        rest = re.sub(r"(\d+(?:\.\d+)?)\s*([dhms])|\s", "", value.lower())
        if parts and not rest:
            return int(sum(float(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts))
        if value.strip().isdigit():
            return int(value)
    return None


def environment_queues() -> dict[str, str]:
    """``[datastores] environment_queues``: a JSON object of Valohai environment -> Airflow queue."""
    from airflow_datastores import config

    text = config.conf_value("environment_queues", "")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as err:
        raise PipelineError(f"[datastores] environment_queues is not JSON ({err}); give an object such as "
                            '{"aws-eu-west-1-p2-xlarge": "gpu"}') from None
    if not isinstance(value, dict):
        raise PipelineError("[datastores] environment_queues must be a JSON object of environment -> queue")
    return {str(k): str(v) for k, v in value.items()}


class Reader:
    """Reads one file's steps, tasks and pipelines, reporting mistakes with the file and line.

    :param path: the YAML file.
    :param strict: make every note about a Valohai-only key an error instead of a log line.
    """

    def __init__(self, path: str, *, strict: bool = False) -> None:
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self.name = os.path.basename(path)
        self.strict = strict
        self.notes: list[str] = []
        self._queues: dict[str, str] | None = None
        self._noted: set[tuple[int, str]] = set()
        self._sweeping = False

    def error(self, line: int, message: str) -> PipelineError:
        return PipelineError(f"{self.name}:{line}: {message}")

    def note(self, line: int, message: str, *, key: str | None = None) -> None:
        """One log line for something Airflow does differently (an error in strict mode).

        :param key: what the note is about; a (line, key) is noted once, even when a node's override
            reads its step again.
        """
        if (line, key or message) in self._noted:
            return
        self._noted.add((line, key or message))
        if self.strict:
            raise self.error(line, f"{message} (strict mode; remove the key, or load with strict=False)")
        text = f"{self.name}:{line}: {message}"
        self.notes.append(text)
        log.warning("%s", text)

    def load(self) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
        """The file's steps by name, and one :class:`PipelineSpec` per DAG it makes."""
        try:
            with open(self.path) as handle:
                text = handle.read()
        except OSError as err:
            raise PipelineError(f"{self.path}: cannot read the pipeline file ({err.strerror})") from None
        document = load_yaml(text, name=self.name)
        if document is None:
            raise self.error(1, "the file is empty; it needs a list of '- step:' and '- pipeline:' items")
        if not isinstance(document, List):
            raise self.error(getattr(document, "line", 1),
                             "the file must be a list of '- step:' and '- pipeline:' items")
        steps: dict[str, StepSpec] = {}
        raw_tasks: list[tuple[Map, int]] = []
        raw_pipelines: list[tuple[Any, int]] = []
        for item, line in zip(document, document.item_lines):
            if not isinstance(item, Map) or len(item) != 1:
                raise self.error(line, "each item must be a single 'step:' or 'pipeline:'")
            kind, body = next(iter(item.items()))
            if kind == "step":
                step = self.step(body, line)
                if step.name in steps:
                    raise self.error(line, f"a step named {step.name!r} is already defined on line "
                                           f"{steps[step.name].line}")
                steps[step.name] = step
            elif kind == "pipeline":
                raw_pipelines.append((body, line))
            elif kind == "task":
                raw_tasks.append((body, line))
            elif kind in ("endpoint", "deployment"):
                self.note(line, f"{kind}: Airflow does not deploy Valohai {kind}s; the item is skipped")
            else:
                raise self.error(line, f"unknown item {kind!r}{self.suggest(kind, ('step', 'pipeline', 'task'))}"
                                       "; use 'step', 'pipeline' or 'task'")
        tasks: dict[str, TaskBlueprint | PipelineError] = {}
        for body, line in raw_tasks:
            name = body.get("name") if isinstance(body, Map) else None
            try:
                blueprint = self.task(body, line, steps)
            except PipelineError as err:  # raised if a node uses it; a blueprint no node uses is skipped
                if not isinstance(name, str):
                    raise
                tasks[name] = err
            else:
                tasks[blueprint.name] = blueprint
        pipelines = [self.pipeline(body, line, steps, tasks) for body, line in raw_pipelines]
        used = {n.blueprint for p in pipelines for n in p.nodes.values() if n.blueprint}
        for name, blueprint in tasks.items():
            if name in used:
                continue
            if isinstance(blueprint, PipelineError):  # "file:line: message"
                _, line, problem = str(blueprint).split(":", 2)
                self.note(int(line), f"task {name!r} is used by no pipeline node, and could not run:{problem}",
                          key=f"task:{name}")
            else:
                self.note(blueprint.line, f"task {name!r} is used by no pipeline node, so it makes no DAG",
                          key=f"task:{name}")
        taken: set[str] = set()
        for pipeline in pipelines:  # "Train" and "train" are two Valohai pipelines: train, train_2
            pipeline.dag_id = unique(pipeline.dag_id, taken)
        if not raw_pipelines:  # Valohai users run steps on their own: one manual DAG per step
            pipelines = [self.step_pipeline(step, taken) for step in steps.values()]
        return steps, pipelines

    # pieces

    def suggest(self, word: str, choices: Iterable[str]) -> str:
        close = difflib.get_close_matches(str(word), list(choices), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def mapping(self, value: Any, line: int, what: str, allowed: tuple[str, ...],
                notes: dict[str, str] | None = None, *, named: str | None = None) -> Map:
        """``value`` checked to be a mapping of ``allowed`` keys; ``notes`` keys are noted (as about
        ``named``, else ``what``)."""
        if not isinstance(value, Map):
            raise self.error(line, f"{what} must be a mapping of keys to values")
        for key in value:
            if notes and key in notes:
                self.note(value.key_lines[key], f"{key!r} of {named or what}: " + notes[key].format(value=value[key]),
                          key=key)
            elif key not in allowed:
                known = (*allowed, *(notes or ()))
                raise self.error(value.key_lines[key], f"unknown key {key!r} in {what}"
                                                       f"{self.suggest(key, known)}; allowed: {', '.join(known)}")
        return value

    def required_name(self, value: Map, what: str) -> str:
        name = value.get("name")
        if isinstance(name, (int, float)) and not isinstance(name, bool):
            name = str(name)
        if not name or not isinstance(name, str):
            raise self.error(value.line, f"{what} needs a 'name' (a string)")
        return name

    def typed(self, value: Map, key: str, types, what: str, default=None):
        if key not in value or value[key] is None:
            return default
        if not isinstance(value[key], types) or (isinstance(value[key], bool) and bool not in (
                types if isinstance(types, tuple) else (types,))):
            names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise self.error(value.key_lines[key], f"{key!r} of {what} must be a {names}, not {value[key]!r}")
        return value[key]

    def items(self, value: Map, key: str, what: str) -> list[tuple[Any, int]]:
        raw = self.typed(value, key, list, what, default=List())
        return list(zip(raw, getattr(raw, "item_lines", [value.key_lines.get(key, value.line)] * len(raw))))

    def url(self, url: Any, line: int, what: str) -> str:
        from airflow_datastores.errors import DataStoreError
        from airflow_datastores.stores.registry import split_url
        from airflow_datastores.versioning import parse_reference

        if not isinstance(url, str):
            raise self.error(line, f"{what}: {url!r} is not a URL")
        if url.startswith(("datum://", "dataset://")):
            raise self.error(line, f"{what}: {url!r} is a Valohai {url.split(':')[0]} URL, which this provider "
                                   "cannot resolve yet; give the store URL of the files (s3://, gs://, azure://, "
                                   "swift://, https://, file:) or a datastore:// reference to a step's outputs")
        if url.startswith("file:") and not url.startswith("file://"):
            url = "file://" + os.path.normpath(os.path.join(self.directory, url[len("file:"):]))
        try:
            parse_reference(url) if url.startswith("datastore://") else split_url(url)
        except DataStoreError as err:
            raise self.error(line, f"{what}: {err}") from None
        return url

    def queue(self, environment: str, line: int, what: str) -> str | None:
        if self._queues is None:
            try:
                self._queues = environment_queues()
            except PipelineError as err:
                raise self.error(line, str(err)) from None
        if environment in self._queues:
            return self._queues[environment]
        self.note(line, f"'environment' of {what}: Valohai environment {environment!r} is not in "
                        "[datastores] environment_queues, so the step runs on the default queue", key="environment")
        return None

    def step(self, body: Any, line: int, *, what: str | None = None) -> StepSpec:
        named = body.get("name") if isinstance(body, Map) else None
        body = self.mapping(body, line, what or "a step", STEP_KEYS, STEP_NOTES,
                            named=what or (f"step {named!r}" if named else None))
        name = self.required_name(body, "a step")
        what = what or f"step {name!r}"
        command = body.get("command")
        if isinstance(command, str):
            command = [command]
        if not command or not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            raise self.error(body.key_lines.get("command", body.line),
                             f"{what} needs a 'command': a string or a list of strings")
        inputs: dict[str, InputSpec] = {}
        for item, item_line in self.items(body, "inputs", what):
            spec = self.input(item, item_line, what)
            if spec.name in inputs:
                raise self.error(item_line, f"{what} has two inputs named {spec.name!r}")
            inputs[spec.name] = spec
        parameters: dict[str, ParameterSpec] = {}
        for item, item_line in self.items(body, "parameters", what):
            spec = self.parameter(item, item_line, what)
            if spec.name in parameters:
                raise self.error(item_line, f"{what} has two parameters named {spec.name!r}")
            parameters[spec.name] = spec
        for index, text in enumerate(command):
            for ref in P.placeholders(text):
                if ref not in parameters:
                    lines = getattr(body["command"], "item_lines", None)
                    raise self.error(lines[index] if lines else body.key_lines["command"],
                                     f"the command of {what} uses parameter {ref!r}, which the step does not "
                                     f"define{self.suggest(ref, parameters)}")
        environment: dict[str, str] = {}
        queue = None
        env = body.get("environment")
        if isinstance(env, str):
            queue = self.queue(env, body.key_lines["environment"], what)
        elif env is not None:
            env = self.typed(body, "environment", dict, what, default={})
            environment.update({str(k): str(v) for k, v in env.items()})
        for item, item_line in self.items(body, "environment-variables", what):
            item = self.mapping(item, item_line, f"an environment variable of {what}", ENV_KEYS)
            variable = self.required_name(item, f"an environment variable of {what}")
            if item.get("default") is not None:
                environment[variable] = str(item["default"])
            elif not item.get("optional", True):
                self.note(item_line, f"environment variable {variable!r} of {what} has no default: set it on "
                                     "the Airflow workers", key=f"env:{variable}")
        policy = self.typed(body, "on-input-change", str, what, default="warn")
        if policy not in POLICIES:
            raise self.error(body.key_lines["on-input-change"], f"on-input-change of {what} is {policy!r}; use one "
                                                                f"of {', '.join(POLICIES)}")
        mounts = self.typed(body, "mounts", list, what, default=[])
        if mounts:
            from airflow_datastores.mounts import MountError, parse_mounts

            for index, (item, item_line) in enumerate(zip(mounts, mounts.item_lines)):
                try:
                    parse_mounts([dict(item) if isinstance(item, dict) else item])
                except (MountError, ValueError, TypeError) as err:
                    # Parsed one by one (for the line): the message names the item by its own index.
                    message = str(err).replace("mounts[0]", f"mounts[{index}]", 1)
                    raise self.error(item_line, f"mount of {what}: {message}") from None
        time_limit = None
        if body.get("time-limit") is not None:
            time_limit = duration(body["time-limit"])
            if time_limit is None:
                raise self.error(body.key_lines["time-limit"], f"'time-limit' of {what} must be seconds or a "
                                                               f"duration such as '1h 30m', not {body['time-limit']!r}")
        return StepSpec(
            name=name, command=list(command), inputs=inputs, environment=environment,
            store=self.typed(body, "store", str, what), on_input_change=policy,
            skip_if_unchanged=self.typed(body, "skip-if-unchanged", bool, what, default=False),
            mounts=[dict(m) if isinstance(m, dict) else m for m in mounts],
            description=self.typed(body, "description", str, what), line=line, parameters=parameters,
            queue=queue, time_limit=time_limit, raw=body,
        )

    def input(self, item: Any, line: int, step: str) -> InputSpec:
        item = self.mapping(item, line, f"an input of {step}", INPUT_KEYS)
        name = self.required_name(item, f"an input of {step}")
        what = f"input {name!r} of {step}"
        default = item.get("default")
        defaults = [] if default is None else [default] if isinstance(default, str) else default
        if not isinstance(defaults, list):
            raise self.error(item.key_lines["default"], f"'default' of {what} must be a URL or a list of URLs")
        lines = getattr(defaults, "item_lines", None) or [item.key_lines.get("default", line)] * len(defaults)
        urls = [self.url(url, url_line, what) for url, url_line in zip(defaults, lines)]
        keep = item.get("keep-directories", "none")
        keep = {True: "full", False: "none", None: "none"}.get(keep, keep) if isinstance(keep, (bool, type(None))) \
            else keep
        if keep not in KEEP:
            raise self.error(item.key_lines["keep-directories"], f"keep-directories of {what} is {keep!r}; use one "
                                                                 f"of {', '.join(KEEP)}, true or false")
        download = self.typed(item, "download", str, what, default="always")
        if download not in ("always", "on-demand"):
            raise self.error(item.key_lines["download"], f"'download' of {what} is {download!r}; use always or "
                                                         "on-demand")
        filename = self.typed(item, "filename", str, what)
        if filename is not None and (os.path.isabs(filename) or "/" in filename or filename in ("", ".", "..")):
            raise self.error(item.key_lines["filename"], f"'filename' of {what} must be a plain file name, not "
                                                         f"{filename!r}")
        return InputSpec(name=name, default=urls, optional=self.typed(item, "optional", bool, what, default=False),
                         keep_directories=keep, line=line, filename=filename, download=download,
                         description=self.typed(item, "description", str, what))

    def parameter(self, item: Any, line: int, step: str) -> ParameterSpec:
        item = self.mapping(item, line, f"a parameter of {step}", PARAMETER_KEYS, PARAMETER_NOTES)
        name = self.required_name(item, f"a parameter of {step}")
        what = f"parameter {name!r} of {step}"
        kind = self.typed(item, "type", str, what, default="string")
        if kind not in P.TYPES:
            raise self.error(item.key_lines["type"], f"type of {what} is {kind!r}; use one of {', '.join(P.TYPES)}")
        multiple = self.typed(item, "multiple", str, what, default="none")
        if multiple not in P.MULTIPLE:
            raise self.error(item.key_lines["multiple"], f"'multiple' of {what} is {multiple!r}; use one of "
                                                         f"{', '.join(P.MULTIPLE)}")
        if kind == "flag" and multiple != "none":
            raise self.error(item.key_lines["multiple"], f"{what} is a flag, which cannot take multiple values")
        choices = self.typed(item, "choices", list, what)
        spec = ParameterSpec(
            name=name, type=kind, optional=kind == "flag" or self.typed(item, "optional", bool, what, default=False),
            description=self.typed(item, "description", str, what),
            pass_as=self.typed(item, "pass-as", str, what), pass_true_as=self.typed(item, "pass-true-as", str, what),
            pass_false_as=self.typed(item, "pass-false-as", str, what),
            multiple=None if multiple == "none" else multiple,
            separator=str(self.typed(item, "multiple-separator", (str, int), what, default=",")),
            choices=list(choices) if choices is not None else None,
            min=self.typed(item, "min", (int, float), what), max=self.typed(item, "max", (int, float), what),
            line=line,
        )
        spec.default = self.value(spec, item.get("default"), item.key_lines.get("default", line), what)
        if kind == "flag" and spec.default is None:
            spec.default = False
        return spec

    def value(self, spec: ParameterSpec, value: Any, line: int, what: str, *, sweep: bool = False) -> Any:
        """``value`` normalized for ``spec``, or an error naming ``line`` if it does not fit."""
        if value is None:
            return None
        if self._sweeping and isinstance(value, list) and not spec.multiple:
            sweep = True  # a task node's override: a list of values is what it sweeps over
        if sweep:
            value = [P.normalize(spec, v) for v in value]
        else:
            value = P.normalize(spec, value)
        problem = P.check_value(spec, value, sweep=sweep)
        if problem:
            raise self.error(line, f"{what}: {problem}")
        return value

    def task(self, body: Any, line: int, steps: dict[str, StepSpec]) -> TaskBlueprint:
        named = body.get("name") if isinstance(body, Map) else None
        body = self.mapping(body, line, "a task", TASK_KEYS, TASK_NOTES, named=f"task {named!r}" if named else None)
        name = self.required_name(body, "a task")
        what = f"task {name!r}"
        step_name = self.typed(body, "step", str, what)
        if step_name not in steps:
            raise self.error(body.key_lines.get("step", line), f"{what} names step {step_name!r}, which is not "
                                                               f"defined{self.suggest(str(step_name), steps)}")
        step = steps[step_name]
        search = self.typed(body, "type", str, what, default="grid_search").lower().replace("-", "_")
        if search not in SEARCHES:
            raise self.error(body.key_lines["type"], f"{what} is a {search!r} task; Airflow maps a task over a "
                                                     "list fixed when the run starts, so only "
                                                     f"{', '.join(SEARCHES)} can be run (an optimizer that picks "
                                                     "the next values from results cannot)")
        axes: dict[str, list] = {}
        for item, item_line in self.items(body, "parameters", what):
            item = self.mapping(item, item_line, f"a parameter of {what}", ("name", "style", "rules"))
            parameter = self.required_name(item, f"a parameter of {what}")
            if parameter not in step.parameters:
                raise self.error(item_line, f"{what} sweeps parameter {parameter!r}, which step {step_name!r} does "
                                            f"not define{self.suggest(parameter, step.parameters)}")
            try:
                values = style_values(parameter, str(item.get("style", "single")).lower(),
                                      self.typed(item, "rules", dict, what, default={}))
            except SweepError as err:
                raise self.error(item_line, f"{what}: {err}") from None
            axes[parameter] = self.value(step.parameters[parameter], values, item_line,
                                         f"parameter {parameter!r} of {what}", sweep=True)
        base: list[dict] = [{}]
        sets = self.items(body, "parameter-sets", what)
        if sets:
            base = []
            for item, item_line in sets:
                if not isinstance(item, dict):
                    raise self.error(item_line, f"a parameter set of {what} must be a mapping of name: value")
                variant = {}
                for key, value in item.items():
                    if key not in step.parameters:
                        raise self.error(item_line, f"a parameter set of {what} names {key!r}, which step "
                                                    f"{step_name!r} does not define")
                    variant[key] = self.value(step.parameters[key], value, item_line, f"parameter {key!r} of {what}")
                base.append(variant)
        if not axes and not sets:
            raise self.error(line, f"{what} needs 'parameters' (with style and rules) or 'parameter-sets'")
        return TaskBlueprint(name=name, step=step_name, variants=grid(axes, base),
                             max_active=self.typed(body, "maximum-queued-executions", int, what), line=line)

    def with_override(self, step: StepSpec, override: Any, line: int, what: str) -> StepSpec:
        """The node's own copy of ``step``, with the override's inputs, parameters (by name) and the rest."""
        override = self.mapping(override, line, f"the override of {what}", OVERRIDE_KEYS, OVERRIDE_NOTES)
        body = Map(step.raw)
        body.line, body.key_lines = step.raw.line, dict(step.raw.key_lines)
        for key, value in override.items():
            if key in OVERRIDE_NOTES:
                continue
            if key in ("inputs", "parameters", "environment-variables"):
                if not isinstance(value, list):
                    raise self.error(override.key_lines[key], f"{key!r} in the override of {what} must be a list")
                items = List(copy.copy(step.raw.get(key) or []))
                items.item_lines = list(getattr(step.raw.get(key), "item_lines", []))
                by_name = {i.get("name"): n for n, i in enumerate(items) if isinstance(i, Map)}
                for item, item_line in zip(value, value.item_lines):
                    if not isinstance(item, Map) or "name" not in item:
                        raise self.error(item_line, f"an item of {key!r} in the override of {what} needs a 'name'")
                    if item["name"] in by_name:
                        index = by_name[item["name"]]
                        items[index] = merged(items[index], item)
                        items.item_lines[index] = item_line
                    else:
                        items.append(item)
                        items.item_lines.append(item_line)
                body[key] = items
            else:
                body[key] = value
            body.key_lines[key] = override.key_lines[key]
        return self.step(body, line, what=f"{what} (after its override)")

    def pipeline(self, body: Any, line: int, steps: dict[str, StepSpec],
                 tasks: dict[str, TaskBlueprint | PipelineError]) -> PipelineSpec:
        body = self.mapping(body, line, "a pipeline", PIPELINE_KEYS, PIPELINE_NOTES)
        name = self.required_name(body, "a pipeline")
        what = f"pipeline {name!r}"
        nodes: dict[str, NodeSpec] = {}
        ids: set[str] = set()
        raw_nodes = self.typed(body, "nodes", list, what)
        if not raw_nodes:
            raise self.error(body.key_lines.get("nodes", body.line), f"{what} needs 'nodes': a list of "
                                                                     "{name: ..., step: ...}")
        for item, item_line in zip(raw_nodes, raw_nodes.item_lines):
            node = self.node(item, item_line, what, steps, tasks, ids)
            if node.name in nodes:
                raise self.error(item_line, f"{what} has two nodes named {node.name!r}")
            nodes[node.name] = node
        edges = [self.edge(item, item_line, what) for item, item_line in self.items(body, "edges", what)]
        start = body.get("start-date")
        pipeline = PipelineSpec(
            name=name, dag_id=slug(name), nodes=nodes, edges=edges, schedule=self.typed(body, "schedule", str, what),
            description=self.typed(body, "description", str, what),
            tags=[str(t) for t in self.typed(body, "tags", list, what, default=[])],
            start_date=start, catchup=self.typed(body, "catchup", bool, what, default=False),
            store=self.typed(body, "store", str, what), line=line,
            node_lines={n.name: n.line for n in nodes.values()},
        )
        self.check_edges(pipeline)
        self.resolve_parameters(pipeline, body, what)
        return pipeline

    def node(self, item: Any, line: int, what: str, steps: dict[str, StepSpec],
             tasks: dict[str, TaskBlueprint | PipelineError], ids: set[str]) -> NodeSpec:
        if isinstance(item, Map) and item.get("type") == "deployment":
            raise self.error(line, f"node {item.get('name')!r} of {what} is a deployment node. {DEPLOYMENT_HELP}")
        item = self.mapping(item, line, f"a node of {what}", NODE_KEYS, NODE_NOTES)
        name = self.required_name(item, f"a node of {what}")
        if "." in name:
            raise self.error(item.key_lines["name"], f"node name {name!r} of {what} has a '.', which edges use to "
                                                     "separate node, kind and name; rename it")
        kind = item.get("type", "execution")
        if kind not in ("execution", "task"):
            raise self.error(item.key_lines["type"], f"node {name!r} of {what} has type {kind!r}; use execution or "
                                                     "task (deployment nodes cannot run in Airflow)")
        blueprint = None
        if "task" in item:
            if kind != "task":
                raise self.error(item.key_lines["task"], f"node {name!r} of {what} names a task blueprint, so it "
                                                         "needs 'type: task'")
            blueprint = tasks.get(item["task"])
            if isinstance(blueprint, PipelineError):
                raise blueprint
            if blueprint is None:
                raise self.error(item.key_lines["task"], f"node {name!r} of {what} names task {item['task']!r}, "
                                                         f"which is not defined{self.suggest(str(item['task']), tasks)}")
            if "step" in item and item["step"] != blueprint.step:
                raise self.error(item.key_lines["step"], f"node {name!r} of {what} gives both a step and task "
                                                         f"{blueprint.name!r} (of step {blueprint.step!r}); give one")
        step_name = item.get("step", blueprint.step if blueprint else None)
        if not isinstance(step_name, str):
            raise self.error(line, f"node {name!r} of {what} needs a 'step' (the name of a step)")
        if step_name not in steps:
            raise self.error(item.key_lines.get("step", line), f"node {name!r} of {what} names step {step_name!r}, "
                                                               f"which is not defined{self.suggest(step_name, steps)}")
        step = steps[step_name]
        if "override" in item:
            self._sweeping = kind == "task"
            try:
                step = self.with_override(step, item["override"], item.key_lines["override"],
                                          f"node {name!r} of {what}")
            finally:
                self._sweeping = False
        merge_mode = item.get("edge-merge-mode", "replace")
        if merge_mode not in ("replace", "append"):
            raise self.error(item.key_lines["edge-merge-mode"], f"edge-merge-mode of node {name!r} is "
                                                                f"{merge_mode!r}; use replace or append")
        return NodeSpec(name=name, task_id=unique(slug(name), ids), step=step, type=kind, line=line,
                        merge_mode=merge_mode, variants=blueprint.variants if blueprint else [],
                        blueprint=blueprint.name if blueprint else None,
                        max_active=blueprint.max_active if blueprint else None)

    def endpoint(self, text: Any, line: int, what: str) -> tuple[str, str, str]:
        if not isinstance(text, str) or text.count(".") < 1:
            raise self.error(line, f"edge end {text!r} of {what} must look like <node>.<kind>.<name>, e.g. "
                                   "train.input.data")
        node, kind, key = (text.split(".", 2) + [""])[:3]
        return node, kind, key

    def edge(self, item: Any, line: int, what: str) -> Edge:
        if isinstance(item, Map):
            self.mapping(item, line, f"an edge of {what}", ("source", "target"),
                         {"configuration": "Valohai edge configuration is not used"})
            if "source" not in item or "target" not in item:
                raise self.error(line, f"an edge of {what} needs 'source' and 'target'")
            source, target = item["source"], item["target"]
        elif isinstance(item, list) and len(item) == 2:
            source, target = item
        else:
            raise self.error(line, f"an edge of {what} must be a pair [<node>.output.<path>, <node>.input.<name>] "
                                   "or a mapping {source: ..., target: ...}")
        src_node, src_kind, src_key = self.endpoint(source, line, what)
        dst_node, dst_kind, dst_key = self.endpoint(target, line, what)
        if "deployment" in (src_kind, dst_kind) or dst_kind == "file":
            raise self.error(line, f"the edge {source} -> {target} feeds a deployment. {DEPLOYMENT_HELP}")
        if src_kind == "metadata":
            raise self.error(line, f"the edge {source} -> {target} reads Valohai execution metadata, which Airflow "
                                   "does not collect; have the step write the value to a file in $DATASTORE_OUTPUTS "
                                   "and feed that file to an input with an output edge")
        if (src_kind, dst_kind) not in EDGE_KINDS:
            kinds = ", ".join(f"{a}->{b}" for a, b in sorted(EDGE_KINDS))
            raise self.error(line, f"the edge {source} -> {target} goes from {src_kind!r} to {dst_kind!r}; the "
                                   f"supported kinds are {kinds}")
        if dst_kind != "dependency" and not dst_key:
            raise self.error(line, f"edge target {target!r} must name the {dst_kind}: <node>.{dst_kind}.<name>")
        return Edge(source=src_node, source_kind=src_kind, source_key=src_key.rstrip("*")
                    if src_kind in ("input", "parameter", "environment-variable") else src_key,
                    target=dst_node, target_kind=dst_kind, target_key=dst_key, line=line)

    def check_edges(self, pipeline: PipelineSpec) -> None:
        what = f"pipeline {pipeline.name!r}"
        fed: dict[tuple[str, str, str], Edge] = {}
        for edge in pipeline.edges:
            for node in (edge.source, edge.target):
                if node not in pipeline.nodes:
                    raise self.error(edge.line, f"edge names node {node!r}, which is not a node of {what}"
                                                f"{self.suggest(node, pipeline.nodes)}")
            for node, kind, key in ((edge.source, edge.source_kind, edge.source_key),
                                    (edge.target, edge.target_kind, edge.target_key)):
                step = pipeline.nodes[node].step
                names = {"input": step.inputs, "parameter": step.parameters,
                         "environment-variable": step.environment}.get(kind)
                if names is None or (kind == "environment-variable" and node == edge.target):
                    continue
                if key not in names:
                    noun = kind.replace("-", " ")
                    raise self.error(edge.line, f"edge {'feeds' if node == edge.target else 'reads'} {noun} {key!r} "
                                                f"of node {node!r}, but step {step.name!r} has no such {noun}"
                                                f"{self.suggest(key, names)}")
            if edge.target_kind == "dependency":
                continue
            slot = (edge.target, edge.target_kind, edge.target_key)
            if slot in fed:
                raise self.error(edge.line, f"{edge.target_kind} {edge.target_key!r} of node {edge.target!r} is "
                                            f"already fed by the edge on line {fed[slot].line}")
            fed[slot] = edge
        self.check_cycles(pipeline)
        for node in pipeline.nodes.values():
            for spec in node.step.inputs.values():
                if not spec.default and (node.name, "input", spec.name) not in fed and not spec.optional:
                    raise self.error(spec.line, f"input {spec.name!r} of step {node.step.name!r} (node {node.name!r} "
                                                f"of {what}) has no 'default' URL and no edge feeds it; add one, "
                                                "or mark it optional")
        for edge in pipeline.edges:
            if edge.target_kind == "environment-variable":
                source = pipeline.nodes[edge.source].step.environment[edge.source_key]
                pipeline.nodes[edge.target].step.environment[edge.target_key] = source

    def check_cycles(self, pipeline: PipelineSpec) -> None:
        upstream: dict[str, list[Edge]] = {node: [] for node in pipeline.nodes}
        for edge in pipeline.edges:
            upstream[edge.target].append(edge)
        state: dict[str, str] = {}

        def visit(node: str, path: list[str]) -> None:
            if state.get(node) == "done":
                return
            if state.get(node) == "visiting":
                cycle = path[path.index(node):] + [node]
                line = next((e.line for e in pipeline.edges if e.target == cycle[1] and e.source == cycle[0]),
                            pipeline.line)
                raise self.error(line, f"the edges of pipeline {pipeline.name!r} make a cycle: " + " -> ".join(cycle))
            state[node] = "visiting"
            for edge in upstream[node]:
                visit(edge.source, [*path, node])
            state[node] = "done"

        for node in pipeline.nodes:
            visit(node, [])

    def resolve_parameters(self, pipeline: PipelineSpec, body: Map, what: str) -> None:
        """Decide which DAG Param each node parameter reads, and which parameters a sweep node maps over."""
        defs: dict[str, ParamDef] = {}
        for node in pipeline.nodes.values():
            pipeline.sources[node.name] = {}
            for spec in node.step.parameters.values():
                key = f"{node.task_id}.{spec.name}"
                defs[key] = ParamDef(key=key, spec=spec, default=spec.default,
                                     has_default=spec.default is not None or spec.optional,
                                     description=spec.description, line=spec.line)
                pipeline.sources[node.name][spec.name] = key
        for item, item_line in self.items(body, "parameters", what):
            item = self.mapping(item, item_line, f"a parameter of {what}", PIPELINE_PARAMETER_KEYS,
                                {"category": PARAMETER_NOTES["category"]})
            name = self.required_name(item, f"a parameter of {what}")
            targets = item.get("targets", item.get("target"))
            targets = [targets] if isinstance(targets, str) else targets or []
            if "target" in item and "targets" in item:
                raise self.error(item_line, f"parameter {name!r} of {what} has both 'target' and 'targets'; "
                                            "give one")
            if not targets:
                self.note(item_line, f"parameter {name!r} of {what} has no targets, so it reaches no step")
                continue
            first: ParameterSpec | None = None
            for target in targets:
                node, kind, param = self.endpoint(target, item_line, what)
                if kind != "parameter" or node not in pipeline.nodes:
                    raise self.error(item_line, f"target {target!r} of parameter {name!r} must be "
                                                "<node>.parameter.<name> of a node of " + what
                                     + self.suggest(node, pipeline.nodes))
                step = pipeline.nodes[node].step
                if param not in step.parameters:
                    raise self.error(item_line, f"target {target!r} of parameter {name!r}: step {step.name!r} has "
                                                f"no parameter {param!r}{self.suggest(param, step.parameters)}")
                pipeline.sources[node][param] = name
                first = first or step.parameters[param]
            default_key = "value" if "value" in item else "default"
            has_default = item.get(default_key) is not None
            defs[name] = ParamDef(key=name, spec=first, default=item.get(default_key) if has_default else first.default,
                                  has_default=has_default or first.default is not None or first.optional,
                                  description=item.get("description") or first.description, line=item_line)
        order = topological_order(pipeline)
        for node_name in order:  # parameter edges: the target reads the source's value
            for edge in pipeline.edges:
                if edge.target == node_name and edge.target_kind == "parameter":
                    pipeline.sources[edge.target][edge.target_key] = pipeline.sources[edge.source][edge.source_key]
        for node in pipeline.nodes.values():
            if node.type != "task":
                continue
            swept = {}
            for param, key in pipeline.sources[node.name].items():
                spec, default = node.step.parameters[param], defs[key].default
                if param in (node.variants[0] if node.variants else {}):
                    continue
                if isinstance(default, list) and not spec.multiple:
                    swept[param] = key
                    defs[key].sweep = True
            if not swept and not node.variants:
                raise self.error(node.line, f"task node {node.name!r} of {what} has nothing to sweep: give a "
                                            "parameter a list of values (in the node's override or a pipeline "
                                            "parameter), or name a '- task:' blueprint with 'task:'")
            pipeline.swept[node.name] = swept
        used: dict[str, list[tuple[str, str]]] = {}
        for node_name, sources in pipeline.sources.items():
            blueprint = pipeline.nodes[node_name].variants
            for param, key in sources.items():
                if not (blueprint and param in blueprint[0]):
                    used.setdefault(key, []).append((node_name, param))
        for key, users in used.items():
            definition = defs[key]
            for node_name, param in users:
                spec = pipeline.nodes[node_name].step.parameters[param]
                sweep = definition.sweep and param in pipeline.swept.get(node_name, {})
                if definition.sweep and not sweep:
                    raise self.error(definition.line, f"parameter {key!r} is a list of values to sweep over for a "
                                                      f"task node, but node {node_name!r} takes one value")
                definition.default = self.value(spec, definition.default, definition.line,
                                                f"parameter {key!r} (for node {node_name!r})", sweep=sweep)
            if not definition.has_default and pipeline.schedule:
                raise self.error(definition.line, f"{what} runs on a schedule, but parameter {key!r} has no default; "
                                                  "give it one")
            pipeline.params[key] = definition


    def step_pipeline(self, step: StepSpec, taken: set[str]) -> PipelineSpec:
        """A steps-only file: a manually triggered DAG of one step, its parameters and inputs as Params."""
        dag_id = unique(slug(step.name), taken)
        node = NodeSpec(name=step.name, task_id=dag_id, step=replace(step), type="execution", line=step.line)
        pipeline = PipelineSpec(name=step.name, dag_id=dag_id, nodes={step.name: node}, edges=[], schedule=None,
                                description=step.description, tags=["step"], start_date=None, catchup=False,
                                store=None, line=step.line, node_lines={step.name: step.line})
        pipeline.sources[step.name] = {}
        for spec in step.parameters.values():
            pipeline.params[spec.name] = ParamDef(key=spec.name, spec=spec, default=spec.default,
                                                  has_default=spec.default is not None or spec.optional,
                                                  description=spec.description, line=spec.line)
            pipeline.sources[step.name][spec.name] = spec.name
        pipeline.input_params[step.name] = {}
        for spec in step.inputs.values():
            key = f"input.{spec.name}"
            if key in pipeline.params:
                raise self.error(spec.line, f"input {spec.name!r} and parameter {key!r} of step {step.name!r} "
                                            "would share one trigger field; rename one")
            url = ParameterSpec(name=key, type="string", multiple="repeat", optional=spec.optional)
            pipeline.params[key] = ParamDef(
                key=key, spec=url, default=list(spec.default), has_default=bool(spec.default) or spec.optional,
                description=spec.description or f"URLs (or wildcards) of input {spec.name!r}", line=spec.line)
            pipeline.input_params[step.name][spec.name] = key
        return pipeline
