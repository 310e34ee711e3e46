"""A ``- task:`` item (a parameter sweep over a step) -> :class:`TaskBlueprint` with its variants."""

from __future__ import annotations

from typing import Any

from airflow_datastores.errors import SweepError
from airflow_datastores.pipelines.keys import RULE_KEYS, TASK_KEYS, TASK_NOTES, TASK_PARAMETER_KEYS
from airflow_datastores.pipelines.model import StepSpec, TaskBlueprint
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.step_parameters import checked_value
from airflow_datastores.pipelines.variants import SEARCHES, grid, style_values
from airflow_datastores.pipelines.yamlfile import Map


def read_task(reader: Reader, body: Any, line: int, steps: dict[str, StepSpec]) -> TaskBlueprint:
    """A task blueprint over one of ``steps``: every combination of its parameter axes, on top of each
    of its parameter sets."""
    named = body.get("name") if isinstance(body, Map) else None
    body = reader.mapping(body, line, "a task", TASK_KEYS, TASK_NOTES, named=f"task {named!r}" if named else None)
    name = reader.required_name(body, "a task")
    what = f"task {name!r}"
    step_name = reader.typed(body, "step", str, what)
    if step_name not in steps:
        raise reader.error(body.key_lines.get("step", line), f"{what} names step {step_name!r}, which is not "
                                                             f"defined{suggest(str(step_name), steps)}")
    step = steps[step_name]
    search = reader.typed(body, "type", str, what, default="grid_search").lower().replace("-", "_")
    if search not in SEARCHES:
        raise reader.error(body.key_lines["type"], f"{what} is a {search!r} task; Airflow maps a task over a "
                                                   "list fixed when the run starts, so only "
                                                   f"{', '.join(SEARCHES)} can be run (an optimizer that picks "
                                                   "the next values from results cannot)")
    axes = _axes(reader, body, step, what)
    sets = reader.items(body, "parameter-sets", what)
    base = _parameter_sets(reader, sets, step, what) if sets else [{}]
    if not axes and not sets:
        raise reader.error(line, f"{what} needs 'parameters' (with style and rules) or 'parameter-sets'")
    return TaskBlueprint(name=name, step=step_name, variants=grid(axes, base),
                         max_active=reader.typed(body, "maximum-queued-executions", int, what), line=line,
                         description=reader.typed(body, "description", str, what))


def _axes(reader: Reader, body: Map, step: StepSpec, what: str) -> dict[str, list]:
    """Parameter name -> the values its ``style`` and ``rules`` give."""
    axes: dict[str, list] = {}
    for item, item_line in reader.items(body, "parameters", what):
        item = reader.mapping(item, item_line, f"a parameter of {what}", TASK_PARAMETER_KEYS)
        parameter = reader.required_name(item, f"a parameter of {what}")
        if parameter not in step.parameters:
            raise reader.error(item_line, f"{what} sweeps parameter {parameter!r}, which step {step.name!r} does "
                                          f"not define{suggest(parameter, step.parameters)}")
        style = str(item.get("style", "single")).lower()
        rules = _rules(reader, item, item_line, style, f"parameter {parameter!r} of {what}")
        try:
            values = style_values(parameter, style, rules)
        except SweepError as err:
            raise reader.error(item_line, f"{what}: {err}") from None
        axes[parameter] = checked_value(reader, step.parameters[parameter], values, item_line,
                                        f"parameter {parameter!r} of {what}", sweep=True)
    return axes


def _rules(reader: Reader, item: Map, line: int, style: str, what: str) -> dict[str, Any]:
    """A sweep parameter's ``rules``, their keys checked; a ``distribution`` other than ``uniform`` noted."""
    if item.get("rules") is None:
        return {}
    rules = reader.mapping(reader.typed(item, "rules", dict, what), item.key_lines["rules"],
                           f"the rules of {what}", RULE_KEYS)
    distribution = rules.get("distribution")
    if distribution is not None and str(distribution).lower() != "uniform":
        if style == "random":
            effect = f"values are drawn uniformly between 'min' and 'max', not from a {distribution!r} distribution"
        else:
            effect = f"style {style!r} draws no random values, so {distribution!r} has no effect"
        reader.note(rules.key_lines["distribution"], f"'distribution' of {what}: {effect}", key="distribution")
    return rules


def _parameter_sets(reader: Reader, sets: list[tuple[Any, int]], step: StepSpec, what: str) -> list[dict]:
    """Each ``parameter-sets`` item as a variant: parameter name -> value."""
    base: list[dict] = []
    for item, item_line in sets:
        if not isinstance(item, dict):
            raise reader.error(item_line, f"a parameter set of {what} must be a mapping of name: value")
        variant = {}
        for key, value in item.items():
            if key not in step.parameters:
                raise reader.error(item_line, f"a parameter set of {what} names {key!r}, which step "
                                              f"{step.name!r} does not define")
            variant[key] = checked_value(reader, step.parameters[key], value, item_line,
                                         f"parameter {key!r} of {what}")
        base.append(variant)
    return base
