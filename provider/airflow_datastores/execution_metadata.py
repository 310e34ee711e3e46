"""Execution metadata: the JSON objects a step prints, one to a line (Valohai's convention, what
``valohai.metadata.logger()`` writes): ``{"epoch": 3, "loss": 0.17}``.

A :class:`MetadataCollector` is fed every line a step prints and keeps what a person and the next step
need, within fixed bounds, so a step that prints a million lines cannot fill a database:

* the last value of every key, exactly (at most :data:`MAX_KEYS` keys and :data:`MAX_LAST_BYTES` of
  JSON; a new key past either bound is counted, not kept, and a key whose new value does not fit is
  dropped rather than left stale);
* the series of lines with their order and time, at most :data:`MAX_POINTS` of them and
  :data:`MAX_SERIES_BYTES` of values, evenly thinned over the whole run: when the series is full every
  other point goes, and from then on only every 2nd (then 4th, 8th ...) line is kept, so the first and
  the latest stay and the middle keeps its shape;
* a line longer than :data:`MAX_LINE_BYTES`, or that is not a JSON object, is not metadata.

The summary (:meth:`MetadataCollector.summary`) is plain JSON of at most about 600 KiB however much a
step prints (the two byte budgets, plus a time and a sequence number per point). It goes with the
version (its manifest), to XCom and to the dashboard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

MAX_LINE_BYTES = 16 * 1024
MAX_KEYS = 256
MAX_POINTS = 1000
MAX_SERIES_BYTES = 256 * 1024
MAX_LAST_BYTES = 256 * 1024


def _size(value: Any) -> int:
    """Bytes of ``value`` as JSON (a number's bound without encoding it: most values are numbers)."""
    if value is None or isinstance(value, (bool, float)) or isinstance(value, int) and abs(value) < 10**18:
        return 24
    return len(json.dumps(value, default=str))


class MetadataCollector:
    """Collects execution metadata from a step's output lines (see the module's bounds).

    :param redact: applied to every value kept (the operator passes Airflow's secrets masker).
    :param max_points: the most series points kept (tests lower it).
    """

    def __init__(self, *, redact: Callable[[Any], Any] | None = None, max_points: int = MAX_POINTS) -> None:
        self.redact = redact or (lambda value: value)
        self.max_points = max(2, max_points)
        self.count = 0  # lines that were metadata
        self.stride = 1
        self.points: list[dict[str, Any]] = []
        self.point_sizes: list[int] = []
        self.series_bytes = 0
        self.last: dict[str, Any] = {}
        self.last_sizes: dict[str, int] = {}
        self.last_bytes = 0
        self.keys_dropped = 0
        self.lines_too_long = 0

    def feed(self, line: str) -> bool:
        """Take one line of output; whether it was metadata."""
        text = line.strip()
        if not (text.startswith("{") and text.endswith("}")):
            return False
        if len(text.encode()) > MAX_LINE_BYTES:
            self.lines_too_long += 1
            return False
        try:
            values = json.loads(text)
        except ValueError:
            return False
        if isinstance(values, dict) and isinstance(values.get("vh_metadata"), dict) and len(values) == 1:
            values = values["vh_metadata"]  # what valohai-utils prints inside a Valohai deployment
        if not isinstance(values, dict) or not values:
            return False
        self.add(values)
        return True

    def add(self, values: Mapping[str, Any]) -> None:
        """Record one batch of values (what one line holds)."""
        self.count += 1
        kept = {}
        for key, value in values.items():
            key = str(key)
            if key not in self.last and len(self.last) >= MAX_KEYS:
                self.keys_dropped += 1
                continue
            value = self.redact(value)
            size = _size(key) + _size(value)
            self.last_bytes -= self.last_sizes.pop(key, 0)
            if self.last_bytes + size > MAX_LAST_BYTES:
                self.last.pop(key, None)  # its last value would not be the last: none is better
                self.keys_dropped += 1
                continue
            kept[key] = self.last[key] = value
            self.last_sizes[key] = size
            self.last_bytes += size
        if (self.count - 1) % self.stride == 0 and kept:
            self.points.append({"seq": self.count, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                                "values": kept})
            self.point_sizes.append(_size(kept))
            self.series_bytes += self.point_sizes[-1]
            while len(self.points) > self.max_points or self.series_bytes > MAX_SERIES_BYTES:
                self.points, self.point_sizes = self.points[::2], self.point_sizes[::2]
                self.series_bytes = sum(self.point_sizes)
                self.stride *= 2

    def summary(self) -> dict[str, Any]:
        """The plain-JSON record: ``last``, ``series``, ``count`` and what the bounds left out."""
        return {"count": self.count, "last": dict(self.last), "series": list(self.points), "stride": self.stride,
                "keys_dropped": self.keys_dropped, "lines_too_long": self.lines_too_long}


def numeric_series(summary: Mapping[str, Any] | None) -> dict[str, list[tuple[int, float]]]:
    """``key -> [(line number, value), ...]`` for every key whose values are numbers (what a chart draws)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for point in (summary or {}).get("series", ()):
        for key, value in point.get("values", {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                series.setdefault(key, []).append((point["seq"], value))
    return series


def last_value(summary: Mapping[str, Any] | None, key: str) -> Any:
    """The last value of ``key`` a step printed. :raises KeyError: it never printed one."""
    return (summary or {}).get("last", {})[key]
