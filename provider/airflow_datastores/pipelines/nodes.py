"""A ``- pipeline:`` item -> :class:`PipelineSpec`: its nodes (steps after their overrides, task blueprints),
then its edges and parameters checked against them."""

from __future__ import annotations

from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.edges import check_edges, read_edge
from airflow_datastores.pipelines.keys import DEPLOYMENT_HELP, NODE_KEYS, NODE_NOTES, PIPELINE_KEYS, PIPELINE_NOTES
from airflow_datastores.pipelines.model import NodeSpec, PipelineSpec, StepSpec, TaskBlueprint
from airflow_datastores.pipelines.pipeline_parameters import resolve_parameters
from airflow_datastores.pipelines.reader import Reader, slug, suggest, unique
from airflow_datastores.pipelines.steps import with_override
from airflow_datastores.pipelines.yamlfile import Map

Tasks = dict[str, TaskBlueprint | PipelineError]  # blueprint name -> it, or why it cannot run


def read_pipeline(reader: Reader, body: Any, line: int, steps: dict[str, StepSpec], tasks: Tasks) -> PipelineSpec:
    """A pipeline over ``steps`` and ``tasks``, checked and with its parameters resolved."""
    body = reader.mapping(body, line, "a pipeline", PIPELINE_KEYS, PIPELINE_NOTES)
    name = reader.required_name(body, "a pipeline")
    what = f"pipeline {name!r}"
    nodes: dict[str, NodeSpec] = {}
    ids: set[str] = set()
    raw_nodes = reader.typed(body, "nodes", list, what)
    if not raw_nodes:
        raise reader.error(body.key_lines.get("nodes", body.line), f"{what} needs 'nodes': a list of "
                                                                   "{name: ..., step: ...}")
    for item, item_line in zip(raw_nodes, raw_nodes.item_lines, strict=True):
        node = read_node(reader, item, item_line, what, steps, tasks, ids)
        if node.name in nodes:
            raise reader.error(item_line, f"{what} has two nodes named {node.name!r}")
        nodes[node.name] = node
    edges = [read_edge(reader, item, item_line, what) for item, item_line in reader.items(body, "edges", what)]
    pipeline = PipelineSpec(
        name=name, dag_id=slug(name), nodes=nodes, edges=edges, schedule=reader.typed(body, "schedule", str, what),
        description=reader.typed(body, "description", str, what),
        tags=[str(t) for t in reader.typed(body, "tags", list, what, default=[])],
        start_date=body.get("start-date"), catchup=reader.typed(body, "catchup", bool, what, default=False),
        store=reader.typed(body, "store", str, what), line=line,
        reuse=reader.typed(body, "reuse-executions", bool, what, default=False),
        node_lines={n.name: n.line for n in nodes.values()},
    )
    check_edges(reader, pipeline)
    resolve_parameters(reader, pipeline, body, what)
    return pipeline


def read_node(reader: Reader, item: Any, line: int, what: str, steps: dict[str, StepSpec], tasks: Tasks,
              ids: set[str]) -> NodeSpec:
    """A node of the pipeline ``what``; ``ids`` holds the task ids its other nodes took."""
    if isinstance(item, Map) and item.get("type") == "deployment":
        raise reader.error(line, f"node {item.get('name')!r} of {what} is a deployment node. {DEPLOYMENT_HELP}")
    named = item.get("name") if isinstance(item, Map) else None
    item = reader.mapping(item, line, f"a node of {what}", NODE_KEYS, NODE_NOTES,
                          named=f"node {named!r} of {what}" if named else None)
    name = reader.required_name(item, f"a node of {what}")
    if "." in name:
        raise reader.error(item.key_lines["name"], f"node name {name!r} of {what} has a '.', which edges use to "
                                                   "separate node, kind and name; rename it")
    kind = item.get("type", "execution")
    if kind not in ("execution", "task"):
        raise reader.error(item.key_lines["type"], f"node {name!r} of {what} has type {kind!r}; use execution or "
                                                   "task (deployment nodes cannot run in Airflow)")
    blueprint = _blueprint(reader, item, name, kind, what, tasks) if "task" in item else None
    step_name = item.get("step", blueprint.step if blueprint else None)
    if not isinstance(step_name, str):
        raise reader.error(line, f"node {name!r} of {what} needs a 'step' (the name of a step)")
    if step_name not in steps:
        raise reader.error(item.key_lines.get("step", line), f"node {name!r} of {what} names step {step_name!r}, "
                                                             f"which is not defined{suggest(step_name, steps)}")
    step = steps[step_name]
    if "override" in item:
        step = with_override(reader, step, item["override"], item.key_lines["override"], f"node {name!r} of {what}",
                             sweeping=kind == "task")
    merge_mode = item.get("edge-merge-mode", "replace")
    if merge_mode not in ("replace", "append"):
        raise reader.error(item.key_lines["edge-merge-mode"], f"edge-merge-mode of node {name!r} is "
                                                              f"{merge_mode!r}; use replace or append")
    return NodeSpec(name=name, task_id=unique(slug(name), ids), step=step, type=kind, line=line,
                    merge_mode=merge_mode, variants=blueprint.variants if blueprint else [],
                    blueprint=blueprint.name if blueprint else None,
                    max_active=blueprint.max_active if blueprint else None,
                    description=blueprint.description if blueprint else None)


def _blueprint(reader: Reader, item: Map, name: str, kind: str, what: str, tasks: Tasks) -> TaskBlueprint:
    """The ``- task:`` blueprint node ``name`` runs; the blueprint's own error if it could not be read."""
    if kind != "task":
        raise reader.error(item.key_lines["task"], f"node {name!r} of {what} names a task blueprint, so it "
                                                   "needs 'type: task'")
    blueprint = tasks.get(item["task"])
    if isinstance(blueprint, PipelineError):
        raise blueprint
    if blueprint is None:
        raise reader.error(item.key_lines["task"], f"node {name!r} of {what} names task {item['task']!r}, "
                                                   f"which is not defined{suggest(str(item['task']), tasks)}")
    if "step" in item and item["step"] != blueprint.step:
        raise reader.error(item.key_lines["step"], f"node {name!r} of {what} gives both a step and task "
                                                   f"{blueprint.name!r} (of step {blueprint.step!r}); give one")
    return blueprint
