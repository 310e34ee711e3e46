"""Reading a pipeline file (Valohai's ``valohai.yaml`` shape) into checked specs, naming file:line.

The file's items are read by kind: steps (:mod:`.steps`), task blueprints (:mod:`.tasks`) and pipelines
(:mod:`.nodes`, :mod:`.edges`, :mod:`.pipeline_parameters`). A file without pipelines makes one DAG per step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.model import NodeSpec, ParamDef, ParameterSpec, PipelineSpec, StepSpec
from airflow_datastores.pipelines.nodes import Tasks, read_pipeline
from airflow_datastores.pipelines.reader import Reader, slug, suggest, unique
from airflow_datastores.pipelines.steps import read_step
from airflow_datastores.pipelines.tasks import read_task
from airflow_datastores.pipelines.yamlfile import List, Map, load_yaml

Items = list[tuple[Any, int]]  # (an item's body, its line)


def read_file(reader: Reader) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
    """The file's steps by name, and one :class:`PipelineSpec` per DAG it makes."""
    steps, raw_tasks, raw_pipelines = _read_items(reader, _document(reader))
    tasks = _read_tasks(reader, raw_tasks, steps)
    pipelines = [read_pipeline(reader, body, line, steps, tasks) for body, line in raw_pipelines]
    _note_unused_tasks(reader, tasks, pipelines)
    taken: set[str] = set()
    for pipeline in pipelines:  # "Train" and "train" are two Valohai pipelines: train, train_2
        pipeline.dag_id = unique(pipeline.dag_id, taken)
    if not raw_pipelines:  # Valohai users run steps on their own: one manual DAG per step
        pipelines = [step_pipeline(reader, step, taken) for step in steps.values()]
    return steps, pipelines


def _document(reader: Reader) -> List:
    try:
        with open(reader.path) as handle:
            text = handle.read()
    except OSError as err:
        raise PipelineError(f"{reader.path}: cannot read the pipeline file ({err.strerror})") from None
    document = load_yaml(text, name=reader.name)
    if document is None:
        raise reader.error(1, "the file is empty; it needs a list of '- step:' and '- pipeline:' items")
    if not isinstance(document, List):
        raise reader.error(getattr(document, "line", 1),
                           "the file must be a list of '- step:' and '- pipeline:' items")
    return document


def _read_items(reader: Reader, document: List) -> tuple[dict[str, StepSpec], Items, Items]:
    """The steps, read; the tasks and pipelines, set aside until every step is known."""
    steps: dict[str, StepSpec] = {}
    raw_tasks: Items = []
    raw_pipelines: Items = []
    for item, line in zip(document, document.item_lines, strict=True):
        if not isinstance(item, Map) or len(item) != 1:
            raise reader.error(line, "each item must be a single 'step:' or 'pipeline:'")
        kind, body = next(iter(item.items()))
        if kind == "step":
            step = read_step(reader, body, line)
            if step.name in steps:
                raise reader.error(line, f"a step named {step.name!r} is already defined on line "
                                         f"{steps[step.name].line}")
            steps[step.name] = step
        elif kind == "pipeline":
            raw_pipelines.append((body, line))
        elif kind == "task":
            raw_tasks.append((body, line))
        elif kind in ("endpoint", "deployment"):
            reader.note(line, f"{kind}: Airflow does not deploy Valohai {kind}s; the item is skipped")
        else:
            raise reader.error(line, f"unknown item {kind!r}{suggest(kind, ('step', 'pipeline', 'task'))}"
                                     "; use 'step', 'pipeline' or 'task'")
    return steps, raw_tasks, raw_pipelines


def _read_tasks(reader: Reader, raw_tasks: Items, steps: dict[str, StepSpec]) -> Tasks:
    """Each blueprint by name; one that cannot be read is kept as its error."""
    tasks: Tasks = {}
    for body, line in raw_tasks:
        name = body.get("name") if isinstance(body, Map) else None
        try:
            blueprint = read_task(reader, body, line, steps)
        except PipelineError as err:  # raised if a node uses it; a blueprint no node uses is skipped
            if not isinstance(name, str) or reader.strict:  # strict: a note inside it is an error at once
                raise
            tasks[name] = err
        else:
            tasks[blueprint.name] = blueprint
    return tasks


def _note_unused_tasks(reader: Reader, tasks: Tasks, pipelines: list[PipelineSpec]) -> None:
    used = {n.blueprint for p in pipelines for n in p.nodes.values() if n.blueprint}
    for name, blueprint in tasks.items():
        if name in used:
            continue
        if isinstance(blueprint, PipelineError):  # "file:line: message"
            _, line, problem = str(blueprint).split(":", 2)
            reader.note(int(line), f"task {name!r} is used by no pipeline node, and could not run:{problem}",
                        key=f"task:{name}")
        else:
            reader.note(blueprint.line, f"task {name!r} is used by no pipeline node, so it makes no DAG",
                        key=f"task:{name}")


def step_pipeline(reader: Reader, step: StepSpec, taken: set[str]) -> PipelineSpec:
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
            raise reader.error(spec.line, f"input {spec.name!r} and parameter {key!r} of step {step.name!r} "
                                          "would share one trigger field; rename one")
        url = ParameterSpec(name=key, type="string", multiple="repeat", optional=spec.optional)
        pipeline.params[key] = ParamDef(
            key=key, spec=url, default=list(spec.default), has_default=bool(spec.default) or spec.optional,
            description=spec.description or f"URLs (or wildcards) of input {spec.name!r}", line=spec.line)
        pipeline.input_params[step.name][spec.name] = key
    return pipeline
