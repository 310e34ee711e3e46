"""Carry log records and output lines from the mounted child process to the task's own loggers."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

_MAX_LINE = 64 * 1024


class ForwardingHandler(logging.Handler):
    """In the child: send every record, already formatted, through a multiprocessing connection."""

    def __init__(self, send: Callable[[Any], None]) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(("log", record_to_dict(record)))
        except Exception:  # noqa: BLE001 - logging must never break the task
            self.handleError(record)


def record_to_dict(record: logging.LogRecord) -> dict[str, Any]:
    """A picklable copy of ``record`` with its message rendered and its traceback as text."""
    data = dict(record.__dict__)
    data["msg"] = record.getMessage()
    data["args"] = None
    if record.exc_info:
        data["exc_text"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    data["exc_info"] = None
    data.pop("message", None)
    return {key: value for key, value in data.items() if _is_plain(value)}


def emit_record(data: dict[str, Any]) -> None:
    """In the parent: hand a forwarded record to the logger of the same name."""
    record = logging.makeLogRecord(data)
    logging.getLogger(record.name).handle(record)


def route_to_child_handler(send: Callable[[Any], None]) -> None:
    """In the child: every logger's records go to one :class:`ForwardingHandler` on the root logger.

    The inherited handlers write to the parent's files and sockets; two processes writing those at
    once would interleave, so the child's records travel to the parent, which logs them.
    """
    root = logging.getLogger()
    for logger in [root, *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger) and logger.handlers:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            if logger is not root:
                logger.propagate = True
    root.addHandler(ForwardingHandler(send))


class LineLogger:
    """Feed it bytes; it logs each complete line to ``logger`` (a leading ``LEVEL`` picks the level).

    :param on_line: also called with each line's text (a step's execution metadata is read from them).
    """

    def __init__(
        self, logger: logging.Logger, *, parse_level: bool = False, level: int = logging.INFO,
        on_line: Callable[[str], Any] | None = None,
    ) -> None:
        self.logger = logger
        self.parse_level = parse_level
        self.level = level
        self.on_line = on_line
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._emit(line)
        if len(self._buffer) > _MAX_LINE:
            self._emit(self._buffer)
            self._buffer = b""

    def close(self) -> None:
        if self._buffer:
            self._emit(self._buffer)
            self._buffer = b""

    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        level = self.level
        if self.parse_level:
            name, _, rest = text.partition(" ")
            parsed = logging.getLevelName(name)
            if isinstance(parsed, int):
                # Continuation lines (a traceback) keep the level of the line that started them.
                self.level, level, text = parsed, parsed, rest
        self.logger.log(level, "%s", text)
        if self.on_line is not None:
            self.on_line(text)


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, tuple, list, dict))
