"""Reading one pipeline file's YAML values: checked shapes, and mistakes and notes that name file:line."""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.yamlfile import List, Map

log = logging.getLogger("airflow_datastores.pipelines")


def slug(name: str) -> str:
    """A valid Airflow id for a Valohai name: ``Train model`` -> ``train_model``."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_.-").lower()
    return text or "unnamed"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... so no two ids of one DAG (or file) are the same."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def suggest(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or nothing."""
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Reader:
    """One file being read: where it is, whether notes are errors, and the notes so far.

    :param path: the YAML file.
    :param strict: make every note about a Valohai-only key an error instead of a log line.
    """

    def __init__(self, path: str, *, strict: bool = False) -> None:
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self.name = os.path.basename(path)
        self.strict = strict
        self.notes: list[str] = []
        self.queues: dict[str, str] | None = None  # [datastores] environment_queues, read when first needed
        self._noted: set[tuple[int, str]] = set()

    def error(self, line: int, message: str) -> PipelineError:
        return PipelineError(f"{self.name}:{line}: {message}")

    def note(self, line: int, message: str, *, key: str | None = None) -> None:
        """One log line for something Airflow does differently (an error in strict mode).

        :param key: what the note is about; a (line, key) is noted once, even when a node's override
            reads its step again.
        """
        if (line, key or message) in self._noted:
            return
        self._noted.add((line, key or message))
        if self.strict:
            raise self.error(line, f"{message} (strict mode; remove the key, or load with strict=False)")
        text = f"{self.name}:{line}: {message}"
        self.notes.append(text)
        log.warning("%s", text)

    def mapping(self, value: Any, line: int, what: str, allowed: tuple[str, ...],
                notes: dict[str, str] | None = None, *, named: str | None = None) -> Map:
        """``value`` checked to be a mapping of ``allowed`` keys; ``notes`` keys are noted (as about
        ``named``, else ``what``)."""
        if not isinstance(value, Map):
            raise self.error(line, f"{what} must be a mapping of keys to values")
        for key in value:
            if notes and key in notes:
                self.note(value.key_lines[key], f"{key!r} of {named or what}: " + notes[key].format(value=value[key]),
                          key=key)
            elif key not in allowed:
                known = (*allowed, *(notes or ()))
                raise self.error(value.key_lines[key], f"unknown key {key!r} in {what}"
                                                       f"{suggest(key, known)}; allowed: {', '.join(known)}")
        return value

    def required_name(self, value: Map, what: str) -> str:
        name = value.get("name")
        if isinstance(name, (int, float)) and not isinstance(name, bool):
            name = str(name)
        if not name or not isinstance(name, str):
            raise self.error(value.line, f"{what} needs a 'name' (a string)")
        return name

    def typed(self, value: Map, key: str, types, what: str, default=None):
        """``value[key]`` checked to be of ``types`` (a bool only if ``bool`` is one), else ``default``."""
        if key not in value or value[key] is None:
            return default
        kinds = types if isinstance(types, tuple) else (types,)
        if not isinstance(value[key], types) or (isinstance(value[key], bool) and bool not in kinds):
            names = " or ".join(t.__name__ for t in kinds)
            raise self.error(value.key_lines[key], f"{key!r} of {what} must be a {names}, not {value[key]!r}")
        return value[key]

    def items(self, value: Map, key: str, what: str) -> list[tuple[Any, int]]:
        """The list ``value[key]`` as (item, line) pairs."""
        raw = self.typed(value, key, list, what, default=List())
        return list(zip(raw, getattr(raw, "item_lines", [value.key_lines.get(key, value.line)] * len(raw)),
                        strict=True))
