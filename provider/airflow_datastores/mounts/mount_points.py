"""Mount points on the worker: created for a task when missing, removed again once no task uses them.

A mount is made in the task's private namespace, but its mount point is a directory of the worker's
file system, so a missing one must be created on the worker. Afterwards only directories that a task
created are removed, only when empty, and only when no other task uses them: an rmdir on the worker
would also unmount whatever another task has mounted there in its own namespace.

Tasks on one worker agree through file locks in :data:`STATE_DIR`: each task holds a shared lock on
each of its mount points while it runs; the last one out (the one that gets the exclusive lock) removes
the directories that tasks created, which a small record lists. Locks end with their processes, so a
killed task blocks nothing: the next task that ends tidies up after it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence

log = logging.getLogger(__name__)

#: Where the locks and the record of created directories live (``/run`` is cleared at boot, as are
#: the mounts the record is about); the temp directory when ``/run`` is not writable.
STATE_DIR = "/run/airflow-datastores/mount-points"
_RECORD = "created.json"
#: Held while this process has the mutex file open, and by the runner around its fork: a child forked
#: then would inherit the locked mutex and hold every other task up while it runs.
FORK_GUARD = threading.Lock()


@contextlib.contextmanager
def mount_points_in_use(destinations: Sequence[str], *, state_dir: str | None = None) -> Iterator[list[str]]:
    """Create the missing ``destinations`` (and missing parents), hold them in use while the body runs,
    then remove what tasks created that no task uses any more.

    :param destinations: absolute paths of the mount points of one task.
    :param state_dir: where locks and the record are kept (default :data:`STATE_DIR`); tasks that
        share mount points must share it.
    :returns: (as the ``with`` target) the directories this task created.
    """
    state = _state_dir(state_dir)
    users: list[int] = []
    created: list[str] = []
    try:
        with _locked(os.path.join(state, "mutex")):
            for destination in destinations:
                made = _create(destination)
                if made:
                    _update_record(state, add=made)
                    created += made
                # Taken under the mutex, so the last task out (which holds it too) never misses one.
                users.append(_lock(state, destination, fcntl.LOCK_SH))
        yield created
    finally:
        for fd in users:
            os.close(fd)
        _tidy(state, destinations)


def _create(destination: str) -> list[str]:
    """Create ``destination`` and its missing parents; return the directories created, deepest last."""
    missing = []
    path = os.path.normpath(destination)
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    if not missing:
        return []
    os.makedirs(destination, mode=0o755, exist_ok=True)
    missing.reverse()
    log.info("Created the mount point %s; it is removed after the task if no other task uses it", destination)
    return missing


def _tidy(state: str, destinations: Sequence[str]) -> None:
    """Remove recorded directories that are empty and that no task uses, deepest first; forget the locks
    of ``destinations`` (mount points that existed before) once no task uses them."""
    with _locked(os.path.join(state, "mutex")):
        record = _read_record(state)
        for path in {os.path.normpath(d) for d in destinations} - set(record):
            fd = _try_lock(state, path)
            if fd is not None:
                _unlock_and_forget(state, path, fd)
        gone = []
        for path in sorted(record, key=lambda p: p.count(os.sep), reverse=True):
            fd = _try_lock(state, path)
            if fd is None:
                continue  # a task is using it: the last one out removes it
            try:
                os.rmdir(path)
            except FileNotFoundError:
                gone.append(path)
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EBUSY, errno.ENOTDIR):
                    log.warning("Could not remove the mount point %s made for a task: %s", path, err)
                if err.errno == errno.ENOTDIR:
                    gone.append(path)  # someone replaced it by a file: not ours any more
            else:
                gone.append(path)
                log.info("Removed the mount point %s, made for a task and no longer used", path)
            finally:
                _unlock_and_forget(state, path, fd)
        if gone:
            _update_record(state, remove=gone)


def _state_dir(state_dir: str | None) -> str:
    for candidate in ([state_dir] if state_dir else [STATE_DIR, os.path.join(tempfile.gettempdir(),
                                                                              "airflow-datastores-mount-points")]):
        try:
            os.makedirs(candidate, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return candidate
    raise OSError(f"no writable directory for the mount-point locks (tried {state_dir or STATE_DIR})")


def _lock_path(state: str, path: str) -> str:
    return os.path.join(state, hashlib.sha256(os.fsencode(os.path.normpath(path))).hexdigest()[:32] + ".users")


def _lock(state: str, path: str, how: int) -> int:
    fd = os.open(_lock_path(state, path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, how)
    return fd


def _try_lock(state: str, path: str) -> int | None:
    """The exclusive lock of ``path``'s users, or ``None`` when a task holds it shared."""
    fd = os.open(_lock_path(state, path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock_and_forget(state: str, path: str, fd: int) -> None:
    # Safe under the mutex: a task opens and locks a users file only while it holds the mutex too.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_lock_path(state, path))
    os.close(fd)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    with FORK_GUARD:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _read_record(state: str) -> list[str]:
    try:
        with open(os.path.join(state, _RECORD), encoding="utf-8") as handle:
            record = json.load(handle)
    except (FileNotFoundError, ValueError):
        return []
    return [p for p in record if isinstance(p, str)] if isinstance(record, list) else []


def _update_record(state: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
    record = [p for p in _read_record(state) if p not in set(remove)]
    record += [p for p in add if p not in record]
    temp = os.path.join(state, f".{_RECORD}.{os.getpid()}")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temp, os.path.join(state, _RECORD))
