"""Reading a pipeline file (Valohai's ``valohai.yaml``) into checked specs, naming file:line.

1. The YAML, with lines (:mod:`.yamlfile`); a key written twice keeps its last value, noted.
2. Valohai's schema with our declared extension (:mod:`.schema`, :mod:`.extension`): a mistake stops the
   file, naming its line.
3. Valohai's own parser (``valohai_yaml.objs.Config``) reads the file as Valohai reads it; its lint's
   errors stop the file too. What Airflow does differently is noted (:mod:`.keys`).
4. Our translation of its steps (:mod:`.steps`), task blueprints (:mod:`.tasks`) and pipelines
   (:mod:`.nodes`, :mod:`.edges`, :mod:`.pipeline_parameters`); a file without pipelines makes one DAG
   per step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from valohai_yaml.objs import Config
from valohai_yaml.objs.input import Input
from valohai_yaml.objs.parameter import Parameter
from valohai_yaml.objs.pipelines import Edge as ValohaiEdge, Node

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.extension import valohai_view
from airflow_datastores.pipelines.keys import DEPLOYMENT_HELP, note_valohai_only_keys
from airflow_datastores.pipelines.model import NodeSpec, ParamDef, PipelineSpec, StepSpec
from airflow_datastores.pipelines.nodes import read_pipeline
from airflow_datastores.pipelines.pipeline_parameters import input_param
from airflow_datastores.pipelines.reader import Reader, slug, suggest, unique
from airflow_datastores.pipelines.schema import check_schema, describe
from airflow_datastores.pipelines.steps import read_step
from airflow_datastores.pipelines.tasks import read_task
from airflow_datastores.pipelines.yamlfile import load_yaml

#: The top-level items in the order Valohai's parser looks for them (an item with two keys is its first).
ITEMS = ("step", "task", "endpoint", "pipeline", "blueprint", "deployment")
Found = dict[str, dict[str, tuple[int, Any]]]  # kind -> name -> (index in the file, its mapping)


def read_file(reader: Reader) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
    """The file's steps by name, and one :class:`PipelineSpec` per DAG it makes."""
    document = _document(reader)
    check_schema(reader, document)
    found = _items(reader, document)
    config = _parse(reader, document)
    steps = {name: read_step(reader, config.steps[name], body) for name, (_, body) in found["step"].items()}
    tasks = {name: read_task(reader, config.tasks[name], [index, "task"], steps)
             for name, (index, body) in found["task"].items()}
    pipelines = [read_pipeline(reader, config.pipelines[name], body, [index, kind], steps, tasks)
                 for name, (index, body, kind) in found["pipeline"].items()]
    _note_unused_tasks(reader, tasks, pipelines)
    _check_lint(reader, config, document)
    pipelines = [p for p in pipelines if p.nodes]
    taken: set[str] = set()
    for pipeline in pipelines:  # "Train" and "train" are two Valohai pipelines: train, train_2
        pipeline.dag_id = unique(pipeline.dag_id, taken)
    if not found["pipeline"]:  # Valohai users run steps on their own: one manual DAG per step
        pipelines = [step_pipeline(reader, step, taken) for step in steps.values()]
    return steps, pipelines


def _document(reader: Reader) -> list:
    try:
        with open(reader.path) as handle:
            text = handle.read()
    except OSError as err:
        raise PipelineError(f"{reader.path}: cannot read the pipeline file ({err.strerror})") from None
    document, repeated = load_yaml(text, name=reader.name)
    if document is None:
        raise reader.error(1, "the file is empty; it needs a list of '- step:' and '- pipeline:' items")
    reader.document = document
    for key in repeated:
        reader.note(key.last, f"key {key.key!r} is written twice in one mapping (also on line {key.first}); the "
                              "last one is used, as Valohai reads it", key=f"repeated:{key.key}")
    return document


def _items(reader: Reader, document: list) -> Found:
    """The file's items by kind and name (a name given twice: the last one, noted, as Valohai keeps it);
    endpoints, deployments and items of no kind noted and skipped."""
    found: Found = {"step": {}, "task": {}, "pipeline": {}}
    for index, item in enumerate(document):
        kind = next((k for k in ITEMS if k in item), None)
        line = reader.line([index])
        note_valohai_only_keys(reader, document, index)
        if kind is None:
            keys = ", ".join(map(repr, item)) or "nothing"
            reader.note(line, f"item {index + 1} of the file is none of {', '.join(ITEMS[:4])} (it has {keys}"
                              f"{suggest(next(iter(item), ''), ITEMS)}); it is skipped, as Valohai skips it",
                        key=f"item:{index}")
            continue
        if kind in ("endpoint", "deployment"):
            reader.note(line, f"{kind}: Airflow does not deploy Valohai {kind}s ({DEPLOYMENT_HELP}); the item "
                              "is skipped", key=f"item:{index}")
            continue
        body = item[kind]
        group = "pipeline" if kind == "blueprint" else kind
        name = body.get("name")
        if name in found[group]:
            reader.note(line, f"a {group} named {name!r} is already defined on line "
                              f"{reader.line([found[group][name][0]])}; the last one is used, as Valohai does",
                        key=f"duplicate:{group}:{name}")
        found[group][name] = (index, body, kind) if group == "pipeline" else (index, body)
    return found


def _parse(reader: Reader, document: list) -> Config:
    """Valohai's own parse of the file; a value its parser refuses stops the file, naming the item."""
    view = valohai_view(document)
    try:
        return Config.parse(view)
    except Exception as err:  # noqa: BLE001 - its parser's errors are ValueError, TypeError, KeyError ...
        for path, parse in _parts(view):
            try:
                parse()
            except Exception as part_error:  # noqa: BLE001
                raise reader.error(reader.line(path), f"{describe(document, path)}: {part_error}") from None
        raise reader.error(1, f"Valohai's parser refuses the file: {err}") from None


def _parts(view: list):
    """(path, a function parsing that part of the file with Valohai's parser), smallest parts first."""
    for index, item in enumerate(view):
        for kind, body in item.items():
            if not isinstance(body, dict):
                continue
            for key, parser in (("parameters", Parameter.parse), ("inputs", Input.parse),
                                ("edges", ValohaiEdge.parse), ("nodes", Node.parse_qualifying)):
                for position, part in enumerate(body.get(key) or ()):
                    yield [index, kind, key, position], lambda p=part, f=parser: f(p)
        yield [index], lambda i=item: Config.parse([i])


def _check_lint(reader: Reader, config: Config, document: list) -> None:
    """Valohai's lint: an error it finds that our own checks did not stops the file, on the line of the
    item it names."""
    result = config.lint()
    for message in result.messages:
        if message["type"] != "error":
            continue
        text = message["message"]
        lines = [reader.line([i]) for i, item in enumerate(document)
                 for body in item.values() if isinstance(body, dict) and str(body.get("name")) in text]
        raise reader.error(min(lines, default=1), f"Valohai's lint: {text}")


def _note_unused_tasks(reader: Reader, tasks: dict, pipelines: list[PipelineSpec]) -> None:
    used = {n.blueprint for p in pipelines for n in p.nodes.values() if n.blueprint}
    for name, blueprint in tasks.items():
        if name not in used:
            why = f", and could not run: {blueprint.problem}" if blueprint.problem else ", so it makes no DAG"
            reader.note(blueprint.line, f"task {name!r} is used by no pipeline node{why}", key=f"task:{name}")


def step_pipeline(reader: Reader, step: StepSpec, taken: set[str]) -> PipelineSpec:
    """A steps-only file: a manually triggered DAG of one step, its parameters and inputs as Params."""
    dag_id = unique(slug(step.name), taken)
    node = NodeSpec(name=step.name, task_id=dag_id, step=replace(step), type="execution", line=step.line)
    pipeline = PipelineSpec(name=step.name, dag_id=dag_id, nodes={step.name: node}, edges=[], schedule=None,
                            description=step.description, tags=["step"], start_date=None, catchup=False,
                            store=None, line=step.line, node_lines={step.name: step.line}, steps_only=True)
    pipeline.sources[step.name] = {}
    for param in step.parameters.values():
        pipeline.params[param.name] = ParamDef(key=param.name, spec=param, default=param.default,
                                               has_default=param.default is not None or param.optional,
                                               description=param.description,
                                               line=step.parameter_lines.get(param.name, step.line))
        pipeline.sources[step.name][param.name] = param.name
    pipeline.input_params[step.name] = {}
    for spec in step.inputs.values():  # every input of a lone step is a field of the trigger form
        key = f"input.{spec.name}"
        if key in pipeline.params:
            raise reader.error(spec.line, f"input {spec.name!r} and parameter {key!r} of step {step.name!r} "
                                          "would share one trigger field; rename one")
        pipeline.params[key] = input_param(key, spec, has_default=bool(spec.default) or spec.optional)
        pipeline.input_params[step.name][spec.name] = key
    return pipeline
