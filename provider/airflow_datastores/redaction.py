"""Credentials written into URLs never leave the process: one place strips and redacts them.

A URL may carry a password (``https://user:secret@host/file``); stores take it as their credentials and
keep only the URL without it, and every message that shows a URL the user typed goes through
:func:`redact` first.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

#: ``user[:password]@`` right after a ``//`` (what :func:`remove_userinfo` drops).
_ANY_USERINFO = re.compile(r"(?<=//)[^/@\s]+@")
#: ``scheme://user:password@``; the password runs to the host's ``@`` (the last before a ``/``), as
#: :func:`split_userinfo` reads it, so an unescaped ``@`` in it does not leave its tail shown.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@\s:'\"]*)(?::[^/\s'\"]*)?@")


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m.group(0).count(":") > 1
                         else m.group(0), text)


def remove_userinfo(text: str) -> str:
    """``text`` with the whole user info of every URL removed (pages show where, never who)."""
    return _ANY_USERINFO.sub("", text)


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without user info, (user, password) or None)``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), (unquote(user), unquote(password))
