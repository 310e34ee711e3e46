"""Progress of a long staging: one line at a steady interval (not per chunk) while it runs."""

from __future__ import annotations

import logging
import threading
import time

from airflow_datastores.units import human_duration, human_rate, human_size, plural


class Progress:
    """Logs the staging's progress at a steady interval while it runs (not per chunk)."""

    def __init__(self, *, total: int, files: int, interval: float, logger: logging.Logger) -> None:
        self.total = total
        self.files = files
        self.done_bytes = 0
        self.done_files = 0
        self.interval = interval
        self.log = logger
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="staging-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self.interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def add(self, num_bytes: int) -> None:
        with self._lock:
            self.done_bytes += num_bytes

    def file_done(self) -> None:
        with self._lock:
            self.done_files += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            elapsed = time.monotonic() - self._started
            with self._lock:
                done, files = self.done_bytes, self.done_files
            rate = done / elapsed if elapsed else 0.0
            left = f"about {human_duration((self.total - done) / rate)} left" if rate else "starting"
            percent = 100.0 * done / self.total if self.total else 100.0
            self.log.info(
                "Staging inputs: %s of %s (%.0f%%), %d of %s, %s, %s",
                human_size(done), human_size(self.total), percent, files, plural(self.files, "file"),
                human_rate(rate), left,
            )
