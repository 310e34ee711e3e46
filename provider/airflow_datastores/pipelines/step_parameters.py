"""A step's parameter, as Valohai's parser read it, with its default cast as Valohai casts it.

A default that Valohai's own lint only warns about (``default: many`` for an integer, a value above
``max``) does not stop the file: it is noted, naming its line, and the parameter has no default (the
trigger form asks for a value; a scheduled pipeline cannot run without one).
"""

from __future__ import annotations

import copy
from typing import Any

from valohai_yaml.objs.parameter import Parameter

from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.pipelines.yamlfile import Map, line_of


def read_parameter(reader: Reader, param: Parameter, raw: Map, step: str, *, sweeping: bool = False) -> Parameter:
    """``param`` of ``step`` (how messages name the step) with its default cast, or dropped and noted.

    :param raw: the parameter's YAML mapping (for lines).
    :param sweeping: the step is a task node's copy, where a list of values is what it sweeps over.
    """
    param = copy.copy(param)
    sweep = sweeping and isinstance(param.default, list) and not param.multiple
    what = f"parameter {param.name!r} of {step}"
    param.default = checked_default(reader, param, param.default, line_of(raw, ["default"]), what, sweep=sweep)
    return param


def checked_default(reader: Reader, param: Parameter, value: Any, line: int, what: str, *,
                    sweep: bool = False) -> Any:
    """``value`` cast for ``param`` (``sweep``: a list of such values); one Valohai would not take as it
    is noted at ``line`` and ``None`` returned, as if no default were given."""
    if value is None or value == "" or value == []:
        return None if param.type != "flag" else False
    try:
        return P.cast(param, value, sweep=sweep)
    except ValueError as err:
        reader.note(line, f"{what}: the default {value!r} is not a value of the parameter ({err}); it has no "
                          "default, so a run must give one", key=f"default:{what}")
        return None
