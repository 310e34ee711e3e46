"""Which DAG Param each node parameter of a pipeline reads (its own, a pipeline parameter, or an upstream
node's through a parameter edge), which parameters a task node sweeps over, and which inputs are given
when the run is triggered (a required input nothing feeds, a Valohai ``datum://`` default)."""

from __future__ import annotations

from valohai_yaml.objs.parameter import Parameter
from valohai_yaml.objs.pipelines import Pipeline, PipelineParameter
from valohai_yaml.utils.node_socket_utils import split_socket_str

from airflow_datastores.pipelines.edges import fed_inputs
from airflow_datastores.pipelines.model import InputSpec, NodeSpec, ParamDef, PipelineSpec, topological_order
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.step_inputs import DATUM_SCHEME
from airflow_datastores.pipelines.step_parameters import checked_default
from airflow_datastores.pipelines.yamlfile import plain


def resolve_parameters(reader: Reader, pipeline: PipelineSpec, source: Pipeline, path: list, what: str) -> None:
    """Fill ``pipeline.sources``, ``swept``, ``params`` and ``input_params`` from its nodes and parameters."""
    defs = _node_parameters(pipeline)
    for index, item in enumerate(source.parameters):
        definition = _pipeline_parameter(reader, pipeline, item, [*path, "parameters", index], what)
        if definition is not None:
            defs[definition.key] = definition
    _follow_parameter_edges(pipeline)
    _find_sweeps(reader, pipeline, defs, what)
    _check_values(reader, pipeline, defs, what)
    trigger_inputs(reader, pipeline, what)


def trigger_inputs(reader: Reader, pipeline: PipelineSpec, what: str) -> None:
    """An input nothing feeds and that has no default, or whose default is a Valohai ``datum://``, is a
    Param ``<task id>.input.<name>``: the trigger form asks for its URLs. A required one left empty fails
    its task when it runs, naming it."""
    for node in pipeline.nodes.values():
        fed = fed_inputs(pipeline, node.name)
        pipeline.input_params.setdefault(node.name, {})
        for spec in node.step.inputs.values():
            datum = any(u.startswith(DATUM_SCHEME) for u in spec.default)
            if spec.name in fed or spec.download == "on-demand" or (spec.default and not datum):
                continue
            key = f"{node.task_id}.input.{spec.name}"
            if key in pipeline.params:
                raise reader.error(spec.line, f"input {spec.name!r} and parameter {key!r} of {what} would share "
                                              "one trigger field; rename one")
            if not spec.default and not spec.optional:
                reader.note(spec.line, f"input {spec.name!r} of node {node.name!r} of {what} has no default and no "
                                       f"edge feeds it: a run gives its URLs in {key!r}, else the node fails",
                            key=f"unfed:{key}")
            pipeline.params[key] = input_param(key, spec, has_default=True)
            pipeline.input_params[node.name][spec.name] = key


def input_param(key: str, spec: InputSpec, *, has_default: bool) -> ParamDef:
    """The Param ``key`` that holds the URLs of input ``spec`` (a list of strings), its default the input's."""
    text = spec.description or f"URLs (or wildcards) of input {spec.name!r}"
    if any(u.startswith(DATUM_SCHEME) for u in spec.default):
        text += " (a Valohai datum:// is looked up in [datastores] datums, then as an alias)"
    urls = Parameter(name=key, type="string", multiple="repeat", optional=spec.optional)
    return ParamDef(key=key, spec=urls, default=list(spec.default), has_default=has_default, description=text,
                    line=spec.line)


def _node_parameters(pipeline: PipelineSpec) -> dict[str, ParamDef]:
    """Each node parameter as its own Param ``<task_id>.<name>``, until a pipeline parameter claims it."""
    defs: dict[str, ParamDef] = {}
    for node in pipeline.nodes.values():
        pipeline.sources[node.name] = {}
        for param in node.step.parameters.values():
            key = f"{node.task_id}.{param.name}"
            defs[key] = ParamDef(key=key, spec=param, default=param.default,
                                 has_default=param.default is not None or param.optional,
                                 description=param.description,
                                 line=node.step.parameter_lines.get(param.name, node.line))
            pipeline.sources[node.name][param.name] = key
    return defs


def _pipeline_parameter(reader: Reader, pipeline: PipelineSpec, item: PipelineParameter, path: list,
                        what: str) -> ParamDef | None:
    """A pipeline ``parameters`` item: the Param its targets read; ``None`` (and a note) if it has none."""
    line = reader.line(path)
    if not item.targets:
        reader.note(line, f"parameter {item.name!r} of {what} has no targets, so it reaches no step")
        return None
    first = None
    for target in item.targets:
        node, kind, param = (split_socket_str(target) + ["", ""])[:3]
        if not kind.startswith("parameter") or node not in pipeline.nodes:  # Valohai takes `parameters` too
            raise reader.error(line, f"target {target!r} of parameter {item.name!r} must be "
                                     f"<node>.parameter.<name> of a node of {what}{suggest(node, pipeline.nodes)}")
        step = pipeline.nodes[node].step
        if param not in step.parameters:
            raise reader.error(line, f"target {target!r} of parameter {item.name!r}: step {step.name!r} has "
                                     f"no parameter {param!r}{suggest(param, step.parameters)}")
        pipeline.sources[node][param] = item.name
        first = first or step.parameters[param]
    has_default = item.default is not None
    return ParamDef(key=item.name, spec=first, default=plain(item.default) if has_default else first.default,
                    has_default=has_default or first.default is not None or first.optional,
                    description=item.description or first.description, line=line)


def _follow_parameter_edges(pipeline: PipelineSpec) -> None:
    """A parameter edge's target reads whatever Param its source reads (upstream nodes first)."""
    for node_name in topological_order(pipeline):
        for edge in pipeline.edges:
            if edge.target == node_name and edge.target_kind == "parameter" and edge.source_kind == "parameter":
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
        from_metadata = any(e.target == node.name and e.source_kind == "metadata" for e in pipeline.edges)
        if not swept and not node.variants and not node.problem and not from_metadata:
            reader.note(node.line, f"task node {node.name!r} of {what} has nothing to sweep (no parameter has a "
                                   "list of values), so it runs once with its parameters' values",
                        key=f"sweep:{node.name}")
        pipeline.swept[node.name] = swept


def _check_values(reader: Reader, pipeline: PipelineSpec, defs: dict[str, ParamDef], what: str) -> None:
    """Each Param some node reads: its default cast for every parameter that reads it, then kept."""
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
            definition.default = checked_default(reader, spec, definition.default, definition.line,
                                                 f"parameter {key!r} (for node {node_name!r})", sweep=sweep)
            if definition.default is None and not spec.optional and spec.type != "flag":
                definition.has_default = False
        if not definition.has_default and pipeline.schedule:
            raise reader.error(definition.line, f"{what} runs on a schedule, but parameter {key!r} has no default; "
                                                "give it one")
        pipeline.params[key] = definition
