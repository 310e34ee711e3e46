"""Reading one pipeline file: its document with lines, and the mistakes and notes that name file:line."""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.yamlfile import line_of

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
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Reader:
    """One file being read: where it is, its document, whether notes are errors, and the notes so far.

    :param path: the YAML file.
    :param strict: make every note an error instead of a log line.
    """

    def __init__(self, path: str, *, strict: bool = False) -> None:
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self.name = os.path.basename(path)
        self.strict = strict
        self.document: Any = None
        self.notes: list[str] = []
        self.queues: dict[str, str] | None = None  # [datastores] environment_queues, read when first needed
        self._noted: set[tuple[int, str]] = set()

    def error(self, line: int, message: str) -> PipelineError:
        return PipelineError(f"{self.name}:{line}: {message}")

    def line(self, path: Sequence[Any], *, key: bool = False) -> int:
        """The line of the value at ``path`` in the document (see :func:`.yamlfile.line_of`)."""
        return line_of(self.document, path, key=key)

    def note(self, line: int, message: str, *, key: str | None = None, once: bool = False) -> None:
        """One log line for something Airflow does differently (an error in strict mode).

        :param key: what the note is about; a (line, key) is noted once, even when a node's override
            reads its step again.
        :param once: note ``key`` once in the file, on its first line (a key every step writes).
        """
        seen = (0 if once else line, key or message)
        if seen in self._noted:
            return
        self._noted.add(seen)
        if self.strict:
            raise self.error(line, f"{message} (strict mode; remove the key, or load with strict=False)")
        text = f"{self.name}:{line}: {message}"
        self.notes.append(text)
        log.warning("%s", text)
