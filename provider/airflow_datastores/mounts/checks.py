"""Before the task body: does each share answer, does each bind source exist, is each destination usable.

An NFS server is asked the protocol's NULL procedure over TCP (what ``rpcinfo -t`` does): a server
that answers it serves NFS on that port. Everything has a deadline, so a server that is down or
firewalled fails the task within seconds instead of hanging it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Sequence

from airflow_datastores.errors import ShareUnreachable
from airflow_datastores.mounts.spec import Mount, parse_mounts

log = logging.getLogger(__name__)

NFS_PROGRAM = 100003
_RPC_CALL, _RPC_REPLY = 0, 1
_MSG_ACCEPTED = 0
_SUCCESS, _PROG_UNAVAIL, _PROG_MISMATCH = 0, 1, 2


def check_mounts_reachable(mounts: Sequence[Mount | dict | str], *, timeout: float = 5.0) -> None:
    """Raise :class:`ShareUnreachable` for the first mount that cannot work on this worker.

    NFS: the server must answer an NFS NULL call on its port within ``timeout`` seconds. Bind: the
    source must be an existing directory. Both: the destination must be a directory, or a path whose
    nearest existing parent is a writable directory (it is then created for the task and removed
    after).
    """
    for mount in parse_mounts(list(mounts)):
        if mount.type == "nfs":
            version = (mount.nfs_version or "4")[0]
            started = time.monotonic()
            ping_nfs(mount.server, mount.port, version=int(version), timeout=timeout, source=mount.source)
            log.info(
                "NFS server %s port %d answers (%.0f ms) for %s",
                mount.server,
                mount.port,
                (time.monotonic() - started) * 1000,
                mount.source,
            )
        elif not os.path.isdir(mount.source):
            what = "is not a directory" if os.path.exists(mount.source) else "does not exist"
            raise ShareUnreachable(
                f"Bind mount source {mount.source} {what} on this worker ({socket.gethostname()}); "
                f"create it or fix the mount {mount.describe()}"
            )
        check_destination(mount)


def check_destination(mount: Mount) -> None:
    """Raise :class:`ShareUnreachable` unless the destination is, or can become, a directory."""
    path = mount.destination
    if os.path.lexists(path):
        if not os.path.isdir(path):
            raise ShareUnreachable(
                f"Mount destination {path} exists and is not a directory; pick another path"
            )
        return
    parent = os.path.dirname(path)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise ShareUnreachable(
            f"Mount destination {path} does not exist and cannot be created: {parent} is not a writable "
            "directory; create the destination on the worker or pick another path"
        )


def ping_nfs(
    host: str, port: int, *, version: int = 4, timeout: float = 5.0, source: str | None = None
) -> None:
    """Call NFS procedure 0 (NULL) on ``host:port`` over TCP; :class:`ShareUnreachable` if unanswered."""
    deadline = time.monotonic() + timeout
    what = f"NFS server {host} port {port}" + (f" (for {source})" if source else "")
    address = _resolve(host, port, deadline=deadline, what=what)
    xid = random.getrandbits(32)
    call = struct.pack(">10I", xid, _RPC_CALL, 2, NFS_PROGRAM, version, 0, 0, 0, 0, 0)
    try:
        with socket.socket(address[0], socket.SOCK_STREAM) as sock:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            sock.connect(address[4])
            sock.sendall(struct.pack(">I", 0x80000000 | len(call)) + call)
            reply = _read_record(sock, deadline)
    except TimeoutError:
        raise ShareUnreachable(
            f"{what} did not answer within {timeout:g} s; check the address, the port and firewalls"
        ) from None
    except OSError as err:
        raise ShareUnreachable(f"{what} is not reachable: {err.strerror or err}") from None
    _check_reply(reply, xid=xid, version=version, what=what)


def _resolve(host: str, port: int, *, deadline: float, what: str) -> tuple:
    """getaddrinfo with a deadline: a name server that does not answer must not hang the task."""
    result: list = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as err:
            result.append(err)

    thread = threading.Thread(target=lookup, name="nfs-resolve", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0.01))
    if not result:
        raise ShareUnreachable(f"{what}: the name {host} did not resolve in time")
    if isinstance(result[0], OSError):
        raise ShareUnreachable(f"{what}: the name {host} does not resolve ({result[0]})")
    return result[0][0]


def _read_record(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    last = False
    while not last:
        header = _read_exact(sock, 4, deadline)
        (mark,) = struct.unpack(">I", header)
        last = bool(mark & 0x80000000)
        data += _read_exact(sock, mark & 0x7FFFFFFF, deadline)
    return data


def _read_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks, remaining = [], size
    while remaining:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionResetError(104, "the server closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _check_reply(reply: bytes, *, xid: int, version: int, what: str) -> None:
    if len(reply) < 24:
        raise ShareUnreachable(f"{what} answered with something that is not an RPC reply")
    rxid, mtype, stat = struct.unpack(">3I", reply[:12])
    if rxid != xid or mtype != _RPC_REPLY:
        raise ShareUnreachable(f"{what} answered with something that is not an RPC reply")
    if stat != _MSG_ACCEPTED:
        raise ShareUnreachable(f"{what} refused the RPC call (authentication)")
    (verf_len,) = struct.unpack(">I", reply[16:20])
    offset = 20 + ((verf_len + 3) // 4) * 4
    (accept,) = struct.unpack(">I", reply[offset : offset + 4])
    if accept == _PROG_MISMATCH:
        low, high = struct.unpack(">2I", reply[offset + 4 : offset + 12])
        raise ShareUnreachable(
            f"{what} does not speak NFS version {version}; it offers versions {low} to {high}"
        )
    if accept == _PROG_UNAVAIL:
        raise ShareUnreachable(f"{what} answers but serves no NFS on that port")
    if accept != _SUCCESS:
        raise ShareUnreachable(f"{what} answered the NFS NULL call with error {accept}")
