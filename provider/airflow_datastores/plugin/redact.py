"""Nothing secret leaves the dashboard: URLs lose user info and query strings, texts lose masked secrets.

Store URLs carry no credentials by design, but an input URL may be a presigned or SAS URL whose query
string is a key; the dashboard shows where a thing is, never how to open it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from airflow_datastores.redaction import remove_userinfo

_QUERY = re.compile(r"(\w+://[^\s?#'\"]*)\?[^\s'\"]*?(?=[:,;.)\]]*(?:[\s'\"]|$))")


def safe_url(url: str | None) -> str | None:
    """``url`` without user info, query string and fragment (``?…`` shows that a query was there)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    clean = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    return clean + ("?…" if parts.query else "")


def safe_text(text: str, *, limit: int = 300) -> str:
    """One line of ``text`` for a page: first line, URLs made safe, secrets Airflow masks replaced."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = remove_userinfo(line)
    line = _QUERY.sub(lambda m: m.group(1) + "?…", line)
    line = _mask(line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _mask(text: str) -> str:
    """Apply the secrets masker of the API server process (connection passwords and extras it has seen)."""
    for module in ("airflow._shared.secrets_masker", "airflow.sdk._shared.secrets_masker"):
        try:
            redact = __import__(module, fromlist=["redact"]).redact
        except (ImportError, AttributeError):
            continue
        try:
            text = str(redact(text))
        except Exception:  # noqa: BLE001 - masking is a second line of defence; never break a page
            continue
    return text
