"""A pipeline file checked against Valohai's schema (with :mod:`.extension`), its mistakes named by line.

``jsonschema`` reports a mistake by its JSON path (``[3, 'step', 'parameters', 0, 'type']``); here the
path becomes the file's line and the message names the item as a person would (``type of parameter 'n'
of step 's' is 'int'; use one of flag, float, integer, string``), with a did-you-mean for a misspelt key.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from airflow_datastores.pipelines.extension import extended_schema
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.yamlfile import line_of

#: How an item of each list is called: ``parameters`` -> ``parameter 'lr' of step 'train'``.
_ITEM_NOUNS = {"parameters": "parameter", "inputs": "input", "environment-variables": "environment variable",
               "mounts": "mount", "nodes": "node", "edges": "edge", "outputs": "output", "actions": "action",
               "parameter-sets": "parameter set", "files": "file"}
_KINDS = {"step", "pipeline", "task", "endpoint", "deployment", "blueprint"}
_JSON_TYPES = {"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
               "integer": "a whole number", "boolean": "true or false", "null": "empty"}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(extended_schema())


def check_schema(reader: Reader, document: Any) -> None:
    """Raise the first mistake in the file (by line) that the extended Valohai schema finds."""
    errors = list(_validator().iter_errors(document))
    if not errors:
        return
    found = [(_line(document, e), e) for e in (_specific(e) for e in errors)]
    line, error = min(found, key=lambda pair: pair[0])
    raise reader.error(line, _message(document, error))


def describe(document: Any, path: Sequence[Any]) -> str:
    """How a person names the value at ``path``: ``'default' of parameter 'lr' of step 'train'``."""
    what, node, trailing = "the file", document, None
    for index, step in enumerate(path):
        child = _child(node, step)
        if index == 1 and step in _KINDS:
            name = child.get("name") if isinstance(child, dict) else None
            what, trailing = (f"{step} {name!r}" if isinstance(name, str) else f"a {step}"), None
        elif isinstance(step, int) and index == 0:
            what, trailing = f"item {step + 1} of the file", None
        elif isinstance(step, int) and trailing in _ITEM_NOUNS:
            noun = _ITEM_NOUNS[trailing]
            name = child.get("name") if isinstance(child, dict) else None
            what = f"{noun} {name!r} of {what}" if isinstance(name, str) else f"{noun} {step + 1} of {what}"
            trailing = None
        elif step == "override":
            what, trailing = f"the override of {what}", None
        elif step == "rules":
            what, trailing = f"the rules of {what}", None
        elif isinstance(step, int):
            what, trailing = f"item {step + 1} of {trailing!r} of {what}", None
        else:
            if trailing is not None:
                what = f"{trailing!r} of {what}"
            trailing = step
        node = child
    return f"{trailing!r} of {what}" if trailing is not None else what


def _child(node: Any, step: Any) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return None


def _line(document: Any, error: ValidationError) -> int:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _extra_keys(error)
        if extra:
            return line_of(document, [*path, extra[0]], key=True)
    return line_of(document, path, key=True)


def _extra_keys(error: ValidationError) -> list[str]:
    known = error.schema.get("properties", {})
    return [k for k in error.instance if k not in known]


def _specific(error: ValidationError) -> ValidationError:
    """For an ``anyOf``/``oneOf`` that nothing matched, the mistake within the branch the value was
    meant for (the one its type and ``type:`` key fit), else ``error`` itself."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)

        def fit(errors: list[ValidationError]) -> tuple[int, int]:
            wrong_kind = any(not e.relative_path and e.validator in ("type", "const") for e in errors)
            wrong_const = any(list(e.relative_path) == ["type"] and e.validator == "const" for e in errors)
            return (wrong_kind or wrong_const, len(errors))

        chosen = min(branches.values(), key=fit)
        if fit(chosen)[0] and len(branches) > 1:
            break  # the value is none of the kinds: say so rather than pick one
        error = best_match(chosen)
    return error


def _message(document: Any, error: ValidationError) -> str:
    path = list(error.absolute_path)
    what = describe(document, path)
    value = error.instance
    kind = error.validator
    if kind == "additionalProperties":
        extra = _extra_keys(error)
        allowed = sorted(error.schema.get("properties", {}))
        owner = describe(document, path)
        return (f"unknown key {extra[0]!r} in {owner}{suggest(extra[0], allowed)}; allowed: {', '.join(allowed)}"
                if extra else f"{owner}: {error.message}")
    if kind == "required":
        missing = next((k for k in error.validator_value if k not in value), error.validator_value[0])
        return f"{what} needs {missing!r}"
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if not path:
            return "the file must be a list of '- step:' and '- pipeline:' items"
        return f"{what} must be {' or '.join(_JSON_TYPES.get(t, t) for t in wanted)}, not {value!r}"
    if kind == "enum":
        choices = [str(c) for c in error.validator_value]
        return f"{what} is {value!r}; use one of {', '.join(choices)}{suggest(value, choices)}"
    if kind == "const":
        return f"{what} is {value!r}; it must be {error.validator_value!r}"
    if kind == "pattern":
        return f"{what} is {value!r}, which does not have the form {error.validator_value!r}"
    if kind in ("minimum", "maximum", "maxLength", "minLength"):
        return f"{what}: {error.message}"
    if kind == "not" and isinstance(value, dict) and "step" in value and "task" in value:
        return f"{what} gives both a 'step' and a 'task'; give one"
    if kind in ("anyOf", "oneOf"):
        forms = [s.get("description") or s.get("title") or _JSON_TYPES.get(s.get("type"), "another form")
                 for s in error.validator_value if isinstance(s, dict)]
        return f"{what} is none of the forms it may take" + (f" ({'; '.join(forms)})" if forms else "")
    return f"{what}: {error.message}"
