"""A ``- pipeline:`` item, as Valohai's parser read it -> :class:`PipelineSpec`: its nodes (steps after
their overrides, task blueprints), then its edges and parameters checked against them.

A deployment node is noted and skipped, with every node that is fed only by skipped nodes: Airflow does
not run Valohai deployments, and the rest of the pipeline runs.
"""

from __future__ import annotations

from typing import Any

from valohai_yaml.objs.pipelines import DeploymentNode, Pipeline, TaskNode

from airflow_datastores.pipelines.actions import read_actions
from airflow_datastores.pipelines.edges import check_edges, read_edge
from airflow_datastores.pipelines.keys import DEPLOYMENT_HELP
from airflow_datastores.pipelines.model import Edge, NodeSpec, PipelineSpec, StepSpec, TaskBlueprint
from airflow_datastores.pipelines.pipeline_parameters import resolve_parameters
from airflow_datastores.pipelines.reader import Reader, slug, suggest, unique
from airflow_datastores.pipelines.steps import with_override
from airflow_datastores.pipelines.yamlfile import Map

Tasks = dict[str, TaskBlueprint]


def read_pipeline(reader: Reader, pipeline: Pipeline, raw: Map, path: list, steps: dict[str, StepSpec],
                  tasks: Tasks) -> PipelineSpec:
    """A pipeline over ``steps`` and ``tasks`` (``raw``: its mapping at ``path``), checked, with its
    parameters resolved."""
    what = f"pipeline {pipeline.name!r}"
    nodes: dict[str, NodeSpec] = {}
    ids: set[str] = set()
    deployments: set[str] = set()
    lines: dict[str, int] = {}
    for index, node in enumerate(pipeline.nodes):
        node_path = [*path, "nodes", index]
        if node.name in lines:
            raise reader.error(reader.line(node_path), f"{what} has two nodes named {node.name!r} (the other on "
                                                       f"line {lines[node.name]})")
        lines[node.name] = reader.line(node_path)
        if isinstance(node, DeploymentNode):
            reader.note(lines[node.name], f"node {node.name!r} of {what} is a deployment node. {DEPLOYMENT_HELP}. "
                                          "The node is skipped, and so is every node fed only by it",
                        key=f"deployment:{node.name}")
            deployments.add(node.name)
            continue
        nodes[node.name] = read_node(reader, node, raw["nodes"][index], node_path, what, steps, tasks, ids)
    edges = [read_edge(reader, item, reader.line([*path, "edges", index]), what)
             for index, item in enumerate(pipeline.edges)]
    skipped = _skipped(deployments, edges)
    for name in sorted(skipped - deployments):
        reader.note(lines[name], f"node {name!r} of {what} is fed only by skipped deployment nodes, so it is "
                                 "skipped too", key=f"deployment:{name}")
        del nodes[name]
    spec = PipelineSpec(
        name=pipeline.name, dag_id=slug(pipeline.name), nodes=nodes,
        edges=[e for e in edges if e.source not in skipped and e.target not in skipped],
        schedule=raw.get("schedule"), description=raw.get("description"),
        tags=[str(t) for t in raw.get("tags") or []], start_date=raw.get("start-date"),
        catchup=raw.get("catchup", False), store=raw.get("store"), line=reader.line(path),
        reuse=pipeline.reuse_executions, node_lines={n.name: n.line for n in nodes.values()},
    )
    if not nodes:
        reader.note(spec.line, f"{what} has no node Airflow can run, so it makes no DAG", key=f"empty:{what}")
    check_edges(reader, spec, known=set(lines))
    resolve_parameters(reader, spec, pipeline, path, what)
    return spec


def read_node(reader: Reader, node: Any, raw: Map, path: list, what: str, steps: dict[str, StepSpec],
              tasks: Tasks, ids: set[str]) -> NodeSpec:
    """An execution or task node of the pipeline ``what``; ``ids`` holds the task ids its other nodes took."""
    name = node.name
    blueprint = tasks.get(node.task) if isinstance(node, TaskNode) and node.task else None
    if isinstance(node, TaskNode) and node.task and blueprint is None:
        raise reader.error(reader.line([*path, "task"]), f"node {name!r} of {what} names task {node.task!r}, "
                                                         f"which is not defined{suggest(node.task, tasks)}")
    step_name = node.step or (blueprint.step if blueprint else None)
    if step_name not in steps:
        raise reader.error(reader.line([*path, "step"]), f"node {name!r} of {what} names step {step_name!r}, "
                                                         f"which is not defined{suggest(str(step_name), steps)}")
    step = steps[step_name]
    kind = "task" if isinstance(node, TaskNode) else "execution"
    if raw.get("override"):
        step = with_override(reader, step, raw["override"], f"node {name!r} of {what}", sweeping=kind == "task")
    problem = blueprint.problem if blueprint else None
    if problem:
        reader.note(reader.line(path), f"node {name!r} of {what} runs task {blueprint.name!r}, which cannot run "
                                       f"here: {problem}. The node fails when it runs", key=f"problem:{name}")
    actions = read_actions(reader, node.actions, line=reader.line([*path, "actions"], key=True),
                           what=f"node {name!r} of {what}") if node.actions else []
    return NodeSpec(name=name, task_id=unique(slug(name), ids), step=step, type=kind, line=reader.line(path),
                    merge_mode=node.edge_merge_mode.value, variants=blueprint.variants if blueprint else [],
                    blueprint=blueprint.name if blueprint else None,
                    max_active=blueprint.max_active if blueprint else None,
                    description=blueprint.description if blueprint else None, problem=problem, actions=actions)


def _skipped(deployments: set[str], edges: list[Edge]) -> set[str]:
    """The deployment nodes, and every node whose every incoming edge comes from a skipped node."""
    skipped = set(deployments)
    changed = True
    while changed:
        changed = False
        for target in {e.target for e in edges} - skipped:
            sources = {e.source for e in edges if e.target == target}
            if sources and sources <= skipped:
                skipped.add(target)
                changed = True
    return skipped
