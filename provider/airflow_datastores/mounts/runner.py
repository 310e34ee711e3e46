"""Run a callable or a command with its mounts, in a child process with a private mount namespace.

The task's process forks one child. The child, a fresh single-threaded process, unshares its mount
namespace, makes the mounts, runs the body, unmounts and reports back over a pipe: log records,
then the callable's result or exception, or the command's exit code. Nothing is mounted in the
task's own process, so nothing leaks to the worker or to other tasks, and when the child ends, by
success, failure or a kill, its namespace and every mount in it end with it. Helpers the child
starts (the FUSE daemon, the command) die with it (PR_SET_PDEATHSIG); the child dies with the task;
whatever the body leaves running in the background is killed before the mounts come down.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from airflow_datastores.errors import MountedProcessDied
from airflow_datastores.mounts.checks import check_mounts_reachable
from airflow_datastores.mounts.drivers import Driver, select_driver
from airflow_datastores.mounts.forwarding import (
    LineLogger,
    emit_record,
    route_to_child_handler,
)
from airflow_datastores.mounts.mount_points import FORK_GUARD, mount_points_in_use
from airflow_datastores.mounts.namespace import (
    become_subreaper,
    die_with_parent,
    enter_private_mount_namespace,
    kill_children,
    require_mount_privilege,
)
from airflow_datastores.mounts.spec import Mount, parse_mounts
from airflow_datastores.mounts.validation import check_separate_destinations

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds an NFS server gets to answer before the task fails.
CHECK_TIMEOUT = 5.0
#: Seconds the child gets to unmount and report after SIGTERM, before SIGKILL.
TERMINATE_GRACE = 10.0

NOT_VERSIONED = (
    "Mounted data is not versioned: %s. What the task reads there can change between runs without "
    "notice and is not recorded with its inputs. Write what the task derives from it to the outputs "
    "directory, so that it is snapshotted as a version the next steps can rely on."
)

_Plan = list[tuple[Mount, Driver]]


class _Terminated(BaseException):
    """SIGTERM reached the child: unwind the body so the mounts are undone on the way out."""


def run_with_mounts(
    mounts: Sequence[Mount | dict | str], func: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """Call ``func(*args, **kwargs)`` with ``mounts`` in place, and return its result.

    ``func`` runs in a forked child with its own mount namespace; its log records reach this
    process's loggers, its result (which must be picklable) is returned, and its exception is
    raised here with the child's traceback attached as a note. Without mounts it is simply called.
    """
    plan = _prepare(mounts)
    if not plan:
        return func(*args, **kwargs)
    return _run(plan, _CallBody(func, args, kwargs), output=None)


def run_command_with_mounts(
    mounts: Sequence[Mount | dict | str],
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    log: logging.Logger | None = None,
    on_line: Callable[[str], Any] | None = None,
    own: Sequence[str] = (),
) -> int:
    """Run ``argv`` (a list, never a shell string) with ``mounts`` in place; return its exit code.

    Its stdout and stderr stream line by line to ``log`` (and ``on_line``) while it runs. A command
    killed by a signal returns minus the signal number, as :mod:`subprocess` does.

    :param own: destinations of mounts that show the task its own directories elsewhere (the
        ``/valohai/...`` paths of a YAML step): not announced as unversioned data.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string; nothing here goes through a shell")
    plan = _prepare(mounts, own=own)
    output = LineLogger(log or logging.getLogger("airflow_datastores.mounts.command"), on_line=on_line)
    return _run(plan, _CommandBody(list(argv), env=env, cwd=cwd), output=output)


# --- in the task's process --------------------------------------------------------------------


def _prepare(mounts: Sequence[Mount | dict | str], *, own: Sequence[str] = ()) -> _Plan:
    """Parse, pick drivers, check privilege and reachability, warn: everything before the fork."""
    parsed = parse_mounts(list(mounts))
    if not parsed:
        return []
    check_separate_destinations(parsed)
    require_mount_privilege()
    plan = []
    for mount in parsed:
        driver, why = select_driver(mount)
        log.info("Mount %s: %s", mount.describe(), why)
        plan.append((mount, driver))
    check_mounts_reachable(parsed, timeout=CHECK_TIMEOUT)
    data = [mount for mount in parsed if mount.destination not in own]
    if data:
        log.warning(NOT_VERSIONED, ", ".join(mount.describe() for mount in data))
    return plan


def _run(plan: _Plan, body: _Body, *, output: LineLogger | None) -> Any:
    # Missing mount points are made on the worker for the task, and removed after it once no task uses them.
    with mount_points_in_use([mount.destination for mount, _ in plan]):
        return _fork_and_supervise(plan, body, output=output)


def _fork_and_supervise(plan: _Plan, body: _Body, *, output: LineLogger | None) -> Any:
    reader, writer = Pipe(duplex=False)
    driver_r, driver_w = os.pipe()
    output_r, output_w = os.pipe() if output is not None else (None, None)
    parent = os.getpid()
    with FORK_GUARD:  # never while another thread holds the mount-point mutex
        pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's stack
        code = 70
        try:
            reader.close()
            os.close(driver_r)
            if output_r is not None:
                os.close(output_r)
            _child_main(writer, plan, body, parent=parent, driver_fd=driver_w, output_fd=output_w)
            code = 0
        finally:
            os._exit(code)
    writer.close()
    os.close(driver_w)
    streams = {
        driver_r: LineLogger(logging.getLogger("airflow_datastores.mounts.nfs_fuse"), parse_level=True)
    }
    if output is not None:
        os.close(output_w)
        streams[output_r] = output
    reaped = False
    try:
        outcome = _supervise(reader, streams)
        _, status = os.waitpid(pid, 0)
        reaped = True
        _drain(streams, quiet_for=0.2)
    finally:
        if not reaped:
            _terminate(pid)
        reader.close()
        for fd, lines in streams.items():
            lines.close()
            os.close(fd)
    return _outcome(outcome, status, pid)


def _supervise(reader: Connection, streams: dict[int, LineLogger]) -> tuple | None:
    """Relay the child's records and output until it closes its end of the pipe; return its outcome."""
    outcome = None
    open_streams = dict(streams)
    while True:
        for ready in wait([reader, *open_streams]):
            if ready is reader:
                try:
                    message = reader.recv()
                except EOFError:
                    return outcome
                if message[0] == "log":
                    emit_record(message[1])
                else:
                    outcome = message
            elif not _pump(ready, open_streams[ready]):
                del open_streams[ready]


def _drain(streams: dict[int, LineLogger], *, quiet_for: float) -> None:
    """Read what the child's helpers left in the pipes; a helper that keeps them open is not waited for."""
    open_streams = dict(streams)
    while open_streams:
        ready = wait(list(open_streams), timeout=quiet_for)
        if not ready:
            return
        for fd in ready:
            if not _pump(fd, open_streams[fd]):
                del open_streams[fd]


def _pump(fd: int, lines: LineLogger) -> bool:
    data = os.read(fd, 65536)
    if data:
        lines.feed(data)
    return bool(data)


def _terminate(pid: int) -> None:
    """SIGTERM, a grace period to unmount, then SIGKILL; always reaps the child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TERMINATE_GRACE
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.05)
    log.warning("The mounted process %d did not stop within %g s; killing it", pid, TERMINATE_GRACE)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _outcome(outcome: tuple | None, status: int, pid: int) -> Any:
    if outcome is not None and outcome[0] == "result":
        return outcome[1]
    if outcome is not None and outcome[0] == "error":
        _, error, child_traceback = outcome
        if child_traceback:
            error.add_note(f"Raised in the task's mounted process (pid {pid}):\n{child_traceback.rstrip()}")
        raise error
    if os.WIFSIGNALED(status):
        how = f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        how = f"exited with code {os.waitstatus_to_exitcode(status)}"
    raise MountedProcessDied(
        f"The task's mounted process (pid {pid}) {how} before it finished; its mounts ended with it"
    )


# --- in the child -----------------------------------------------------------------------------


class _Body:
    def run(self, output_fd: int | None) -> Any:
        raise NotImplementedError

    def terminate(self) -> None:
        raise _Terminated()


class _CallBody(_Body):
    def __init__(self, func: Callable, args: tuple, kwargs: dict) -> None:
        self.func, self.args, self.kwargs = func, args, kwargs

    def run(self, output_fd: int | None) -> Any:
        return self.func(*self.args, **self.kwargs)


class _CommandBody(_Body):
    def __init__(self, argv: list[str], *, env: Mapping[str, str] | None, cwd: Any) -> None:
        self.argv, self.env, self.cwd = argv, env, cwd
        self.process: subprocess.Popen | None = None

    def run(self, output_fd: int | None) -> int:
        self.process = subprocess.Popen(
            self.argv,
            env=None if self.env is None else dict(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            preexec_fn=die_with_parent,  # safe: the child has a single thread
            close_fds=True,
        )
        return self.process.wait()

    def terminate(self) -> None:
        if self.process is None:
            raise _Terminated()
        self.process.send_signal(signal.SIGTERM)  # let it stop; the mounts come down after it


def _child_main(
    writer: Connection, plan: _Plan, body: _Body, *, parent: int, driver_fd: int, output_fd: int | None
) -> None:
    die_with_parent()
    if os.getppid() != parent:
        return
    signal.signal(signal.SIGTERM, lambda *_: body.terminate())
    signal.signal(signal.SIGINT, signal.default_int_handler)
    become_subreaper()
    route_to_child_handler(writer.send)
    active = []
    outcome: tuple
    try:
        if plan:
            enter_private_mount_namespace()
        for mount, driver in plan:
            active.append(driver.mount(mount, log_fd=driver_fd))
            log.info("Mounted %s", mount.describe())
        outcome = ("result", body.run(output_fd))
    except _Terminated:
        stopped = MountedProcessDied(
            "The task's mounted process was stopped by SIGTERM; its mounts were undone"
        )
        outcome = ("error", stopped, "")
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises it
        outcome = ("error", err, traceback.format_exc())
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent kills us if unmounting hangs
        helpers = set().union(*(active_mount.helper_pids for active_mount in active))
        leftovers = kill_children(keep=helpers)
        if leftovers:
            log.warning("Killed %d process(es) the task left running on its mounts", len(leftovers))
        for active_mount in reversed(active):
            try:
                active_mount.unmount()
                log.info("Unmounted %s", active_mount.mount.destination)
            except BaseException as err:  # noqa: BLE001 - the namespace ends with this process anyway
                log.warning("Unmounting %s failed: %s", active_mount.mount.destination, err)
    _report(writer, outcome)


def _report(writer: Connection, outcome: tuple) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed stream has nothing to flush
            stream.flush()
    try:
        writer.send(outcome)
    except Exception as err:  # noqa: BLE001 - the result or exception cannot be pickled
        if outcome[0] == "result":
            error = TypeError(f"the result of the mounted callable cannot be sent back to the task: {err}")
            writer.send(("error", error, ""))
        else:
            original = outcome[1]
            error = RuntimeError(f"{type(original).__qualname__}: {original}")
            writer.send(("error", error, outcome[2]))
