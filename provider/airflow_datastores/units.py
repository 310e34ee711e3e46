"""Sizes, rates and durations written for people (and durations read from them)."""

from __future__ import annotations

from datetime import timedelta

from airflow_datastores.errors import InvalidSpec

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(num_bytes: float) -> str:
    """Decimal (SI) size with one decimal place: ``28.9 kB``, ``57.6 GB``, ``512 B``."""
    value = float(num_bytes)
    for unit in _UNITS:
        if abs(round(value, 1)) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def human_rate(bytes_per_second: float) -> str:
    return f"{human_size(bytes_per_second)}/s"


def human_duration(seconds: float) -> str:
    """``4 s``, ``3 min 20 s``, ``2 h 05 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def plural(count: int, noun: str) -> str:
    """``1 file``, ``3 files``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_duration(delta: timedelta) -> str:
    """A duration as people write it: ``24h``, ``7d``, ``90s`` -> ``1m 30s``, ``1h 30m``."""
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        hours, minutes = seconds // 3600, seconds % 3600 // 60
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if seconds >= 60:
        minutes, rest = seconds // 60, seconds % 60
        return f"{minutes}m {rest}s" if rest else f"{minutes}m"
    return f"{seconds}s"


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` -> timedelta."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise InvalidSpec(f"{text!r} is not a duration; write a number and a unit, e.g. 30m, 12h, 7d, 2w")
    return timedelta(**{units[text[-1]]: int(text[:-1])})
