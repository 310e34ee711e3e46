"""How the CLI writes: a command's results on stdout (a table for people, or exactly one JSON document for
programs), everything else on stderr."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from airflow_datastores.redaction import redact

FORMATS = ("table", "json")


class Output:
    """Where a command's results go, and in which form.

    :param form: ``table`` (aligned text for people) or ``json`` (one document for programs).
    :param stream: the file the results are written to (the process's stdout).
    """

    def __init__(self, *, form: str, stream: TextIO) -> None:
        self.form = form
        self.stream = stream

    @property
    def json(self) -> bool:
        return self.form == "json"

    def emit(self, data: object, text: str) -> None:
        """Write one result: ``data`` as JSON, or ``text`` for people."""
        print(json.dumps(data, indent=2, default=str) if self.json else text, file=self.stream, flush=True)

    def error(self, message: str) -> None:
        """Report a failed command: ``error: ...`` on stderr, and ``{"error": ...}`` as the JSON result."""
        message = redact(message)
        if self.json:
            print(json.dumps({"error": message}), file=self.stream, flush=True)
        print(f"error: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def results_on_stdout_only(form: str) -> Iterator[Output]:
    """An :class:`Output` on stdout; while the command runs, everything else goes to stderr: ``sys.stdout``
    and, when it is the process's file descriptor 1, that descriptor too (log handlers made at import time
    hold it)."""
    stdout = sys.stdout
    try:
        real = stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False
    saved = None
    if real:
        stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        results = open(saved, "w", closefd=False)  # noqa: SIM115 - flushed and dropped below
    else:
        results = stdout
    sys.stdout = sys.stderr
    try:
        yield Output(form=form, stream=results)
    finally:
        results.flush()
        sys.stdout = stdout
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows as an aligned text table; numbers and sizes are right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].replace(".", "", 1)
    return head.isdigit()
