"""What a DAG author writes for a mount, and the checks a spec must pass on its own.

``Mount("10.0.0.2:/mystore", "/mnt/store", readonly=True)`` or, from a YAML pipeline,
``{"source": "10.0.0.2:/mystore", "destination": "/mnt/store", "readonly": true}`` or the short form
``"10.0.0.2:/mystore:/mnt/store:ro"``. Everything here is plain data: nothing is mounted, nothing
touches the network. Checks that depend on the task (its inputs and outputs directories, other
mounts, symlinks on the worker) live in :mod:`airflow_datastores.mounts.validation`.
"""

from __future__ import annotations

import difflib
import ipaddress
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_datastores.errors import MountError

MOUNT_TYPES = ("nfs", "bind")
DRIVERS = ("auto", "kernel", "userspace")
SPEC_KEYS = ("source", "destination", "type", "readonly", "options", "driver")
NFS_DEFAULT_PORT = 2049

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

#: Never mount on these nor anywhere below them: the system would stop working.
SYSTEM_TREES = (
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/run",
)
#: Never mount over these directories themselves (a directory below them is fine).
SYSTEM_DIRECTORIES = ("/", "/home", "/root", "/tmp", "/var", "/opt", "/srv", "/mnt", "/media")

_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
_NFS_SOURCE = re.compile(r"(?P<host>\[[^\]]*\]|[^:/\[\]]*):(?P<path>.*)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Mount:
    """A directory the task sees while it runs: an NFS share or a directory of the worker.

    :param source: ``server:/path`` for NFS (``fs-1234aa62.efs.eu-west-1.amazonaws.com:/``,
        ``10.0.0.2:/mystore``, ``[fd00::2]:/data``), or an absolute directory of the worker for
        ``bind``.
    :param destination: absolute path where the task sees it.
    :param type: ``nfs`` or ``bind``; default: ``bind`` for an absolute path, ``nfs`` otherwise.
    :param readonly: mount read-only; writes fail with "Read-only file system".
    :param options: mount options as a dict (``{"vers": "4.1", "hard": True}``), a string
        (``"vers=4.1,hard"``) or a list of ``name[=value]``. NFS takes the nfs(5) options listed in
        ``OPTIONS_BY_TYPE["nfs"]``; both types take ``nosuid``, ``nodev``, ``noexec`` and the atime
        flags.
    :param driver: for NFS, ``auto`` (the kernel's NFS client where there is one, else user space),
        ``kernel`` or ``userspace`` (FUSE over nfs-rs). Bind mounts only take ``auto``.
    """

    source: str
    destination: str
    type: str | None = None
    readonly: bool = False
    options: Any = field(default=(), hash=False)
    driver: str = "auto"
    #: ``(name, value)`` pairs in the order given; ``value`` is None for a flag. After construction,
    #: ``options`` is the same as a dict, flags mapping to True.
    option_items: tuple[tuple[str, str | None], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mount_type = self.type if self.type is not None else _infer_type(self.source)
        if mount_type not in MOUNT_TYPES:
            raise MountError(f"type: {mount_type!r} is not a mount type; use one of {', '.join(MOUNT_TYPES)}")
        if not isinstance(self.readonly, bool):
            raise MountError(f"readonly: {self.readonly!r} is not true or false")
        if self.driver not in DRIVERS:
            raise MountError(f"driver: {self.driver!r} is not a driver; use one of {', '.join(DRIVERS)}")
        if mount_type == "bind" and self.driver != "auto":
            raise MountError(f"driver: {self.driver!r} applies to NFS mounts only; a bind mount takes none")
        source = normalize_nfs_source(self.source) if mount_type == "nfs" else _bind_source(self.source)
        destination = normalize_destination(self.destination)
        items = _option_items(self.options, mount_type)
        object.__setattr__(self, "type", mount_type)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "destination", destination)
        object.__setattr__(self, "options", {name: True if value is None else value for name, value in items})
        object.__setattr__(self, "option_items", items)

    @property
    def server(self) -> str:
        """The NFS server's host name or address (IPv6 without brackets)."""
        return split_nfs_source(self.source)[0]

    @property
    def export(self) -> str:
        """The path on the NFS server, always absolute."""
        return split_nfs_source(self.source)[1]

    @property
    def port(self) -> int:
        """The NFS server's TCP port: the ``port`` option, else 2049."""
        value = self.options.get("port")
        return int(value) if value not in (None, "0") else NFS_DEFAULT_PORT

    @property
    def nfs_version(self) -> str | None:
        """``vers``/``nfsvers`` (with ``minorversion`` folded in), or None to negotiate."""
        vers = self.options.get("vers") or self.options.get("nfsvers")
        minor = self.options.get("minorversion")
        if vers == "4" and minor is not None:
            return f"4.{minor}"
        return vers

    def options_string(self, *extra: str) -> str:
        """The options as ``mount -o`` takes them, with ``extra`` names appended."""
        parts = [name if value is None else f"{name}={value}" for name, value in self.option_items]
        return ",".join([*parts, *extra])

    def describe(self) -> str:
        """One line for logs: ``10.0.0.2:/mystore -> /mnt/store (nfs, read-only)``."""
        access = "read-only" if self.readonly else "read-write"
        return f"{self.source} -> {self.destination} ({self.type}, {access})"

    def to_dict(self) -> dict[str, Any]:
        """The spec as a plain, JSON-able dict that :func:`parse_mount` reads back."""
        return {
            "source": self.source,
            "destination": self.destination,
            "type": self.type,
            "readonly": self.readonly,
            "options": dict(self.options),  # flags are True, so the dict reads back as given
            "driver": self.driver,
        }


def parse_mounts(specs: Sequence[Mapping | str | Mount] | None) -> list[Mount]:
    """Turn what a DAG author or a YAML file gives into :class:`Mount` objects.

    Each item is a :class:`Mount`, a dict with the keys of :data:`SPEC_KEYS`, or a
    ``"source:destination[:ro|:rw]"`` string. Errors name the item (``mounts[1].destination: ...``).
    """
    if specs is None:
        return []
    if isinstance(specs, (str, Mapping, Mount)):
        specs = [specs]
    mounts = []
    for index, spec in enumerate(specs):
        try:
            mounts.append(parse_mount(spec))
        except MountError as err:
            raise MountError(f"mounts[{index}].{err}") from None
    return mounts


def parse_mount(spec: Mapping | str | Mount) -> Mount:
    """One spec to a :class:`Mount`; errors start with the field name (``destination: ...``)."""
    if isinstance(spec, Mount):
        return spec
    if isinstance(spec, str):
        return _parse_short_form(spec)
    if isinstance(spec, Mapping):
        return _parse_mapping(spec)
    raise MountError(
        f"spec: {type(spec).__name__} is not a mount; give a Mount, a dict or a 'source:destination' string"
    )


def _parse_mapping(spec: Mapping) -> Mount:
    for key in spec:
        if key not in SPEC_KEYS:
            hint = difflib.get_close_matches(str(key), SPEC_KEYS, n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise MountError(f"{key}: unknown key{also}; a mount takes {', '.join(SPEC_KEYS)}")
    for key in ("source", "destination"):
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            raise MountError(f"{key}: missing; a mount needs a source and a destination")
    for key in ("type", "driver"):
        if key in spec and not isinstance(spec[key], str):
            raise MountError(f"{key}: {spec[key]!r} is not a string")
    return Mount(
        source=spec["source"],
        destination=spec["destination"],
        type=spec.get("type"),
        readonly=spec.get("readonly", False),
        options=spec.get("options") or (),
        driver=spec.get("driver") or "auto",
    )


def _parse_short_form(spec: str) -> Mount:
    text, readonly = spec.strip(), False
    for suffix, flag in ((":ro", True), (":rw", False)):
        if text.endswith(suffix):
            text, readonly = text[: -len(suffix)], flag
            break
    source, sep, destination = text.rpartition(":")
    if not sep or not source or not destination:
        raise MountError(
            f"spec: {spec!r} is not 'source:destination'; e.g. '/data/raw:/mnt/raw' or "
            "'10.0.0.2:/mystore:/mnt/store:ro'"
        )
    return Mount(source=source, destination=destination, readonly=readonly)


def _infer_type(source: Any) -> str:
    if not isinstance(source, str) or not source:
        raise MountError(f"source: {source!r} is not a path or server:/path")
    return "bind" if source.startswith("/") else "nfs"


def split_nfs_source(source: str) -> tuple[str, str]:
    """``"[fd00::2]:/data"`` -> ``("fd00::2", "/data")``; no checks, see :func:`normalize_nfs_source`."""
    match = _NFS_SOURCE.fullmatch(source)
    if match is None:
        raise MountError(f"source: {source!r} is not server:/path")
    host = match["host"]
    return (host[1:-1] if host.startswith("[") else host), match["path"]


def normalize_nfs_source(source: Any) -> str:
    """Check an NFS source; return it as ``host:/path`` without ``//`` or a trailing ``/``."""
    example = "e.g. 'fs-1234aa62.efs.eu-west-1.amazonaws.com:/' or '10.0.0.2:/mystore'"
    if not isinstance(source, str) or _CONTROL.search(source):
        raise MountError(f"source: {source!r} is not an NFS source; {example}")
    if _URL.match(source):
        raise MountError(f"source: {source!r} is a URL; give an NFS source as server:/path, {example}")
    match = _NFS_SOURCE.fullmatch(source)
    if match is None:
        raise MountError(f"source: {source!r} has no server; an NFS source is server:/path, {example}")
    host, path = match["host"], match["path"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise MountError(f"source: {host!r} in {source!r} is not an IPv6 address") from None
    elif not host or not _HOSTNAME.fullmatch(host):
        raise MountError(f"source: server {host!r} in {source!r} is not a host name or address; {example}")
    if not path.startswith("/"):
        raise MountError(
            f"source: the path {path!r} in {source!r} must be absolute (start with '/'); {example}"
        )
    if ".." in path.split("/"):
        raise MountError(f"source: the path in {source!r} contains '..'")
    return f"{host}:{_clean_path(path)}"


def _bind_source(source: Any) -> str:
    if not isinstance(source, str) or not source or _CONTROL.search(source):
        raise MountError(f"source: {source!r} is not a directory path")
    if not source.startswith("/"):
        raise MountError(
            f"source: {source!r} is relative; a bind mount's source is an absolute directory on the worker"
        )
    if ".." in source.split("/"):
        raise MountError(f"source: {source!r} contains '..'; give the directory's own path")
    return _clean_path(source)


def normalize_destination(destination: Any) -> str:
    """Check a destination on its own (absolute, no ``..``, not a system path) and clean it."""
    if not isinstance(destination, str) or not destination or _CONTROL.search(destination):
        raise MountError(f"destination: {destination!r} is not a directory path")
    if not destination.startswith("/"):
        example = "/mnt/" + destination.strip("/")
        raise MountError(f"destination: {destination!r} is relative; give an absolute path such as {example}")
    if ".." in destination.split("/"):
        raise MountError(f"destination: {destination!r} contains '..'; give the directory's own path")
    clean = _clean_path(destination)
    conflict = system_path_conflict(clean)
    if conflict:
        raise MountError(f"destination: {destination!r} {conflict}; mount somewhere like /mnt/data")
    return clean


def system_path_conflict(path: str) -> str | None:
    """Why mounting at ``path`` would hide part of the system, or None when it would not."""
    if path in SYSTEM_DIRECTORIES:
        return f"is the system directory {path}"
    for tree in SYSTEM_TREES:
        if path == tree:
            return f"is the system directory {tree}"
        if path.startswith(tree + "/"):
            return f"is inside the system directory {tree}"
    return None


def _clean_path(path: str) -> str:
    # normpath keeps a leading "//" (POSIX allows it a meaning); here it is just "/".
    return "/" + posixpath.normpath(path).lstrip("/")


def _option_items(options: Any, mount_type: str) -> tuple[tuple[str, str | None], ...]:
    if options is None or options == ():
        return ()
    if isinstance(options, str):
        pairs = [_split_option(part) for part in options.split(",") if part.strip()]
    elif isinstance(options, Mapping):
        pairs = []
        for name, value in options.items():
            if value is False or value is None:
                continue
            pairs.append((str(name), None if value is True else value))
    elif isinstance(options, Sequence):
        pairs = []
        for part in options:
            if isinstance(part, str):
                pairs.append(_split_option(part))
            elif isinstance(part, Sequence) and len(part) == 2:
                pairs.append((str(part[0]), part[1]))
            else:
                raise MountError(f"options: {part!r} is not 'name' or 'name=value'")
    else:
        raise MountError(f"options: {options!r} is not a dict, a 'name=value,...' string or a list")
    known = OPTIONS_BY_TYPE[mount_type]
    items: dict[str, str | None] = {}
    for name, value in pairs:
        name = name.strip()
        if name in _RESERVED_OPTIONS:
            raise MountError(f"options: {name!r}: {_RESERVED_OPTIONS[name]}")
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise MountError(
                f"options: {name!r} is not a known {mount_type} mount option{also}; "
                f"known: {', '.join(sorted(known))}"
            )
        items[name] = _option_value(name, value, known[name])
    return tuple(items.items())


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
