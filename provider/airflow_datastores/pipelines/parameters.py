"""Step parameters: checking values, Airflow Param schemas, and rendering them into commands.

Rendering follows Valohai: ``{parameters}`` (or ``{params}``) is every parameter that has a value, each
by its ``pass-as`` (default ``--{name}={value}``, flags ``--{name}``); ``{parameter:NAME}`` is one of
them; ``{parameter-value:NAME}`` is the bare value. Values are shell-quoted. Anything else in braces
(``${HOME}``, ``{x}``) is left as it is.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_datastores.pipelines.model import ParameterSpec

TYPES = ("integer", "float", "string", "flag")
MULTIPLE = ("none", "repeat", "separate")
_JSON_TYPES = {"integer": "integer", "float": "number", "string": "string", "flag": "boolean"}
_PLACEHOLDER = re.compile(r"{(.+?)}")


def as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]


def check_atom(spec: ParameterSpec, value: Any) -> str | None:
    """What is wrong with one value of ``spec`` (``None`` if nothing)."""
    if spec.type == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{value!r} is not an integer"
    if spec.type == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{value!r} is not a number"
    if spec.type == "flag" and not isinstance(value, bool):
        return f"{value!r} is not a flag (true or false)"
    if spec.type == "string" and not isinstance(value, (str, int, float)):
        return f"{value!r} is not a string"
    if spec.choices is not None and value not in spec.choices:
        return f"{value!r} is not one of the choices {spec.choices!r}"
    if spec.min is not None and value < spec.min:
        return f"{value!r} is less than the minimum {spec.min!r}"
    if spec.max is not None and value > spec.max:
        return f"{value!r} is more than the maximum {spec.max!r}"
    return None


def check_value(spec: ParameterSpec, value: Any, *, sweep: bool = False) -> str | None:
    """What is wrong with ``value`` for ``spec``: one value, a list for ``multiple``, or for a sweep a
    list of values (of lists, if ``multiple``). ``None`` means unset, which only optional ones may be."""
    if value is None:
        return None if spec.optional or spec.type == "flag" else "no value given (the parameter is not optional)"
    if sweep:
        if not isinstance(value, list):
            return f"{value!r} is not a list of values to sweep over"
        return next((p for v in value if (p := check_value(spec, v)) is not None), None)
    if spec.multiple:
        atoms = as_list(value)
    elif isinstance(value, list):
        return f"{value!r} is a list, but the parameter takes one value (set 'multiple: repeat' or 'separate')"
    else:
        atoms = [value]
    return next((p for a in atoms if (p := check_atom(spec, a)) is not None), None)


def normalize(spec: ParameterSpec, value: Any) -> Any:
    """Strings for string parameters (YAML reads ``id: 123`` as a number) and lists for multiple ones."""
    if value is None:
        return None
    if spec.multiple:
        return [str(v) if spec.type == "string" else v for v in as_list(value)]
    return str(value) if spec.type == "string" and not isinstance(value, list) else value


def param_schema(spec: ParameterSpec, *, sweep: bool = False) -> dict[str, Any]:
    """The JSON schema an Airflow ``Param`` validates ``spec``'s value with (the trigger form uses it)."""
    item: dict[str, Any] = {"type": _JSON_TYPES[spec.type]}
    if spec.choices is not None and spec.type != "flag":
        item["enum"] = list(spec.choices)
    if spec.min is not None:
        item["minimum"] = spec.min
    if spec.max is not None:
        item["maximum"] = spec.max
    schema = {"type": "array", "items": item} if spec.multiple else item
    if sweep:
        schema = {"type": "array", "items": schema, "minItems": 1}
    elif spec.optional and spec.type != "flag":
        schema = dict(schema, type=[schema["type"], "null"])
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def format_cli(spec: ParameterSpec, value: Any) -> list[str]:
    """The command-line words for one parameter's value (none when it is unset or a false flag)."""
    if spec.type == "flag":
        if spec.pass_true_as or spec.pass_false_as:
            template = spec.pass_true_as if value else spec.pass_false_as
        else:
            template = (spec.pass_as or "--{name}") if value else None
    else:
        template = None if value is None else spec.pass_as or "--{name}={value}"
    if not template:
        return []
    bits = template.split()

    def words(atom: Any) -> list[str]:
        env = {"name": spec.name, "value": atom, "v": atom}
        return [bit.format_map(env) for bit in bits]

    if spec.multiple == "repeat":
        return [w for atom in as_list(value) for w in words(atom)]
    if spec.multiple == "separate":
        atoms = as_list(value)
        return words(spec.separator.join(str(a) for a in atoms)) if atoms else []
    return words(value)


def text_value(spec: ParameterSpec, value: Any) -> str | None:
    """The value as an environment variable holds it (``None``: leave the variable unset)."""
    if value is None:
        return None
    if spec.type == "flag":
        return "true" if value else "false"
    if spec.multiple:
        return spec.separator.join(str(v) for v in as_list(value))
    return str(value)


def placeholders(line: str) -> list[str]:
    """The parameter names a command line refers to with ``{parameter:NAME}``/``{parameter-value:NAME}``."""
    return [m.split(":", 1)[1] for m in _PLACEHOLDER.findall(line)
            if m.startswith(("parameter:", "parameter-value:"))]


def interpolate(command: Iterable[str], specs: Iterable[ParameterSpec], values: Mapping[str, Any]) -> list[str]:
    """``command``'s lines with the parameter placeholders replaced by ``values``."""
    by_name = {s.name: s for s in specs}

    def quoted(words: list[str]) -> str:
        return " ".join(shlex.quote(w) for w in words)

    def replace(match: re.Match) -> str:
        word = match.group(1)
        if word in ("parameters", "params"):
            return quoted([w for s in by_name.values() for w in format_cli(s, values.get(s.name))])
        kind, _, name = word.partition(":")
        if name in by_name and kind == "parameter":
            return quoted(format_cli(by_name[name], values.get(name)))
        if name in by_name and kind == "parameter-value":
            text = text_value(by_name[name], values.get(name))
            return "" if text is None else shlex.quote(text)
        return match.group(0)

    return [_PLACEHOLDER.sub(replace, line) for line in command]


def environment(specs: Iterable[ParameterSpec], values: Mapping[str, Any]) -> dict[str, str]:
    """``DATASTORE_PARAMETER_<NAME>`` per parameter with a value, and ``DATASTORE_PARAMETERS`` (JSON)."""
    env = {}
    for spec in specs:
        text = text_value(spec, values.get(spec.name))
        if text is not None:
            env["DATASTORE_PARAMETER_" + "".join(c if c.isalnum() else "_" for c in spec.name).upper()] = text
    env["DATASTORE_PARAMETERS"] = json.dumps(dict(values), sort_keys=True, default=str)
    return env


def spec_to_dict(spec: ParameterSpec) -> dict[str, Any]:
    """``spec`` as plain JSON (operators keep plain values, so serialized DAGs stay simple)."""
    return dict(vars(spec))


def spec_from_dict(data: Mapping[str, Any]) -> ParameterSpec:
    return ParameterSpec(**data)
