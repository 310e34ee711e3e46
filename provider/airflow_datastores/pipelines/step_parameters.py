"""A step's ``parameters`` item -> :class:`ParameterSpec`, and a value checked against one, naming its line."""

from __future__ import annotations

from typing import Any

from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.keys import PARAMETER_KEYS, PARAMETER_NOTES
from airflow_datastores.pipelines.model import ParameterSpec
from airflow_datastores.pipelines.reader import Reader


def read_parameter(reader: Reader, item: Any, line: int, step: str, *, sweeping: bool = False) -> ParameterSpec:
    """A parameter of ``step`` (how errors name the step), checked, with its default normalized.

    :param sweeping: the step is a task node's copy, where a list of values is what it sweeps over.
    """
    item = reader.mapping(item, line, f"a parameter of {step}", PARAMETER_KEYS, PARAMETER_NOTES)
    name = reader.required_name(item, f"a parameter of {step}")
    what = f"parameter {name!r} of {step}"
    kind = reader.typed(item, "type", str, what, default="string")
    if kind not in P.TYPES:
        raise reader.error(item.key_lines["type"], f"type of {what} is {kind!r}; use one of {', '.join(P.TYPES)}")
    multiple = reader.typed(item, "multiple", str, what, default="none")
    if multiple not in P.MULTIPLE:
        raise reader.error(item.key_lines["multiple"], f"'multiple' of {what} is {multiple!r}; use one of "
                                                       f"{', '.join(P.MULTIPLE)}")
    if kind == "flag" and multiple != "none":
        raise reader.error(item.key_lines["multiple"], f"{what} is a flag, which cannot take multiple values")
    choices = reader.typed(item, "choices", list, what)
    spec = ParameterSpec(
        name=name, type=kind, optional=kind == "flag" or reader.typed(item, "optional", bool, what, default=False),
        description=reader.typed(item, "description", str, what),
        pass_as=reader.typed(item, "pass-as", str, what), pass_true_as=reader.typed(item, "pass-true-as", str, what),
        pass_false_as=reader.typed(item, "pass-false-as", str, what),
        multiple=None if multiple == "none" else multiple,
        separator=str(reader.typed(item, "multiple-separator", (str, int), what, default=",")),
        choices=list(choices) if choices is not None else None,
        min=reader.typed(item, "min", (int, float), what), max=reader.typed(item, "max", (int, float), what),
        line=line,
    )
    default = item.get("default")
    sweep = sweeping and isinstance(default, list) and not spec.multiple
    spec.default = checked_value(reader, spec, default, item.key_lines.get("default", line), what, sweep=sweep)
    if kind == "flag" and spec.default is None:
        spec.default = False
    return spec


def checked_value(reader: Reader, spec: ParameterSpec, value: Any, line: int, what: str, *,
                  sweep: bool = False) -> Any:
    """``value`` normalized for ``spec`` (``sweep``: a list of such values), or an error naming ``line``."""
    if value is None:
        return None
    if sweep:
        value = [P.normalize(spec, v) for v in value]
    else:
        value = P.normalize(spec, value)
    problem = P.check_value(spec, value, sweep=sweep)
    if problem:
        raise reader.error(line, f"{what}: {problem}")
    return value
