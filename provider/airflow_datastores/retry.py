"""The one retry policy every request to a store goes through.

Transient failures (connection refused or reset, an incomplete body, a read timeout, 408/429/5xx,
throttling) are retried with exponential backoff and equal jitter, within a bounded number of attempts
and a bounded total time. Each retry is logged once: what, which URL, why, which attempt, how long
until the next one and, for reads, the byte it resumes at. Backends turn their SDK's errors into
:class:`~airflow_datastores.stores.base.TransientError`; nothing else is retried.

The bounds come from ``[datastores] retry_attempts``, ``retry_max_seconds`` and ``read_timeout``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from airflow_datastores import config
from airflow_datastores.errors import DataStoreError, TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The declared defaults of ``[datastores] retry_attempts``, ``retry_max_seconds`` and ``read_timeout``.
DEFAULT_ATTEMPTS = int(config.default("retry_attempts"))
DEFAULT_MAX_SECONDS = float(config.default("retry_max_seconds"))
DEFAULT_READ_TIMEOUT = float(config.default("read_timeout"))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transient failure is retried.

    :param attempts: tries in all, the first one included (1 = no retry).
    :param max_seconds: no retry starts once this much time has passed since the first try.
    :param base_delay: the first backoff, in seconds; each next one doubles, up to ``max_delay``.
    :param max_delay: the longest single backoff.
    :param read_timeout: seconds a request may wait for the next bytes before it counts as stalled
        (handed to each backend's SDK).
    """

    attempts: int = DEFAULT_ATTEMPTS
    max_seconds: float = DEFAULT_MAX_SECONDS
    base_delay: float = 0.25
    max_delay: float = 15.0
    read_timeout: float = DEFAULT_READ_TIMEOUT

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DataStoreError(f"retry attempts must be at least 1, got {self.attempts}")
        if self.max_seconds < 0 or self.read_timeout <= 0:
            raise DataStoreError("retry_max_seconds must be >= 0 and read_timeout > 0")

    def delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based): "equal jitter", a random delay between half the
        exponential ceiling and all of it (never an immediate retry, as full jitter allows)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)

    @classmethod
    def from_config(cls) -> RetryPolicy:
        """The policy of ``[datastores] retry_attempts``, ``retry_max_seconds`` and ``read_timeout``."""
        return cls(attempts=config.conf_int("retry_attempts"), max_seconds=config.conf_float("retry_max_seconds"),
                   read_timeout=config.conf_float("read_timeout"))


_policy: RetryPolicy | None = None


def default_policy() -> RetryPolicy:
    """The configured policy, read once per process."""
    global _policy
    if _policy is None:
        _policy = RetryPolicy.from_config()
    return _policy


def reset_default_policy() -> None:
    """Read the configuration again on next use (tests, and after the configuration changed)."""
    global _policy
    _policy = None


class Attempts:
    """Counts the tries of one operation and decides, on each transient failure, whether to go on.

    :param what: the request kind, e.g. ``"read"``, ``"list"``, ``"upload part 3"``.
    :param url: what the request is about (never carries credentials).
    :param policy: the bounds; default: the configured policy.
    :param logger: where the retry lines go.
    """

    def __init__(self, *, what: str, url: str, policy: RetryPolicy | None = None,
                 logger: logging.Logger | None = None) -> None:
        self.what = what
        self.url = url
        self._policy = policy
        self.log = logger or log
        self.retries = 0
        self._started = time.monotonic()

    @property
    def policy(self) -> RetryPolicy:
        """The bounds, read when the first failure needs them (a request that succeeds reads no config)."""
        if self._policy is None:
            self._policy = default_policy()
        return self._policy

    def failed(self, err: TransientError, *, resume_at: int | None = None) -> None:
        """Log and sleep before the next try, or raise ``err`` (with the count) when the bounds are spent."""
        delay = self.policy.delay(self.retries + 1)
        self.counted(err, delay=delay, resume_at=resume_at)
        time.sleep(delay)

    def counted(self, err: TransientError, *, delay: float | None = None, resume_at: int | None = None) -> None:
        """Count and log one retry whose wait someone else does (an SDK that alone can repeat the request),
        or raise when the bounds are spent (raising is also what stops such an SDK).

        :param delay: the wait before the next try, when known.
        """
        elapsed = time.monotonic() - self._started
        self.retries += 1
        if self.policy.attempts == 1:
            raise err
        if self.retries >= self.policy.attempts or elapsed + (delay or 0) > self.policy.max_seconds:
            raise TransientError(
                f"{err} (gave up after {self.retries} tries in {elapsed:.0f} s; the limits are "
                "[datastores] retry_attempts and retry_max_seconds)"
            ) from None
        where = "" if resume_at is None else f", resuming at byte {resume_at}"
        wait = "" if delay is None else f" in {delay:.1f} s"
        self.log.warning("Retrying %s of %s: %s; retry %d of %d%s%s", self.what, self.url,
                         _cause(err, self.url), self.retries, self.policy.attempts - 1, wait, where)


def call(fn: Callable[[], T], *, what: str, url: str, policy: RetryPolicy | None = None,
         logger: logging.Logger | None = None) -> T:
    """``fn()``, repeated under the policy while it raises :class:`TransientError`.

    Only for requests that are safe to repeat as they are (reads, listings, deletes, writes to keys
    that are unique or create-only, with a body held in memory or rewound by ``fn``).
    """
    attempts = Attempts(what=what, url=url, policy=policy, logger=logger)
    while True:
        try:
            return fn()
        except TransientError as err:
            attempts.failed(err)


def _cause(err: Exception, url: str) -> str:
    """The error's message without the URL it starts with (the retry line names it once)."""
    text = str(err)
    return text[len(url) + 2:] if text.startswith(f"{url}: ") else text
