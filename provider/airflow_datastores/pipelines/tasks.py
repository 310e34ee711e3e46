"""A ``- task:`` item (a parameter sweep over a step), as Valohai's parser read it -> :class:`TaskBlueprint`.

Airflow maps a task over a list fixed when the run starts: grid, manual and random searches become
that list. An optimizer (Bayesian TPE ...) picks its next values from results, which a fixed list cannot
do: such a blueprint is noted, and a node that uses it fails when it runs, saying so.
"""

from __future__ import annotations

from valohai_yaml.objs.task import Task

from airflow_datastores.errors import SweepError
from airflow_datastores.pipelines.model import StepSpec, TaskBlueprint
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.step_parameters import checked_default
from airflow_datastores.pipelines.variants import SEARCHES, grid, style_values


def read_task(reader: Reader, task: Task, path: list, steps: dict[str, StepSpec]) -> TaskBlueprint:
    """A blueprint over one of ``steps``: every combination of its parameter axes, on top of each of its
    parameter sets. What cannot run is kept as the blueprint's ``problem``."""
    line = reader.line(path[:-1])  # the item's line (``- task:``)
    what = f"task {task.name!r}"
    blueprint = TaskBlueprint(name=task.name, step=task.step, variants=[], line=line,
                              max_active=task.maximum_queued_executions, description=task.description)
    step = steps.get(task.step)
    if step is None:  # Valohai's lint checks this only for a node that uses the blueprint: so do we
        blueprint.problem = f"{what} names step {task.step!r}, which is not defined{suggest(task.step, steps)}"
        return blueprint
    search = task.type.value
    if search not in SEARCHES:
        blueprint.problem = (f"{what} is a {search!r} task; Airflow maps a task over a list fixed when the run "
                             f"starts, so only {', '.join(SEARCHES)} can run (an optimizer that picks the next "
                             "values from results cannot)")
        return blueprint
    try:
        axes = {p.name: _values(reader, p, step, [*path, "parameters", i], what)
                for i, p in enumerate(task.parameters)}
        base = [_parameter_set(reader, s, step, [*path, "parameter-sets", i], what)
                for i, s in enumerate(task.parameter_sets)] or [{}]
    except SweepError as err:
        blueprint.problem = f"{what}: {err}"
        return blueprint
    blueprint.variants = grid(axes, base)
    return blueprint


def _values(reader: Reader, variant, step: StepSpec, path: list, what: str) -> list:
    """The values one sweep parameter takes (its ``style`` and ``rules``), cast for the step's parameter."""
    if variant.name not in step.parameters:
        raise SweepError(f"it sweeps parameter {variant.name!r}, which step {step.name!r} does not define"
                         f"{suggest(variant.name, step.parameters)}")
    rules = dict(variant.rules or {})
    style = variant.style.value
    distribution = rules.get("distribution")
    if distribution is not None and str(distribution).lower() != "uniform":
        if style == "random":
            effect = f"values are drawn uniformly between 'min' and 'max', not from a {distribution!r} distribution"
        else:
            effect = f"style {style!r} draws no random values, so {distribution!r} has no effect"
        reader.note(reader.line([*path, "rules", "distribution"], key=True),
                    f"'distribution' of parameter {variant.name!r} of {what}: {effect}", key="distribution")
    values = style_values(variant.name, style, rules)
    cast = checked_default(reader, step.parameters[variant.name], values, reader.line(path),
                           f"parameter {variant.name!r} of {what}", sweep=True)
    if cast is None:
        raise SweepError(f"the values of parameter {variant.name!r} do not fit step {step.name!r}'s parameter")
    return cast


def _parameter_set(reader: Reader, values: dict, step: StepSpec, path: list, what: str) -> dict:
    """One ``parameter-sets`` item: parameter name -> value, each cast for the step's parameter."""
    variant = {}
    for name, value in values.items():
        if name not in step.parameters:
            raise SweepError(f"a parameter set names {name!r}, which step {step.name!r} does not define")
        cast = checked_default(reader, step.parameters[name], value, reader.line(path),
                               f"parameter {name!r} of {what}")
        if cast is None:
            raise SweepError(f"a parameter set gives {name!r} the value {value!r}, which does not fit the step")
        variant[name] = cast
    return variant
