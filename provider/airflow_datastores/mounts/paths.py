"""A mount's source and destination, each checked on its own and cleaned.

An NFS source is ``server:/path`` (a host name, an IPv4 address or a bracketed IPv6 address); a bind
source is an absolute directory of the worker; a destination is an absolute path that hides no part
of the system. Nothing here touches the file system: a symlink on the worker is judged in
:mod:`airflow_datastores.mounts.validation`.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any

from airflow_datastores.errors import MountError

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


def normalize_bind_source(source: Any) -> str:
    """Check a bind mount's source (an absolute directory path, no ``..``) and clean it."""
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
