"""Checked pipeline specs -> Airflow DAGs (the only module here that builds Airflow objects)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.edges import fed_inputs
from airflow_datastores.pipelines.model import NodeSpec, PipelineSpec, StepSpec, topological_order


def build_dag(pipeline: PipelineSpec, *, directory: str):
    """One DAG for ``pipeline``; commands run in ``directory`` (the YAML file's)."""
    import pendulum
    from airflow.sdk import DAG, Param, XComArg

    from airflow_datastores.operators import outputs_of
    from airflow_datastores.pipelines.operators import SweepVariantsOperator, YamlStepOperator

    start = pipeline.start_date
    start_date = pendulum.instance(start) if hasattr(start, "year") and hasattr(start, "hour") else (
        pendulum.datetime(start.year, start.month, start.day, tz="UTC") if hasattr(start, "year")
        else pendulum.parse(str(start)) if start else pendulum.datetime(2026, 1, 1, tz="UTC"))
    params = {}
    for key, definition in pipeline.params.items():
        schema = P.param_schema(definition.spec, sweep=definition.sweep)
        extra = {"description": definition.description} if definition.description else {}
        if definition.has_default:
            params[key] = Param(definition.default, **schema, **extra)
        else:
            params[key] = Param(**schema, **extra)
    display = {"dag_display_name": pipeline.name} if pipeline.name != pipeline.dag_id else {}
    with DAG(dag_id=pipeline.dag_id, schedule=pipeline.schedule, start_date=start_date, catchup=pipeline.catchup,
             description=pipeline.description, tags=["datastores", "yaml", *pipeline.tags], params=params,
             **display) as dag:
        tasks: dict[str, Any] = {}  # node -> its task (whose XCom holds its version)
        followed: dict[str, Any] = {}  # node -> what the nodes after it follow (its last action, else it)
        resolved: dict[str, dict[str, Any]] = {}  # node -> input -> what it stages (for input->input edges)
        for name in topological_order(pipeline):
            node = pipeline.nodes[name]
            inputs = _inputs(pipeline, node, tasks, resolved, outputs_of)
            resolved[name] = inputs
            kwargs = _step_kwargs(pipeline, node, inputs, directory)
            if node.type == "task":
                doc = {"doc_md": node.description} if node.description else {}
                variants = SweepVariantsOperator(task_id=f"{node.task_id}__variants", variants=node.variants or [{}],
                                                 swept=pipeline.swept.get(name, {}), problem=node.problem,
                                                 metadata_swept=_metadata_sources(pipeline, node),
                                                 task_display_name=f"{node.name}: variants", **doc)
                mapped = {"max_active_tis_per_dag": node.max_active} if node.max_active else {}
                task = YamlStepOperator.partial(**kwargs, **mapped).expand(variant=XComArg(variants))
            else:
                task = YamlStepOperator(**kwargs)
            first = variants if node.type == "task" else task
            for edge in pipeline.edges:  # every edge orders its two nodes (after the source's actions)
                if edge.target == name:
                    followed[edge.source] >> first
            tasks[name] = task
            followed[name] = add_actions(node, first=first, task=task)
    return dag


def _inputs(pipeline: PipelineSpec, node: NodeSpec, tasks: dict, resolved: dict, outputs_of) -> dict[str, Any]:
    """What the node stages, by input: its URLs and, for inputs fed by edges, the versions upstream
    nodes commit in the run (``fed``: one ``outputs_of`` per output edge; several edges: all their files)."""
    inputs: dict[str, Any] = {}
    fed = fed_inputs(pipeline, node.name)
    for spec in node.step.inputs.values():
        if spec.download == "on-demand":
            continue
        value: dict[str, Any] = {"urls": list(spec.default), "optional": spec.optional,
                                 "keep_directories": spec.keep_directories}
        if spec.name in fed:
            value["urls"] = list(spec.default) if node.merge_mode == "append" else []
            value["fed"] = []
            for edge in fed[spec.name]:
                if edge.source_kind == "output":
                    value["fed"].append(outputs_of(tasks[edge.source], edge.path))
                else:  # input -> input: the same URLs and versions as the upstream node's input
                    upstream = resolved.get(edge.source, {}).get(edge.source_key, {})
                    value["urls"] += upstream.get("urls", [])
                    value["fed"] += upstream.get("fed", [])
            if value["fed"] and spec.keep_directories == "none":
                value["keep_directories"] = "suffix"  # a version's files keep their layout
        if value["urls"] or value.get("fed") or spec.name in pipeline.input_params.get(node.name, {}):
            inputs[spec.name] = value
    return inputs


def _metadata_sources(pipeline: PipelineSpec, node: NodeSpec) -> dict[str, dict[str, str]]:
    """Parameter -> the upstream task and metadata key a ``metadata -> parameter`` edge feeds it from."""
    return {e.target_key: {"task_id": pipeline.nodes[e.source].task_id, "key": e.source_key}
            for e in pipeline.edges if e.target == node.name and e.source_kind == "metadata"}


def _step_kwargs(pipeline: PipelineSpec, node: NodeSpec, inputs: dict, directory: str) -> dict[str, Any]:
    step = node.step
    kwargs: dict[str, Any] = {
        "task_id": node.task_id, "command": step.command, "inputs": inputs, "store": step.store or pipeline.store,
        "mounts": step.mounts, "on_input_change": step.on_input_change, "skip_if_unchanged": step.skip_if_unchanged,
        "environment": step.environment, "cwd": directory, "doc_md": task_doc(step), "reuse": pipeline.reuse,
        "parameters": [P.to_dict(p) for p in step.parameters.values()],
        "parameter_sources": pipeline.sources.get(node.name, {}),
        "input_params": pipeline.input_params.get(node.name, {}),
        "on_demand": {s.name: list(s.default) for s in step.inputs.values() if s.download == "on-demand"},
        "filenames": {s.name: s.filename for s in step.inputs.values() if s.filename},
        "problem": node.problem or step.problem,
        "commit_empty": step.commit_empty,
        "step_name": step.name,
        "pipeline_name": None if pipeline.steps_only else pipeline.name,
        "metadata_sources": _metadata_sources(pipeline, node),
    }
    if node.name != node.task_id:
        kwargs["task_display_name"] = node.name
    if step.queue:
        kwargs["queue"] = step.queue
    if step.time_limit:
        kwargs["execution_timeout"] = timedelta(seconds=step.time_limit)
    return kwargs



def add_actions(node: NodeSpec, *, first, task):
    """The node's actions as tasks around it (:mod:`.actions`); returns what its downstream tasks follow."""
    from airflow.providers.standard.operators.hitl import ApprovalOperator
    from airflow.providers.standard.operators.python import ShortCircuitOperator

    from airflow_datastores.pipelines.actions import check_actions

    last = task
    for index, action in enumerate(node.actions):
        suffix = "" if index == 0 else f"_{index + 1}"
        if action.then == "require-approval":
            ApprovalOperator(task_id=f"{node.task_id}__approval{suffix}", subject=f"Run {node.name}?",
                             body=f"The pipeline waits for approval before node {node.name!r} starts (Valohai "
                                  "require-approval).", task_display_name=f"{node.name}: approval") >> first
        else:
            check = ShortCircuitOperator(
                task_id=f"{node.task_id}__actions{suffix}", python_callable=check_actions,
                op_kwargs={"node_task_id": node.task_id, "node": node.name, "conditions": list(action.conditions),
                           "then": action.then},
                task_display_name=f"{node.name}: {action.then}")
            last >> check
            last = check
    return last


def task_doc(step: StepSpec) -> str | None:
    """The task's ``doc_md`` (what the Airflow UI shows): the step's ``description``, then the
    descriptions of its inputs and environment variables; ``None`` if none has one."""
    parts = [step.description.strip()] if step.description else []
    inputs = [f"- `{s.name}`: {s.description.strip()}" for s in step.inputs.values() if s.description]
    if inputs:
        parts.append("Inputs:\n\n" + "\n".join(inputs))
    variables = [f"- `{name}`: {text.strip()}" for name, text in step.env_descriptions.items()]
    if variables:
        parts.append("Environment variables:\n\n" + "\n".join(variables))
    return "\n\n".join(parts) or None
