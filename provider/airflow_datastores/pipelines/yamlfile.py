"""YAML with line numbers: every mapping and list remembers where it starts, so errors name the line."""

from __future__ import annotations

import yaml

from airflow_datastores.errors import PipelineError


class Map(dict):
    """A YAML mapping; ``line`` is where it starts, ``key_lines`` where each key is (1-based)."""

    line: int
    key_lines: dict


class List(list):
    """A YAML list; ``line`` is where it starts, ``item_lines`` where each item is (1-based)."""

    line: int
    item_lines: list


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line they start on."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Map:
    result = Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise PipelineError(f"{key_node.start_mark.line + 1}: key {key!r} appears twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> List:
    result = List(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, *, name: str):
    """Parse ``text`` (the file called ``name``) into Map/List values.

    :raises PipelineError: ``name:line: ...`` for invalid YAML or a repeated key.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except PipelineError as err:
        raise PipelineError(f"{name}:{err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(err, "problem", None) or str(err)
        raise PipelineError(f"{name}:{line}: this is not valid YAML: {problem}") from None


def merged(base: Map, override: Map) -> Map:
    """``base`` with the keys of ``override`` replacing its own; lines follow whichever value won."""
    result = Map(base)
    result.line = override.line
    result.key_lines = dict(base.key_lines)
    result.update(override)
    result.key_lines.update(override.key_lines)
    return result
