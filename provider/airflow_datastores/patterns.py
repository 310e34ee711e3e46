"""Wildcards in object keys: ``*`` matches within one path segment, ``**`` across segments, ``?`` one
character, ``[abc]`` one of those (so ``[?]``, ``[*]`` and ``[[]`` name those characters themselves).
Every character a key can hold matches, newlines included. A pattern is resolved by listing the longest
literal prefix before its first wildcard.

A key without a wildcard names one object or a directory, never a sibling whose name merely starts
the same (``data`` is ``data`` and ``data/...``, not ``data-cache/...``)."""

from __future__ import annotations

import re
from functools import lru_cache

_WILDCARDS = "*?["


def has_wildcard(key: str) -> bool:
    return any(char in key for char in _WILDCARDS)


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard, cut back to a whole directory."""
    first = min((pattern.find(c) for c in _WILDCARDS if c in pattern), default=len(pattern))
    head = pattern[:first]
    return head[: head.rfind("/") + 1] if "/" in head else ""


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regular expression that matches whole keys against ``pattern``."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # zero or more whole directories
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    # DOTALL: a key may hold a newline, and '**' must match it as any other character.
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(pattern: str, key: str) -> bool:
    return compile_pattern(pattern).match(key) is not None


def list_location(store, key: str):
    """The objects ``key`` names in ``store``: the matches of a pattern; else the object ``key`` and
    everything below the directory ``key/`` (a store without listings, HTTP, gives the object only)."""
    from airflow_datastores.errors import NotFound

    if has_wildcard(key):
        return [info for info in store.list(literal_prefix(key)) if matches(key, info.key)]
    found = []
    if key and not key.endswith("/"):
        try:
            found.append(store.stat(key))
        except NotFound:
            pass
    if found and not store.writable:  # HTTP: a file, and nothing can be below it that we could list
        return found
    directory = key.rstrip("/") + "/" if key.rstrip("/") else ""
    return found + [info for info in store.list(directory) if not info.key.endswith("/")]
