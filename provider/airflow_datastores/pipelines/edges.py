"""A pipeline's edges: ``<node>.<kind>.<name>`` ends, what each kind carries here, and the checks Valohai's
parser does not make (the nodes exist, no cycles).

Several edges may feed one input (their files are staged together); a parameter or environment
variable fed twice takes the last edge's value, as written later in the file (noted). An edge that names
an input or parameter its step does not have carries nothing (noted, with a did-you-mean); it still
orders its nodes.
"""

from __future__ import annotations

from valohai_yaml.objs.pipelines import Edge as ValohaiEdge

from airflow_datastores.pipelines.model import Edge, PipelineSpec
from airflow_datastores.pipelines.reader import Reader, suggest

#: What each (source kind, target kind) carries; every edge also orders its two nodes.
EDGE_KINDS = {("output", "input"): "the files of the version the source commits",
              ("input", "input"): "the same URLs as the source's input",
              ("parameter", "parameter"): "the same value",
              ("metadata", "parameter"): "the last value of a metadata key the source printed",
              ("environment-variable", "environment-variable"): "the same value",
              ("dependency", "dependency"): "order only"}


def read_edge(reader: Reader, edge: ValohaiEdge, line: int, what: str) -> Edge:
    """An edge of the pipeline ``what`` (Valohai's ``Edge``, on ``line``). One that carries nothing Airflow
    can (a kind pair not in :data:`EDGE_KINDS`) is noted and kept as a dependency: it orders its nodes."""
    kinds = (edge.source_type, edge.target_type)
    if {"deployment", "file", "dependency"} & set(kinds):  # order only (into a deployment: skipped with it)
        return Edge(source=edge.source_node, source_kind="dependency", source_key="", target=edge.target_node,
                    target_kind="dependency", target_key="", line=line)
    if kinds not in EDGE_KINDS:
        known = {"dependency", "environment-variable", "input", "metadata", "output", "parameter"}
        for kind in kinds:
            if kind not in known:
                raise reader.error(line, f"the edge {edge.source} -> {edge.target} of {what} has kind {kind!r}"
                                         f"{suggest(kind, known)}; an edge end is <node>.<kind>.<name> with kind "
                                         f"one of {', '.join(sorted(known))}")
        supported = "; ".join(f"{a} -> {b}: {text}" for (a, b), text in EDGE_KINDS.items())
        reader.note(line, f"the edge {edge.source} -> {edge.target} of {what} goes from {kinds[0]!r} to "
                          f"{kinds[1]!r}, which carries nothing here; it only orders the nodes ({supported})",
                    key=f"edge:{edge.source}->{edge.target}")
        return Edge(source=edge.source_node, source_kind="dependency", source_key="", target=edge.target_node,
                    target_kind="dependency", target_key="", line=line)
    if edge.target_type != "dependency" and not edge.target_key:
        raise reader.error(line, f"edge target {edge.target!r} of {what} must name the {edge.target_type}: "
                                 f"<node>.{edge.target_type}.<name>")
    source_key = edge.source_key
    if edge.source_type in ("input", "parameter", "environment-variable"):
        source_key = source_key.rstrip("*")
    return Edge(source=edge.source_node, source_kind=edge.source_type, source_key=source_key,
                target=edge.target_node, target_kind=edge.target_type, target_key=edge.target_key, line=line)


def check_edges(reader: Reader, pipeline: PipelineSpec, *, known: set[str]) -> None:
    """The edges checked against the nodes (``known``: every node of the file's pipeline, skipped ones
    too); then environment-variable edges copy their values over."""
    what = f"pipeline {pipeline.name!r}"
    fed: dict[tuple[str, str, str], Edge] = {}  # (node, kind, name) -> the edge that feeds it
    for edge in pipeline.edges:
        _check_ends(reader, pipeline, edge, what, known)
    for edge in pipeline.edges:
        if edge.target_kind in ("dependency", "input"):
            continue
        slot = (edge.target, edge.target_kind, edge.target_key)
        if slot in fed:
            reader.note(edge.line, f"{edge.target_kind.replace('-', ' ')} {edge.target_key!r} of node "
                                   f"{edge.target!r} is also fed by the edge on line {fed[slot].line}; this later "
                                   "edge's value is the one it takes", key=f"fed:{slot}")
        fed[slot] = edge
    check_cycles(reader, pipeline)
    for edge in pipeline.edges:
        if edge.target_kind == "environment-variable":
            source = pipeline.nodes[edge.source].step.environment.get(edge.source_key)
            if source is not None:
                pipeline.nodes[edge.target].step.environment[edge.target_key] = source


def fed_inputs(pipeline: PipelineSpec, node: str) -> dict[str, list[Edge]]:
    """Input name -> the edges that feed it, in the file's order."""
    found: dict[str, list[Edge]] = {}
    for edge in pipeline.edges:
        if edge.target == node and edge.target_kind == "input":
            found.setdefault(edge.target_key, []).append(edge)
    return found


def _check_ends(reader: Reader, pipeline: PipelineSpec, edge: Edge, what: str, known: set[str]) -> None:
    """Both nodes of ``edge`` exist, and so does the input, parameter or variable it names at each end
    (an environment variable it feeds may be new; metadata keys are whatever the source prints)."""
    for node in (edge.source, edge.target):
        if node not in pipeline.nodes:
            raise reader.error(edge.line, f"edge names node {node!r}, which is not a node of {what}"
                                          f"{suggest(node, known)}")
    for node, kind, key in ((edge.source, edge.source_kind, edge.source_key),
                            (edge.target, edge.target_kind, edge.target_key)):
        step = pipeline.nodes[node].step
        names = {"input": step.inputs, "parameter": step.parameters,
                 "environment-variable": step.environment}.get(kind)
        if names is None or (kind == "environment-variable" and node == edge.target):
            continue
        if key not in names:
            noun = kind.replace("-", " ")
            reader.note(edge.line, f"the edge {'feeds' if node == edge.target else 'reads'} {noun} {key!r} of node "
                                   f"{node!r}, but step {step.name!r} has no such {noun}{suggest(key, names)}; it "
                                   "carries nothing and only orders the nodes", key=f"end:{node}.{kind}.{key}")
            edge.source_kind = edge.target_kind = "dependency"
            edge.source_key = edge.target_key = ""
            return


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
