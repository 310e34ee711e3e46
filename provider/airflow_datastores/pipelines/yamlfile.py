"""YAML with line numbers: every mapping and list remembers where it starts, so messages name the line.

A key written twice in one mapping keeps its last value, as PyYAML (and so Valohai) reads it; the
loader remembers both lines so the reader can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class RepeatedKey:
    """``key`` written on ``first`` and again on ``last`` in one mapping; the last value is kept."""

    key: Any
    first: int
    last: int


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line they start on."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.repeated: list[RepeatedKey] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Map:
    loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor), as SafeLoader reads them
    result = Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result.key_lines:
            loader.repeated.append(RepeatedKey(key=key, first=result.key_lines[key], last=line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> List:
    result = List(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, *, name: str) -> tuple[Any, list[RepeatedKey]]:
    """Parse ``text`` (the file called ``name``) into Map/List values, and the keys written twice.

    :raises PipelineError: ``name:line: ...`` for text that is not YAML.
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.repeated
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(err, "problem", None) or str(err)
        raise PipelineError(f"{name}:{line}: this is not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def line_of(document: Any, path: Sequence[Any], *, key: bool = False) -> int:
    """The line of the value at ``path`` (keys and indexes from the top), or of its nearest ancestor.

    :param key: for a mapping key at the end of ``path``, the line of the key rather than of its value.
    """
    line, node = getattr(document, "line", 1), document
    for index, step in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, Map) and step in node:
            line, node = node.key_lines[step], node[step]
            if not (key and last):
                line = getattr(node, "line", line)
        elif isinstance(node, List) and isinstance(step, int) and 0 <= step < len(node):
            line, node = node.item_lines[step], node[step]
        else:
            break
    return line


def merged(base: Map, override: Map) -> Map:
    """``base`` with the keys of ``override`` replacing its own; lines follow whichever value won."""
    result = Map(base)
    result.line = override.line
    result.key_lines = dict(base.key_lines)
    result.update(override)
    result.key_lines.update(override.key_lines)
    return result


def plain(value: Any) -> Any:
    """``value`` with every Map and List made a plain dict and list (deep)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
