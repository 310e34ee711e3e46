"""Step parameters (Valohai's ``Parameter``): values cast and checked, Airflow Param schemas, commands.

Casting, limits and choices are Valohai's (``Parameter.validate``: ``"1e-4"`` for a float is 0.0001);
the command is rendered by Valohai's ``build_command``: ``{parameters}`` (or ``{params}``) is every
parameter with a value, each by its ``pass-as``; ``{parameter:NAME}`` one of them; ``{parameter-value:NAME}``
the bare value; values shell-quoted; any other braces left as written. What is ours: flags must be true
or false, a string parameter's number is its text, the JSON schema the trigger form validates with, and
the environment variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from valohai_yaml.commands import build_command
from valohai_yaml.excs import ValidationErrors
from valohai_yaml.objs.parameter import Parameter
from valohai_yaml.objs.parameter_map import ParameterMap

_JSON_TYPES = {"integer": "integer", "float": "number", "string": "string", "flag": "boolean"}
_PLACEHOLDER = re.compile(r"{(parameter|parameter-value):([^{}]+)}")


def as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]


def cast(param: Parameter, value: Any, *, sweep: bool = False) -> Any:
    """``value`` for ``param`` as Valohai casts it (``sweep``: a list of such values).

    ``None`` is "no value": false for a flag, ``None`` for an optional parameter.

    :raises ValueError: what is wrong with the value, in Valohai's words.
    """
    if sweep:
        if not isinstance(value, list):
            raise ValueError(f"{value!r} is not a list of values to sweep over")
        return [cast(param, v) for v in value]
    if value is None:
        if param.type == "flag":
            return False
        if param.optional:
            return None
        raise ValueError("no value given (the parameter is not optional)")
    if param.type == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not a flag (true or false)")
        return value
    if isinstance(value, list) and not param.multiple:
        raise ValueError(f"{value!r} is a list, but the parameter takes one value (set 'multiple: repeat' or "
                         "'separate')")
    atoms = as_list(value) if param.multiple else [value]
    if param.type == "string":  # YAML reads `id: 123` as a number; the parameter's value is its text
        atoms = [a if isinstance(a, str) else _text(a) for a in atoms]
    try:
        return param.validate(atoms if param.multiple else atoms[0])
    except ValidationErrors as err:
        raise ValueError("; ".join(str(e) for e in err.errors)) from None


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"{value!r} is not a string")
    return str(value)


def param_schema(param: Parameter, *, sweep: bool = False) -> dict[str, Any]:
    """The JSON schema an Airflow ``Param`` validates ``param``'s value with (the trigger form uses it)."""
    item: dict[str, Any] = {"type": _JSON_TYPES.get(param.type, "string")}
    if param.choices is not None and param.type != "flag":
        item["enum"] = list(param.choices)
    if param.min is not None:
        item["minimum"] = param.min
    if param.max is not None:
        item["maximum"] = param.max
    schema = {"type": "array", "items": item} if param.multiple else item
    if sweep:
        schema = {"type": "array", "items": schema, "minItems": 1}
    elif param.optional and param.type != "flag":
        schema = dict(schema, type=[schema["type"], "null"])
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def render_command(command: Iterable[str], params: Iterable[Parameter], values: Mapping[str, Any]) -> list[str]:
    """``command``'s lines with the parameter placeholders replaced (Valohai's ``build_command``)."""
    by_name = {p.name: p for p in params}
    return build_command(list(command), ParameterMap(parameters=by_name, values=dict(values)))


def text_value(param: Parameter, value: Any) -> str | None:
    """The value as an environment variable (or a URL) holds it; ``None``: no value."""
    if value is None:
        return None
    if param.type == "flag":
        return "true" if value else "false"
    if param.multiple:
        return param.multiple_separator.join(str(v) for v in as_list(value))
    return str(value)


def placeholders(text: str) -> list[str]:
    """The parameter names ``text`` refers to with ``{parameter:NAME}`` or ``{parameter-value:NAME}``."""
    return [m.group(2) for m in _PLACEHOLDER.finditer(text)]


def render_text(text: str, params: Iterable[Parameter], values: Mapping[str, Any]) -> str:
    """``text`` (an input URL) with ``{parameter:NAME}`` and ``{parameter-value:NAME}`` replaced by the
    bare value (a URL takes no ``--name=``); a placeholder of an unknown parameter is left as written."""
    by_name = {p.name: p for p in params}

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in by_name:
            return match.group(0)
        return text_value(by_name[name], values.get(name)) or ""

    return _PLACEHOLDER.sub(replace, text)


def environment(params: Iterable[Parameter], values: Mapping[str, Any]) -> dict[str, str]:
    """``DATASTORE_PARAMETER_<NAME>`` per parameter with a value, and ``DATASTORE_PARAMETERS`` (JSON)."""
    env = {}
    for param in params:
        text = text_value(param, values.get(param.name))
        if text is not None:
            env["DATASTORE_PARAMETER_" + "".join(c if c.isalnum() else "_" for c in param.name).upper()] = text
    env["DATASTORE_PARAMETERS"] = json.dumps(dict(values), sort_keys=True, default=str)
    return env


def to_dict(param: Parameter) -> dict[str, Any]:
    """``param`` as plain JSON (operators keep plain values, so serialized DAGs stay simple)."""
    return json.loads(json.dumps(param.serialize(), default=str))


def from_dict(data: Mapping[str, Any]) -> Parameter:
    return Parameter.parse(dict(data))
