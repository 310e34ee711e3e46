"""What every local test server shares: a free port, a log file, readiness polling, stopping by pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence

HOST = "127.0.0.1"
INSTALL_HINT = "run `bash tests/servers/install.sh` (or `make servers`) to install the test servers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_ok(url: str, *, timeout: float = 1.0, expect: Callable[[int, bytes], bool] | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return expect(response.status, response.read()) if expect else response.status < 500
    except urllib.error.HTTPError as err:
        return expect(err.code, b"") if expect else err.code < 500
    except OSError:
        return False


def stop_process_groups(processes: Iterable[subprocess.Popen], *, grace: float) -> None:
    """SIGTERM each process's group, give them ``grace`` seconds in all, then SIGKILL what is left."""
    processes = [p for p in processes if p is not None]
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


class ServerError(RuntimeError):
    """A server could not be started; the message has the tail of its log."""


class LocalServer:
    """A server process on 127.0.0.1 that a test session starts and stops.

    :param log_dir: where logs, configs and data go; a temporary directory when not given.
    """

    name = "server"
    ready_timeout = 30.0

    def __init__(self, *, log_dir: str | None = None) -> None:
        self._own_dir = log_dir is None
        self.dir = log_dir or tempfile.mkdtemp(prefix=f"datastores-{self.name}-")
        self.processes: list[subprocess.Popen] = []

    # subclasses implement these two
    def launch(self) -> None:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def spawn(self, argv: Sequence[str], *, log_name: str, env: dict | None = None,
              cwd: str | None = None) -> subprocess.Popen:
        if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
            raise ServerError(f"{self.name}: {argv[0]} is not installed; {INSTALL_HINT}")
        log = open(os.path.join(self.dir, log_name), "ab")
        process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=cwd, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start(self) -> LocalServer:
        started = time.monotonic()
        self.launch()
        while not self.is_ready():
            dead = [p for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() - started > self.ready_timeout:
                tail = self.log_tail()
                self.stop()
                why = f"exited with {dead[0].returncode}" if dead else f"not ready in {self.ready_timeout:.0f} s"
                raise ServerError(f"{self.name} {why}; its log ends with:\n{tail}")
            time.sleep(0.05)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        stop_process_groups(reversed(self.processes), grace=5)
        self.processes.clear()

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as handle:
                    out.append(f"--- {name}\n" + "".join(handle.readlines()[-lines:]))
        return "\n".join(out) or "(no log)"

    def __enter__(self):
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its directory when it made one (its data, logs and configs)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()
