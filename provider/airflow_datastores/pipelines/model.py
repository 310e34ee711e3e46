"""What a pipeline file says, checked and resolved: plain dataclasses, no Airflow.

A step's parameters are Valohai's own ``Parameter`` objects (valohai-yaml), as its parser read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from valohai_yaml.objs.parameter import Parameter


@dataclass
class InputSpec:
    """A step input. ``download`` is ``always`` (staged) or ``on-demand`` (URLs only).

    ``default`` may hold ``{parameter:NAME}`` placeholders (rendered from the run's values) and Valohai
    ``datum://`` URLs (resolved when the step runs).
    """

    name: str
    default: list[str]
    optional: bool
    keep_directories: str
    line: int
    filename: str | None = None
    download: str = "always"
    description: str | None = None


@dataclass
class StepSpec:
    """A step, or a node's copy of one after its ``override``."""

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
    parameters: dict[str, Parameter] = field(default_factory=dict)
    queue: str | None = None
    time_limit: int | None = None  # seconds
    env_descriptions: dict[str, str] = field(default_factory=dict)  # environment variable -> its description
    raw: Any = None  # the step's YAML mapping, for node overrides
    parameter_lines: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why the step cannot run (a mount that cannot be made): it fails with this
    commit_empty: bool = False


@dataclass
class TaskBlueprint:
    """A ``- task:`` item: a parameter sweep over a step, resolved to its variants.

    ``problem``: why Airflow cannot run it (an optimizer task, a rule it cannot follow); a node that uses
    it fails with that when it runs.
    """

    name: str
    step: str
    variants: list[dict[str, Any]]
    max_active: int | None
    line: int
    description: str | None = None
    problem: str | None = None


@dataclass
class Edge:
    """``<source>.<source_kind>.<source_key>`` -> ``<target>.<target_kind>.<target_key>``.

    Kinds: ``output``->``input`` (a version's files), ``input``->``input`` (the same files),
    ``parameter``->``parameter`` (the same value), ``environment-variable``->``environment-variable``,
    ``dependency``->``dependency`` (order only).
    """

    source: str
    source_kind: str
    source_key: str
    target: str
    target_kind: str
    target_key: str
    line: int

    @property
    def path(self) -> str:
        return self.source_key if self.source_kind == "output" else ""

    @property
    def input(self) -> str:
        return self.target_key


@dataclass
class NodeSpec:
    """A pipeline node: its Airflow task id, its step after ``override``, and for a sweep its variants."""

    name: str
    task_id: str
    step: StepSpec
    type: str  # execution or task
    line: int
    merge_mode: str = "replace"
    variants: list[dict[str, Any]] = field(default_factory=list)  # from a task blueprint
    blueprint: str | None = None  # the ``- task:`` it runs
    max_active: int | None = None
    description: str | None = None  # the blueprint's
    problem: str | None = None  # why the node cannot run: it fails with this when it runs
    actions: list = field(default_factory=list)  # the node actions Airflow runs (actions.ActionSpec)


@dataclass
class ParamDef:
    """One Airflow Param of a DAG. ``sweep``: a list of values, one mapped task per value."""

    key: str
    spec: Parameter
    default: Any
    has_default: bool
    description: str | None
    sweep: bool = False
    line: int = 0


@dataclass
class PipelineSpec:
    """A pipeline (or a steps-only file's single step) ready to become one DAG.

    ``sources[node][parameter]`` is the DAG Param key its value comes from; ``swept[node]`` lists the
    parameters a sweep node maps over.
    """

    name: str
    dag_id: str
    nodes: dict[str, NodeSpec]
    edges: list[Edge]
    schedule: str | None
    description: str | None
    tags: list[str]
    start_date: Any
    catchup: bool
    store: str | None
    line: int
    reuse: bool = False
    params: dict[str, ParamDef] = field(default_factory=dict)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    swept: dict[str, dict[str, str]] = field(default_factory=dict)
    input_params: dict[str, dict[str, str]] = field(default_factory=dict)  # inputs given at trigger
    node_lines: dict[str, int] = field(default_factory=dict)
    steps_only: bool = False  # a file without pipelines: one DAG per step


def topological_order(pipeline: PipelineSpec) -> list[str]:
    """The pipeline's node names, each after every node it has an edge from (the edges were checked
    for cycles when the file was read)."""
    order: list[str] = []
    remaining = dict.fromkeys(pipeline.nodes)
    while remaining:
        for node in list(remaining):
            if all(e.source in order for e in pipeline.edges if e.target == node):
                order.append(node)
                del remaining[node]
    return order
