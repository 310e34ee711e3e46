"""Which DAG Param each node parameter of a pipeline reads (its own, a pipeline parameter, or an upstream
node's through a parameter edge), and which parameters a task node sweeps over."""

from __future__ import annotations

from typing import Any

from airflow_datastores.pipelines.edges import endpoint
from airflow_datastores.pipelines.keys import PARAMETER_NOTES, PIPELINE_PARAMETER_KEYS
from airflow_datastores.pipelines.model import NodeSpec, ParamDef, ParameterSpec, PipelineSpec, topological_order
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.step_parameters import checked_value
from airflow_datastores.pipelines.yamlfile import Map


def resolve_parameters(reader: Reader, pipeline: PipelineSpec, body: Map, what: str) -> None:
    """Fill ``pipeline.sources``, ``pipeline.swept`` and ``pipeline.params`` from its nodes and ``parameters``."""
    defs = _node_parameters(pipeline)
    for item, item_line in reader.items(body, "parameters", what):
        definition = _pipeline_parameter(reader, pipeline, item, item_line, what)
        if definition is not None:
            defs[definition.key] = definition
    _follow_parameter_edges(pipeline)
    _find_sweeps(reader, pipeline, defs, what)
    _check_values(reader, pipeline, defs, what)


def _node_parameters(pipeline: PipelineSpec) -> dict[str, ParamDef]:
    """Each node parameter as its own Param ``<task_id>.<name>``, until a pipeline parameter claims it."""
    defs: dict[str, ParamDef] = {}
    for node in pipeline.nodes.values():
        pipeline.sources[node.name] = {}
        for spec in node.step.parameters.values():
            key = f"{node.task_id}.{spec.name}"
            defs[key] = ParamDef(key=key, spec=spec, default=spec.default,
                                 has_default=spec.default is not None or spec.optional,
                                 description=spec.description, line=spec.line)
            pipeline.sources[node.name][spec.name] = key
    return defs


def _pipeline_parameter(reader: Reader, pipeline: PipelineSpec, item: Any, line: int, what: str) -> ParamDef | None:
    """A pipeline ``parameters`` item: the Param its targets read; ``None`` (and a note) if it has none."""
    item = reader.mapping(item, line, f"a parameter of {what}", PIPELINE_PARAMETER_KEYS,
                          {"category": PARAMETER_NOTES["category"]})
    name = reader.required_name(item, f"a parameter of {what}")
    targets = item.get("targets", item.get("target"))
    targets = [targets] if isinstance(targets, str) else targets or []
    if "target" in item and "targets" in item:
        raise reader.error(line, f"parameter {name!r} of {what} has both 'target' and 'targets'; give one")
    if not targets:
        reader.note(line, f"parameter {name!r} of {what} has no targets, so it reaches no step")
        return None
    first = _bind_targets(reader, pipeline, name, targets, line, what)
    default_key = "value" if "value" in item else "default"
    has_default = item.get(default_key) is not None
    return ParamDef(key=name, spec=first, default=item.get(default_key) if has_default else first.default,
                    has_default=has_default or first.default is not None or first.optional,
                    description=item.get("description") or first.description, line=line)


def _bind_targets(reader: Reader, pipeline: PipelineSpec, name: str, targets: list, line: int,
                  what: str) -> ParameterSpec:
    """Point each ``<node>.parameter.<name>`` target at the Param ``name``; the first target's spec."""
    first: ParameterSpec | None = None
    for target in targets:
        node, kind, param = endpoint(reader, target, line, what)
        if kind != "parameter" or node not in pipeline.nodes:
            raise reader.error(line, f"target {target!r} of parameter {name!r} must be "
                                     "<node>.parameter.<name> of a node of " + what
                               + suggest(node, pipeline.nodes))
        step = pipeline.nodes[node].step
        if param not in step.parameters:
            raise reader.error(line, f"target {target!r} of parameter {name!r}: step {step.name!r} has "
                                     f"no parameter {param!r}{suggest(param, step.parameters)}")
        pipeline.sources[node][param] = name
        first = first or step.parameters[param]
    return first


def _follow_parameter_edges(pipeline: PipelineSpec) -> None:
    """A parameter edge's target reads whatever Param its source reads (upstream nodes first)."""
    for node_name in topological_order(pipeline):
        for edge in pipeline.edges:
            if edge.target == node_name and edge.target_kind == "parameter":
                pipeline.sources[edge.target][edge.target_key] = pipeline.sources[edge.source][edge.source_key]


def _fixed_by_blueprint(node: NodeSpec, param: str) -> bool:
    """The node's task blueprint gives ``param`` its values (each variant has it)."""
    return bool(node.variants) and param in node.variants[0]


def _find_sweeps(reader: Reader, pipeline: PipelineSpec, defs: dict[str, ParamDef], what: str) -> None:
    """A task node sweeps over each parameter whose Param default is a list (and takes one value)."""
    for node in pipeline.nodes.values():
        if node.type != "task":
            continue
        swept = {}
        for param, key in pipeline.sources[node.name].items():
            if _fixed_by_blueprint(node, param):
                continue
            if isinstance(defs[key].default, list) and not node.step.parameters[param].multiple:
                swept[param] = key
                defs[key].sweep = True
        if not swept and not node.variants:
            raise reader.error(node.line, f"task node {node.name!r} of {what} has nothing to sweep: give a "
                                          "parameter a list of values (in the node's override or a pipeline "
                                          "parameter), or name a '- task:' blueprint with 'task:'")
        pipeline.swept[node.name] = swept


def _check_values(reader: Reader, pipeline: PipelineSpec, defs: dict[str, ParamDef], what: str) -> None:
    """Each Param some node reads: its default checked against every parameter that reads it, then kept."""
    users: dict[str, list[tuple[str, str]]] = {}  # Param key -> the (node, parameter) pairs that read it
    for node_name, sources in pipeline.sources.items():
        for param, key in sources.items():
            if not _fixed_by_blueprint(pipeline.nodes[node_name], param):
                users.setdefault(key, []).append((node_name, param))
    for key, readers in users.items():
        definition = defs[key]
        for node_name, param in readers:
            spec = pipeline.nodes[node_name].step.parameters[param]
            sweep = definition.sweep and param in pipeline.swept.get(node_name, {})
            if definition.sweep and not sweep:
                raise reader.error(definition.line, f"parameter {key!r} is a list of values to sweep over for a "
                                                    f"task node, but node {node_name!r} takes one value")
            definition.default = checked_value(reader, spec, definition.default, definition.line,
                                               f"parameter {key!r} (for node {node_name!r})", sweep=sweep)
        if not definition.has_default and pipeline.schedule:
            raise reader.error(definition.line, f"{what} runs on a schedule, but parameter {key!r} has no default; "
                                                "give it one")
        pipeline.params[key] = definition
