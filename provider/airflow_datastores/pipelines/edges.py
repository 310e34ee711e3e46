"""A pipeline's edges: ``<node>.<kind>.<name>`` ends, the kinds Airflow can carry, and the checks on them
(nodes and names exist, each slot is fed once, no cycles, every required input is fed)."""

from __future__ import annotations

from typing import Any

from airflow_datastores.pipelines.keys import DEPLOYMENT_HELP, EDGE_KEYS, EDGE_NOTES
from airflow_datastores.pipelines.model import Edge, PipelineSpec
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.yamlfile import Map

EDGE_KINDS = {("output", "input"), ("input", "input"), ("parameter", "parameter"),
              ("environment-variable", "environment-variable"), ("dependency", "dependency")}


def endpoint(reader: Reader, text: Any, line: int, what: str) -> tuple[str, str, str]:
    """``node.kind.name`` -> (node, kind, name); the name may be empty (``node.dependency``)."""
    if not isinstance(text, str) or text.count(".") < 1:
        raise reader.error(line, f"edge end {text!r} of {what} must look like <node>.<kind>.<name>, e.g. "
                                 "train.input.data")
    node, kind, key = (text.split(".", 2) + [""])[:3]
    return node, kind, key


def read_edge(reader: Reader, item: Any, line: int, what: str) -> Edge:
    """An edge of the pipeline ``what``: a pair ``[source, target]`` or a mapping ``{source, target}``."""
    if isinstance(item, Map):
        reader.mapping(item, line, f"an edge of {what}", EDGE_KEYS, EDGE_NOTES)
        if "source" not in item or "target" not in item:
            raise reader.error(line, f"an edge of {what} needs 'source' and 'target'")
        source, target = item["source"], item["target"]
    elif isinstance(item, list) and len(item) == 2:
        source, target = item
    else:
        raise reader.error(line, f"an edge of {what} must be a pair [<node>.output.<path>, <node>.input.<name>] "
                                 "or a mapping {source: ..., target: ...}")
    src_node, src_kind, src_key = endpoint(reader, source, line, what)
    dst_node, dst_kind, dst_key = endpoint(reader, target, line, what)
    if "deployment" in (src_kind, dst_kind) or dst_kind == "file":
        raise reader.error(line, f"the edge {source} -> {target} feeds a deployment. {DEPLOYMENT_HELP}")
    if src_kind == "metadata":
        raise reader.error(line, f"the edge {source} -> {target} reads Valohai execution metadata, which Airflow "
                                 "does not collect; have the step write the value to a file in $DATASTORE_OUTPUTS "
                                 "and feed that file to an input with an output edge")
    if (src_kind, dst_kind) not in EDGE_KINDS:
        kinds = ", ".join(f"{a}->{b}" for a, b in sorted(EDGE_KINDS))
        raise reader.error(line, f"the edge {source} -> {target} goes from {src_kind!r} to {dst_kind!r}; the "
                                 f"supported kinds are {kinds}")
    if dst_kind != "dependency" and not dst_key:
        raise reader.error(line, f"edge target {target!r} must name the {dst_kind}: <node>.{dst_kind}.<name>")
    return Edge(source=src_node, source_kind=src_kind, source_key=src_key.rstrip("*")
                if src_kind in ("input", "parameter", "environment-variable") else src_key,
                target=dst_node, target_kind=dst_kind, target_key=dst_key, line=line)


def check_edges(reader: Reader, pipeline: PipelineSpec) -> None:
    """The edges checked against the nodes; then environment-variable edges copy their values over."""
    what = f"pipeline {pipeline.name!r}"
    fed: dict[tuple[str, str, str], Edge] = {}  # (node, kind, name) -> the edge that feeds it
    for edge in pipeline.edges:
        _check_ends(reader, pipeline, edge, what)
        if edge.target_kind == "dependency":
            continue
        slot = (edge.target, edge.target_kind, edge.target_key)
        if slot in fed:
            raise reader.error(edge.line, f"{edge.target_kind} {edge.target_key!r} of node {edge.target!r} is "
                                          f"already fed by the edge on line {fed[slot].line}")
        fed[slot] = edge
    check_cycles(reader, pipeline)
    for node in pipeline.nodes.values():
        for spec in node.step.inputs.values():
            if not spec.default and (node.name, "input", spec.name) not in fed and not spec.optional:
                raise reader.error(spec.line, f"input {spec.name!r} of step {node.step.name!r} (node {node.name!r} "
                                              f"of {what}) has no 'default' URL and no edge feeds it; add one, "
                                              "or mark it optional")
    for edge in pipeline.edges:
        if edge.target_kind == "environment-variable":
            source = pipeline.nodes[edge.source].step.environment[edge.source_key]
            pipeline.nodes[edge.target].step.environment[edge.target_key] = source


def _check_ends(reader: Reader, pipeline: PipelineSpec, edge: Edge, what: str) -> None:
    """Both nodes of ``edge`` exist, and so does the input, parameter or variable it names at each end
    (an environment variable it feeds may be new)."""
    for node in (edge.source, edge.target):
        if node not in pipeline.nodes:
            raise reader.error(edge.line, f"edge names node {node!r}, which is not a node of {what}"
                                          f"{suggest(node, pipeline.nodes)}")
    for node, kind, key in ((edge.source, edge.source_kind, edge.source_key),
                            (edge.target, edge.target_kind, edge.target_key)):
        step = pipeline.nodes[node].step
        names = {"input": step.inputs, "parameter": step.parameters,
                 "environment-variable": step.environment}.get(kind)
        if names is None or (kind == "environment-variable" and node == edge.target):
            continue
        if key not in names:
            noun = kind.replace("-", " ")
            raise reader.error(edge.line, f"edge {'feeds' if node == edge.target else 'reads'} {noun} {key!r} "
                                          f"of node {node!r}, but step {step.name!r} has no such {noun}"
                                          f"{suggest(key, names)}")


def check_cycles(reader: Reader, pipeline: PipelineSpec) -> None:
    """An error naming the first cycle the edges make, on the line of its first edge."""
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
            raise reader.error(line, f"the edges of pipeline {pipeline.name!r} make a cycle: " + " -> ".join(cycle))
        state[node] = "visiting"
        for edge in upstream[node]:
            visit(edge.source, [*path, node])
        state[node] = "done"

    for node in pipeline.nodes:
        visit(node, [])
