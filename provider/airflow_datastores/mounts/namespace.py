"""The Linux calls behind a private mount namespace, through libc (Python 3.11 has no os.unshare).

A process that calls :func:`enter_private_mount_namespace` gets its own copy of the mount table in
which nothing propagates back to the worker; what it mounts afterwards is seen by it and its
children only, and goes away with the last process in the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

from airflow_datastores.errors import MountFailed, MountNotPermitted

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CAP_SYS_ADMIN = 21

_libc = ctypes.CDLL(None, use_errno=True)

NOT_PERMITTED_ADVICE = (
    "Mounting needs root or the CAP_SYS_ADMIN capability in the task's process, and this process has "
    "neither ({who}). Run the task where it may mount: on Kubernetes the same mounts become pod "
    "volumes (airflow_datastores.mounts.to_kubernetes for KubernetesPodOperator, to_executor_config "
    "for the KubernetesExecutor), with Docker they become container mounts (to_docker_mounts); or "
    "give the Airflow worker CAP_SYS_ADMIN."
)


def has_mount_privilege() -> bool:
    """True when this process holds CAP_SYS_ADMIN in its effective set (root normally does)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << CAP_SYS_ADMIN))
    except OSError:
        pass
    return os.geteuid() == 0


def require_mount_privilege() -> None:
    """Raise :class:`MountNotPermitted`, saying what is missing, unless this process may mount."""
    if not has_mount_privilege():
        raise MountNotPermitted(NOT_PERMITTED_ADVICE.format(who=_who()))


def enter_private_mount_namespace() -> None:
    """Move this process into a new mount namespace and make every mount in it private."""
    if _libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        if err == 1:  # EPERM
            raise MountNotPermitted(NOT_PERMITTED_ADVICE.format(who=_who()))
        raise MountFailed(f"unshare(CLONE_NEWNS) failed: {os.strerror(err)}")
    # Without this, mounts made here would propagate to the worker's shared mounts.
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise MountFailed(f"making / private in the task's mount namespace failed: {os.strerror(err)}")


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent ends (PR_SET_PDEATHSIG)."""
    _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def become_subreaper() -> None:
    """Orphaned descendants (a command's daemonised children) become this process's children."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def kill_children(*, keep: set[int]) -> list[int]:
    """SIGKILL and reap every child of this process but ``keep``, until none is left; return their pids.

    With :func:`become_subreaper`, that includes whatever a command left running in the background,
    which would otherwise keep the mount namespace, and its mounts, alive after the task.
    """
    killed: list[int] = []
    for _ in range(100):
        children = [pid for pid in _children() if pid not in keep]
        if not children:
            break
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            killed.append(pid)
    return killed


def _children() -> list[int]:
    me, children = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            children.append(int(entry))
    return children


def detach_mount(path: str) -> None:
    """Lazily unmount ``path`` (umount2 MNT_DETACH): gone at once for new lookups, freed when unused."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise MountFailed(f"unmounting {path} failed: {os.strerror(err)}")


def mount_points() -> list[str]:
    """Mount points of this process's namespace, from /proc/self/mountinfo (octal escapes decoded)."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as info:
        for line in info:
            points.append(_unescape(line.split(" ")[4]))
    return points


def is_mount_point(path: str) -> bool:
    """True when something is mounted exactly at ``path`` (also a bind mount within one file system)."""
    return os.path.realpath(path) in mount_points()


def _unescape(field: str) -> str:
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _who() -> str:
    return f"uid {os.geteuid()}, no CAP_SYS_ADMIN"
