"""Mount options: which each mount type takes, and what value each needs.

A DAG author gives options as a dict (``{"vers": "4.1", "hard": True}``), a string
(``"vers=4.1,hard"``) or a list of ``name[=value]``. :func:`parse_options` reads any of them into
``(name, value)`` pairs, ``value`` None for a flag, and refuses unknown names, reserved names and bad
values with a message that says what to write instead. A mount made with ``strict_options=False`` (a
YAML pipeline's, as Valohai takes any option) keeps an unknown option as written, for the kernel's
mount(8); the userspace NFS driver refuses it (:func:`unknown_options`).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_datastores.errors import MountError

_FLAG = "flag"
_INT = "int"
_PORT = "port"
_ADDRESS = "address"
_NFS_VERSIONS = ("3", "4", "4.0", "4.1", "4.2")

#: Options every mount type takes: the usual mount flags that make a mount safer.
_GENERIC_OPTIONS: dict[str, Any] = {
    "nosuid": _FLAG,
    "nodev": _FLAG,
    "noexec": _FLAG,
    "noatime": _FLAG,
    "nodiratime": _FLAG,
    "relatime": _FLAG,
}

#: nfs(5) options that are accepted, with the kind of value each takes.
_NFS_OPTIONS: dict[str, Any] = {
    **_GENERIC_OPTIONS,
    "vers": _NFS_VERSIONS,
    "nfsvers": _NFS_VERSIONS,
    "minorversion": ("0", "1", "2"),
    "port": _PORT,
    "mountport": _PORT,
    "proto": ("tcp", "tcp6", "rdma"),
    "timeo": _INT,
    "retrans": _INT,
    "rsize": _INT,
    "wsize": _INT,
    "nconnect": _INT,
    "actimeo": _INT,
    "acregmin": _INT,
    "acregmax": _INT,
    "acdirmin": _INT,
    "acdirmax": _INT,
    "hard": _FLAG,
    "soft": _FLAG,
    "softerr": _FLAG,
    "intr": _FLAG,
    "nointr": _FLAG,
    "ac": _FLAG,
    "noac": _FLAG,
    "cto": _FLAG,
    "nocto": _FLAG,
    "lock": _FLAG,
    "nolock": _FLAG,
    "resvport": _FLAG,
    "noresvport": _FLAG,
    "sharecache": _FLAG,
    "nosharecache": _FLAG,
    "fsc": _FLAG,
    "nofsc": _FLAG,
    "sec": ("sys", "krb5", "krb5i", "krb5p"),
    "lookupcache": ("all", "none", "positive", "pos"),
    "local_lock": ("none", "all", "flock", "posix"),
    "clientaddr": _ADDRESS,
}

OPTIONS_BY_TYPE: dict[str, dict[str, Any]] = {"nfs": _NFS_OPTIONS, "bind": dict(_GENERIC_OPTIONS)}

#: Options that have a field of their own, or that would change what kind of mount this is.
_RESERVED_OPTIONS = {
    "ro": "set readonly: true instead of the 'ro' option",
    "rw": "mounts are read-write unless readonly: true; drop the 'rw' option",
    "bind": "set type: bind instead of the 'bind' option",
    "rbind": "recursive bind mounts are not supported; bind each directory on its own",
    "remount": "'remount' is not a mount option a task may set",
    "addr": "give the server in the source, as server:/path",
}


def parse_options(options: Any, mount_type: str, *, strict: bool = True) -> tuple[tuple[str, str | None], ...]:
    """``options`` in any form a mount takes, checked for ``mount_type``: ``(name, value)`` pairs in
    the order first given (a name given twice keeps its last value), ``value`` None for a flag.

    :param strict: refuse an option that is not in :data:`OPTIONS_BY_TYPE` (else keep it as written).
    """
    if options is None or options == ():
        return ()
    known = OPTIONS_BY_TYPE[mount_type]
    items: dict[str, str | None] = {}
    for name, value in _option_pairs(options):
        name = name.strip()
        if name in _RESERVED_OPTIONS:
            raise MountError(f"options: {name!r}: {_RESERVED_OPTIONS[name]}")
        if name not in known and not strict:
            items[name] = None if value is None or value is True else str(value)
            continue
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise MountError(
                f"options: {name!r} is not a known {mount_type} mount option{also}; "
                f"known: {', '.join(sorted(known))}"
            )
        items[name] = _option_value(name, value, known[name])
    return tuple(items.items())


def unknown_options(mount: Any) -> list[str]:
    """The options of ``mount`` that are not in :data:`OPTIONS_BY_TYPE` (kept by ``strict_options=False``)."""
    known = OPTIONS_BY_TYPE[mount.type]
    return [name for name, _ in mount.option_items if name not in known]


def _option_pairs(options: Any) -> list[tuple[str, Any]]:
    """A dict, a ``"name=value,..."`` string or a list, as unchecked ``(name, value)`` pairs."""
    if isinstance(options, str):
        return [_split_option(part) for part in options.split(",") if part.strip()]
    if isinstance(options, Mapping):
        return [
            (str(name), None if value is True else value)
            for name, value in options.items()
            if value is not False and value is not None
        ]
    if isinstance(options, Sequence):
        return [_sequence_item(part) for part in options]
    raise MountError(f"options: {options!r} is not a dict, a 'name=value,...' string or a list")


def _sequence_item(part: Any) -> tuple[str, Any]:
    if isinstance(part, str):
        return _split_option(part)
    if isinstance(part, Sequence) and len(part) == 2:
        return str(part[0]), part[1]
    raise MountError(f"options: {part!r} is not 'name' or 'name=value'")


def _split_option(part: str) -> tuple[str, str | None]:
    name, sep, value = part.strip().partition("=")
    return name, (value if sep else None)


def _option_value(name: str, value: Any, kind: Any) -> str | None:
    if kind == _FLAG:
        if value not in (None, True):
            raise MountError(f"options: {name!r} is a flag and takes no value (got {value!r})")
        return None
    if value is None or isinstance(value, bool):
        raise MountError(f"options: {name!r} needs a value")
    text = str(value).strip()
    if isinstance(kind, tuple):
        if text not in kind:
            raise MountError(f"options: {name}={text!r} is not one of {', '.join(kind)}")
        return text
    if kind in (_INT, _PORT):
        if not text.isdigit():
            raise MountError(f"options: {name}={text!r} is not a whole number")
        if kind == _PORT and not 0 <= int(text) <= 65535:
            raise MountError(f"options: {name}={text} is not a TCP port (0-65535)")
        return str(int(text))
    if kind == _ADDRESS:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise MountError(f"options: {name}={text!r} is not an IP address") from None
    raise AssertionError(kind)
