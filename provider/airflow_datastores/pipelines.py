"""YAML steps and pipelines -> Airflow DAGs.

.. code-block:: yaml

    - step:
        name: preprocess
        command: [python preprocess.py]
        inputs:
          - {name: dataset, default: "s3://my-bucket/mnist/*.gz"}
        mounts:
          - {source: "fs-1234aa62.efs.eu-west-1.amazonaws.com:/", destination: /my-data, type: nfs}
    - step:
        name: train
        command: python train.py
        inputs:
          - {name: data}
    - pipeline:
        name: mnist
        schedule: "@daily"
        nodes:
          - {name: preprocess, step: preprocess}
          - {name: train, step: train}
        edges:
          - [preprocess.output.*.npz, train.input.data]

A DAG file of one line makes the dag-processor pick the pipelines up (keep the word "DAG" in it:
in safe mode Airflow only parses files that mention "airflow" and "dag")::

    from airflow_datastores.pipelines import load_pipelines; load_pipelines("mnist.yaml", namespace=globals())  # DAGs

Commands run in the YAML file's directory. ``file:relative/path`` input URLs are resolved against
that directory too. Every mistake is a :class:`PipelineError` naming the file and line.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import yaml

STEP_KEYS = ("name", "command", "inputs", "environment", "store", "on-input-change", "skip-if-unchanged", "mounts",
             "description")
INPUT_KEYS = ("name", "default", "optional", "keep-directories")
PIPELINE_KEYS = ("name", "nodes", "edges", "schedule", "description", "tags", "start-date", "catchup", "store")
NODE_KEYS = ("name", "step")
POLICIES = ("warn", "fail", "ignore")
KEEP = ("none", "full", "suffix")


class PipelineError(ValueError):
    """A mistake in a pipeline file; the message starts with ``file:line:``."""


# YAML with line numbers


class _Map(dict):
    line: int
    key_lines: dict


class _List(list):
    line: int
    item_lines: list


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line they start on (1-based)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise PipelineError(f"{key_node.start_mark.line + 1}: key {key!r} appears twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _List:
    result = _List(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# The model


@dataclass
class InputSpec:
    name: str
    default: list[str]
    optional: bool
    keep_directories: str
    line: int


@dataclass
class StepSpec:
    name: str
    command: list[str]
    inputs: dict[str, InputSpec]
    environment: dict[str, str]
    store: str | None
    on_input_change: str
    skip_if_unchanged: bool
    mounts: list
    description: str | None
    line: int


@dataclass
class Edge:
    source: str
    path: str
    target: str
    input: str
    line: int


@dataclass
class PipelineSpec:
    name: str
    nodes: dict[str, str]  # node name -> step name
    edges: list[Edge]
    schedule: str | None
    description: str | None
    tags: list[str]
    start_date: Any
    catchup: bool
    store: str | None
    line: int
    node_lines: dict[str, int] = field(default_factory=dict)


class _Reader:
    """Reads one file's steps and pipelines, reporting mistakes with the file and line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self.name = os.path.basename(path)

    def error(self, line: int, message: str) -> PipelineError:
        return PipelineError(f"{self.name}:{line}: {message}")

    def load(self) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
        try:
            with open(self.path) as handle:
                text = handle.read()
        except OSError as err:
            raise PipelineError(f"{self.path}: cannot read the pipeline file ({err.strerror})") from None
        try:
            document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        except PipelineError as err:
            raise PipelineError(f"{self.name}:{err}") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(err, "problem", None) or str(err)
            raise self.error(line, f"this is not valid YAML: {problem}") from None
        if document is None:
            raise self.error(1, "the file is empty; it needs a list of '- step:' and '- pipeline:' items")
        if not isinstance(document, _List):
            raise self.error(getattr(document, "line", 1),
                             "the file must be a list of '- step:' and '- pipeline:' items")
        steps: dict[str, StepSpec] = {}
        pipelines: list[PipelineSpec] = []
        for item, line in zip(document, document.item_lines):
            if not isinstance(item, _Map) or len(item) != 1:
                raise self.error(line, "each item must be a single 'step:' or 'pipeline:'")
            kind, body = next(iter(item.items()))
            if kind == "step":
                step = self.step(body, line)
                if step.name in steps:
                    raise self.error(line, f"a step named {step.name!r} is already defined on line "
                                           f"{steps[step.name].line}")
                steps[step.name] = step
            elif kind == "pipeline":
                pipelines.append(self.pipeline(body, line))
            else:
                raise self.error(line, f"unknown item {kind!r}{self.suggest(kind, ('step', 'pipeline'))}; "
                                       "use 'step' or 'pipeline'")
        for pipeline in pipelines:
            self.check_pipeline(pipeline, steps)
        return steps, pipelines

    # pieces

    def suggest(self, word: str, choices) -> str:
        close = difflib.get_close_matches(str(word), list(choices), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def mapping(self, value: Any, line: int, what: str, allowed: tuple[str, ...]) -> _Map:
        if not isinstance(value, _Map):
            raise self.error(line, f"{what} must be a mapping of keys to values")
        for key in value:
            if key not in allowed:
                raise self.error(value.key_lines[key], f"unknown key {key!r} in {what}"
                                                       f"{self.suggest(key, allowed)}; allowed: {', '.join(allowed)}")
        return value

    def required_name(self, value: _Map, what: str) -> str:
        name = value.get("name")
        if not name or not isinstance(name, str):
            raise self.error(value.line, f"{what} needs a 'name' (a string)")
        if not all(c.isalnum() or c in "-_." for c in name):
            raise self.error(value.key_lines["name"], f"{what} name {name!r} may only use letters, digits, '-', "
                                                      "'_' and '.'")
        return name

    def typed(self, value: _Map, key: str, types, what: str, default=None):
        if key not in value or value[key] is None:
            return default
        if not isinstance(value[key], types):
            names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise self.error(value.key_lines[key], f"{key!r} of {what} must be a {names}, not {value[key]!r}")
        return value[key]

    def url(self, url: Any, line: int, what: str) -> str:
        from airflow_datastores.stores.base import DataStoreError
        from airflow_datastores.stores.registry import split_url
        from airflow_datastores.versioning import parse_reference

        if not isinstance(url, str):
            raise self.error(line, f"{what}: {url!r} is not a URL")
        if url.startswith("file:") and not url.startswith("file://"):
            url = "file://" + os.path.normpath(os.path.join(self.directory, url[len("file:"):]))
        try:
            parse_reference(url) if url.startswith("datastore://") else split_url(url)
        except DataStoreError as err:
            raise self.error(line, f"{what}: {err}") from None
        return url

    def step(self, body: Any, line: int) -> StepSpec:
        body = self.mapping(body, line, "a step", STEP_KEYS)
        name = self.required_name(body, "a step")
        what = f"step {name!r}"
        command = body.get("command")
        if isinstance(command, str):
            command = [command]
        if not command or not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            raise self.error(body.key_lines.get("command", body.line),
                             f"{what} needs a 'command': a string or a list of strings")
        inputs: dict[str, InputSpec] = {}
        raw_inputs = self.typed(body, "inputs", list, what, default=_List())
        for item, item_line in zip(raw_inputs, getattr(raw_inputs, "item_lines", [])):
            spec = self.input(item, item_line, what)
            if spec.name in inputs:
                raise self.error(item_line, f"{what} has two inputs named {spec.name!r}")
            inputs[spec.name] = spec
        environment = self.typed(body, "environment", dict, what, default={})
        policy = self.typed(body, "on-input-change", str, what, default="warn")
        if policy not in POLICIES:
            raise self.error(body.key_lines["on-input-change"], f"on-input-change of {what} is {policy!r}; use one "
                                                                f"of {', '.join(POLICIES)}")
        mounts = self.typed(body, "mounts", list, what, default=[])
        if mounts:
            from airflow_datastores.mounts import MountError, parse_mounts

            for item, item_line in zip(mounts, mounts.item_lines):
                try:
                    parse_mounts([dict(item) if isinstance(item, dict) else item])
                except (MountError, ValueError, TypeError) as err:
                    raise self.error(item_line, f"mount of {what}: {err}") from None
        return StepSpec(
            name=name, command=command, inputs=inputs,
            environment={str(k): str(v) for k, v in environment.items()},
            store=self.typed(body, "store", str, what), on_input_change=policy,
            skip_if_unchanged=self.typed(body, "skip-if-unchanged", bool, what, default=False),
            mounts=[dict(m) if isinstance(m, dict) else m for m in mounts],
            description=self.typed(body, "description", str, what), line=line,
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
        keep = self.typed(item, "keep-directories", str, what, default="none")
        if keep not in KEEP:
            raise self.error(item.key_lines["keep-directories"], f"keep-directories of {what} is {keep!r}; use one "
                                                                 f"of {', '.join(KEEP)}")
        return InputSpec(name=name, default=urls, optional=self.typed(item, "optional", bool, what, default=False),
                         keep_directories=keep, line=line)

    def pipeline(self, body: Any, line: int) -> PipelineSpec:
        body = self.mapping(body, line, "a pipeline", PIPELINE_KEYS)
        name = self.required_name(body, "a pipeline")
        what = f"pipeline {name!r}"
        nodes: dict[str, str] = {}
        node_lines: dict[str, int] = {}
        raw_nodes = self.typed(body, "nodes", list, what)
        if not raw_nodes:
            raise self.error(body.key_lines.get("nodes", body.line), f"{what} needs 'nodes': a list of "
                                                                     "{name: ..., step: ...}")
        for item, item_line in zip(raw_nodes, raw_nodes.item_lines):
            item = self.mapping(item, item_line, f"a node of {what}", NODE_KEYS)
            node = self.required_name(item, f"a node of {what}")
            if node in nodes:
                raise self.error(item_line, f"{what} has two nodes named {node!r}")
            step = item.get("step")
            if not isinstance(step, str):
                raise self.error(item_line, f"node {node!r} of {what} needs a 'step' (the name of a step)")
            nodes[node], node_lines[node] = step, item_line
        edges = []
        raw_edges = self.typed(body, "edges", list, what, default=_List())
        for item, item_line in zip(raw_edges, getattr(raw_edges, "item_lines", [])):
            edges.append(self.edge(item, item_line, what))
        return PipelineSpec(
            name=name, nodes=nodes, edges=edges, schedule=self.typed(body, "schedule", str, what),
            description=self.typed(body, "description", str, what), tags=list(self.typed(body, "tags", list, what,
                                                                                        default=[])),
            start_date=body.get("start-date"), catchup=self.typed(body, "catchup", bool, what, default=False),
            store=self.typed(body, "store", str, what), line=line, node_lines=node_lines,
        )

    def edge(self, item: Any, line: int, what: str) -> Edge:
        if not isinstance(item, list) or len(item) != 2 or not all(isinstance(e, str) for e in item):
            raise self.error(line, f"an edge of {what} must be a pair [<node>.output.<path>, <node>.input.<name>]")
        source, target = item
        src_node, _, src_rest = source.partition(".output.")
        dst_node, _, dst_input = target.partition(".input.")
        if not src_rest and not source.endswith(".output"):
            raise self.error(line, f"edge source {source!r} must look like <node>.output.<path or wildcard>")
        if not dst_input:
            raise self.error(line, f"edge target {target!r} must look like <node>.input.<input name>")
        return Edge(source=src_node.removesuffix(".output"), path=src_rest, target=dst_node, input=dst_input, line=line)

    def check_pipeline(self, pipeline: PipelineSpec, steps: dict[str, StepSpec]) -> None:
        what = f"pipeline {pipeline.name!r}"
        for node, step in pipeline.nodes.items():
            if step not in steps:
                raise self.error(pipeline.node_lines[node], f"node {node!r} of {what} names step {step!r}, which is "
                                                            f"not defined{self.suggest(step, steps)}")
        fed: dict[tuple[str, str], Edge] = {}
        for edge in pipeline.edges:
            for node in (edge.source, edge.target):
                if node not in pipeline.nodes:
                    raise self.error(edge.line, f"edge names node {node!r}, which is not a node of {what}"
                                                f"{self.suggest(node, pipeline.nodes)}")
            step = steps[pipeline.nodes[edge.target]]
            if edge.input not in step.inputs:
                raise self.error(edge.line, f"edge feeds input {edge.input!r} of node {edge.target!r}, but step "
                                            f"{step.name!r} has no such input{self.suggest(edge.input, step.inputs)}")
            if (edge.target, edge.input) in fed:
                raise self.error(edge.line, f"input {edge.input!r} of node {edge.target!r} is already fed by the "
                                            f"edge on line {fed[(edge.target, edge.input)].line}")
            fed[(edge.target, edge.input)] = edge
        self.check_cycles(pipeline)
        for node, step_name in pipeline.nodes.items():
            for spec in steps[step_name].inputs.values():
                if not spec.default and (node, spec.name) not in fed and not spec.optional:
                    raise self.error(spec.line, f"input {spec.name!r} of step {step_name!r} (node {node!r} of "
                                                f"{what}) has no 'default' URL and no edge feeds it; add one, "
                                                "or mark it optional")

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
                line = next(e.line for e in pipeline.edges if e.target == cycle[1] and e.source == cycle[0]) \
                    if len(cycle) > 1 else pipeline.line
                raise self.error(line, f"the edges of pipeline {pipeline.name!r} make a cycle: "
                                       + " -> ".join(cycle))
            state[node] = "visiting"
            for edge in upstream[node]:
                visit(edge.source, [*path, node])
            state[node] = "done"

        for node in pipeline.nodes:
            visit(node, [])


# Building DAGs


def read_pipelines(path: str) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
    """Read and check a pipeline file without building DAGs."""
    return _Reader(path).load()


def load_pipelines(path: str, *, namespace: MutableMapping[str, Any] | None = None) -> dict[str, Any]:
    """Build one Airflow DAG per pipeline in the YAML file ``path``.

    :param path: the YAML file; a relative path is resolved against the calling file's directory.
    :param namespace: where to put the DAGs (pass ``globals()`` from the DAG file so the
        dag-processor finds them).
    :return: dag_id -> DAG.
    """
    if not os.path.isabs(path):
        caller = inspect.stack()[1].filename
        path = os.path.join(os.path.dirname(os.path.abspath(caller)), path)
    reader = _Reader(path)
    steps, pipelines = reader.load()
    dags = {p.name: _build_dag(p, steps, directory=reader.directory) for p in pipelines}
    if namespace is not None:
        for dag_id, dag in dags.items():
            namespace[f"dag_{''.join(c if c.isalnum() else '_' for c in dag_id)}"] = dag
    return dags


def _build_dag(pipeline: PipelineSpec, steps: Mapping[str, StepSpec], *, directory: str):
    import pendulum
    from airflow.sdk import DAG

    from airflow_datastores.operators import DatastoreStepOperator, outputs_of

    start = pipeline.start_date
    start_date = pendulum.instance(start) if hasattr(start, "year") and hasattr(start, "hour") else (
        pendulum.datetime(start.year, start.month, start.day, tz="UTC") if hasattr(start, "year")
        else pendulum.parse(str(start)) if start else pendulum.datetime(2026, 1, 1, tz="UTC"))
    with DAG(dag_id=pipeline.name, schedule=pipeline.schedule, start_date=start_date, catchup=pipeline.catchup,
             description=pipeline.description, tags=["datastores", "yaml", *pipeline.tags]) as dag:
        operators: dict[str, Any] = {}
        for node in _topological(pipeline):
            step = steps[pipeline.nodes[node]]
            inputs: dict[str, Any] = {}
            for spec in step.inputs.values():
                edge = next((e for e in pipeline.edges if e.target == node and e.input == spec.name), None)
                if edge is not None:
                    inputs[spec.name] = outputs_of(operators[edge.source], edge.path)
                elif spec.default:
                    inputs[spec.name] = {"urls": spec.default, "optional": spec.optional,
                                         "keep_directories": spec.keep_directories}
            operators[node] = DatastoreStepOperator(
                task_id=node, command=step.command, inputs=inputs, store=step.store or pipeline.store,
                mounts=step.mounts, on_input_change=step.on_input_change, skip_if_unchanged=step.skip_if_unchanged,
                environment=step.environment, cwd=directory, doc=step.description,
            )
    return dag


def _topological(pipeline: PipelineSpec) -> list[str]:
    order: list[str] = []
    remaining = dict.fromkeys(pipeline.nodes)
    while remaining:
        for node in list(remaining):
            if all(e.source in order for e in pipeline.edges if e.target == node):
                order.append(node)
                del remaining[node]
    return order
