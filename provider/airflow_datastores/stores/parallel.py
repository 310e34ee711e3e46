"""One object into a local file, as parallel ranged reads where that pays, its bytes handed on in order
as the file's contiguous prefix grows (for the one hashing pass). One code path for every store.

1. One stream reads the object from its first byte: a plain read, so a server that answers a range at
   the cost of the whole object (moto) is never asked for ranges it does not need.
2. An object of at least :data:`RANGED_FROM` bytes on a store that serves ranges
   (:meth:`~airflow_datastores.stores.base.Store.serves_ranges`) is probed: once :data:`PROBE` bytes
   arrived after its first one (or :data:`PROBE_SECONDS` passed), the stream's rate is measured. A
   stream slower than :data:`FAST_STREAM` (a cloud store caps each connection at tens of MB/s) gets
   helpers: the rest of the object, from one range ahead of the stream, is split into
   :data:`RANGE_SIZE` ranges that helpers read in parallel, as many as the rate calls for (up to
   :data:`MAX_STREAMS` streams in all) and the task's :class:`ConnectionBudget` grants. A stream
   faster than that is left alone: the hashing, not the network, bounds it.
3. Each range is one read of the store: retried and resumed by
   :class:`~airflow_datastores.stores.retrying.RetryingStore` under the one retry policy, pinned to
   the object's identity (If-Match, generation, If-Range), so a replaced object ends the read with
   :class:`~airflow_datastores.errors.ObjectChanged`, never a file stitched from two.
4. Helpers write their bytes at their offset (``os.pwrite``); the caller gets every byte once, in
   order: the first stream's as they arrive, then the file's contiguous prefix as it grows, read back
   from the page cache right behind the ranges. Nothing reads the file again after the download.

Memory, whatever the object's size: each stream holds one :data:`~airflow_datastores.stores.base.READ_PIECE`
(1 MiB) at a time, and the prefix is handed on in pieces of :data:`READ_BACK` (4 MiB), of which the
hash threads queue at most five: with 16 streams about 16 + 24 = 40 MiB of bytes (a process staging
512 MiB so grew by 59 MB, its threads and the SDK's buffers included: ``make bench``'s network
profile). On disk, helpers run at most :attr:`_Ranges.window` bytes (two ranges per stream) ahead of
the prefix.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from airflow_datastores.errors import IntegrityError
from airflow_datastores.stores.base import Store

#: Objects smaller than this are read in one stream: a range costs a round trip, and a few MiB
#: arrive in a few round trips anyway.
RANGED_FROM = 32 * 1024 * 1024
#: Bytes per ranged read: at 40 MB/s a range takes 0.2 s, ten times a 20 ms round trip (boto3's
#: transfer manager reads 8 MiB ranges too).
RANGE_SIZE = 8 * 1024 * 1024
#: Bytes of the first stream, after its first piece, that its rate is measured on.
PROBE = 4 * 1024 * 1024
#: ... or the time after its first piece, whichever comes first.
PROBE_SECONDS = 0.05
#: A stream at least this fast is left alone. Measured here (2 cores): md5, sha1 and sha256 together
#: take 0.5-0.6 GB/s, moto serves one stream at 1.3 GB/s, a shaped cloud-like stream 40 MB/s.
FAST_STREAM = 250e6
#: The rate the streams of one object aim for together: about what the hashing of it takes here.
AGGREGATE = 640e6
#: Streams of one object at most (the first one included).
MAX_STREAMS = 16
#: Bytes of the prefix handed on at once in the ranged phase.
READ_BACK = 4 * 1024 * 1024

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the parent's threads do not exist: it makes a pool of its own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _helpers() -> ThreadPoolExecutor:
    """The threads that read ranges, shared by every download of the process; they live on, so a
    backend's per-thread connections (Swift, HTTP) are reused from one object to the next."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="range")
        return _pool


class ConnectionBudget:
    """The connections one task may have open to its stores at once (``[datastores] max_connections``):
    each file in transfer holds one (:meth:`hold`), and the ranges of a large object take what is free
    beyond (:meth:`take`).

    :param limit: the bound; ``None`` reads ``[datastores] max_connections`` when first needed.
    """

    def __init__(self, *, limit: int | None = None) -> None:
        self._limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        if self._limit is None:
            from airflow_datastores.config import max_connections

            self._limit = max_connections()
        return self._limit

    def hold(self) -> None:
        """One connection in use (a file's transfer), granted or not: files at once are bounded elsewhere."""
        with self._lock:
            self._used += 1

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` more connections, as many as are free; how many were granted."""
        limit = self.limit
        with self._lock:
            granted = max(0, min(wanted, limit - self._used))
            self._used += granted
            return granted

    def give(self, count: int = 1) -> None:
        """``count`` connections are free again."""
        with self._lock:
            self._used -= count


def read_into(store: Store, key: str, *, fd: int, size: int, identity: str | None, url: str,
              ranges: bool, budget: ConnectionBudget | None = None) -> Iterator[bytes]:
    """Read ``key`` into the file open at ``fd`` (read and write), yielding its bytes in order, each
    once, once it is in the file. See the module's docstring for how.

    :param store: the store, with the retry policy around it (a resumed read is pinned to ``identity``).
    :param size: the object's size as listed; it bounds the ranges (the caller checks what arrived).
    :param identity: what every read is pinned to; ``None`` for an immutable object.
    :param url: the object's URL, for errors.
    :param ranges: whether the store serves ranges at their own cost (``store.serves_ranges(info)``).
    :param budget: the task's connections; ``None``: one of its own (``[datastores] max_connections``).
    :raises IntegrityError: the object ended before its listed size in a range.
    """
    reader = _Ranges(store, key, fd=fd, size=size, identity=identity, url=url,
                     budget=budget or ConnectionBudget())
    return reader.run(probe=ranges and size >= RANGED_FROM)


class _Range:
    __slots__ = ("start", "end", "done")

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end, self.done = start, end, 0


class _Ranges:
    """The state of one download: the first stream, the ranges, the helpers and the prefix."""

    def __init__(self, store: Store, key: str, *, fd: int, size: int, identity: str | None, url: str,
                 budget: ConnectionBudget) -> None:
        self.store, self.key, self.fd, self.size, self.identity, self.url = store, key, fd, size, identity, url
        self.budget = budget
        self.cond = threading.Condition()
        self.ranges: list[_Range] = []
        self.next = 0  # the next range a helper takes
        self.head = 0  # the first range not wholly in the file
        self.prefix = 0  # bytes [0, prefix) are in the file
        self.consumed = 0  # bytes handed on so far
        self.window = 0
        self.running = 0  # helpers that have not ended
        self.error: BaseException | None = None
        self.stop = False

    # The caller's side

    def run(self, *, probe: bool) -> Iterator[bytes]:
        try:
            cut = yield from self._first_stream(probe)
            if cut < self.size:
                yield from self._prefix(cut)
        finally:
            self._stop()

    def _first_stream(self, probe: bool) -> Iterator[bytes]:
        """The object from its first byte, up to where the helpers take over (its end, if none do)."""
        position, cut = 0, self.size
        first_at = first = None
        chunks = self.store.read(self.key, identity=self.identity)
        try:
            for chunk in chunks:
                if cut < self.size and position + len(chunk) > cut:  # the helpers have the rest
                    chunk = chunk[:cut - position]
                _pwrite(self.fd, chunk, position)
                position += len(chunk)
                yield chunk
                if self.running:
                    self._consumed(position)
                if position >= cut < self.size:
                    break
                if probe:
                    now = time.monotonic()
                    if first_at is None:  # the time to the first byte is latency, not rate
                        first_at, first = now, position
                    elif position - first >= PROBE or now - first_at >= PROBE_SECONDS:
                        probe = False
                        cut = self._start(position, rate=(position - first) / max(now - first_at, 1e-6))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if cut < self.size and position < cut:
            raise self._short(position)
        return cut

    def _prefix(self, cut: int) -> Iterator[bytes]:
        """The file's bytes from ``cut`` in order, as the helpers complete them."""
        position = cut
        while position < self.size:
            with self.cond:
                self.consumed = position
                self.cond.notify_all()
                while self.prefix <= position and self.error is None and self.running:
                    self.cond.wait()
                if self.error is not None:
                    raise self.error
                available = self.prefix
            if available <= position:  # every helper ended, and the file is not whole
                raise self._short(available)
            chunk = os.pread(self.fd, min(available - position, READ_BACK), position)
            position += len(chunk)
            yield chunk

    def _consumed(self, position: int) -> None:
        with self.cond:
            self.consumed = position
            self.cond.notify_all()

    def _short(self, at: int) -> IntegrityError:
        return IntegrityError(f"{self.url}: the object ended at byte {at} but the store says it has {self.size}; "
                              "it may have been replaced during the download. Nothing was kept; retry")

    def _start(self, position: int, *, rate: float) -> int:
        """Start helpers for a stream at ``rate`` bytes/s that is at ``position``; where the first stream
        stops (the object's size if no helper starts)."""
        if rate >= FAST_STREAM:
            return self.size
        cut = min(self.size, position + RANGE_SIZE)  # the first stream stays one range ahead
        count = math.ceil((self.size - cut) / RANGE_SIZE)
        streams = min(MAX_STREAMS, max(2, math.ceil(AGGREGATE / max(rate, 1.0))))
        granted = self.budget.take(min(streams - 1, count))
        if not granted:
            return self.size
        self.ranges = [_Range(start, min(start + RANGE_SIZE, self.size)) for start in range(cut, self.size, RANGE_SIZE)]
        self.prefix = self.consumed = cut
        self.window = 2 * (granted + 1) * RANGE_SIZE
        pool = _helpers()
        with self.cond:
            self.running = granted
        for _ in range(granted):
            try:
                pool.submit(self._helper)
            except RuntimeError:  # the interpreter is shutting down
                with self.cond:
                    self.running -= 1
                self.budget.give()
        return cut

    def _stop(self) -> None:
        """Stop the helpers and wait for them: none may write into the file once its descriptor closes."""
        with self.cond:
            self.stop = True
            self.cond.notify_all()
            while self.running:
                self.cond.wait()

    # The helpers' side

    def _helper(self) -> None:
        try:
            while True:
                with self.cond:
                    while (not self.stop and self.next < len(self.ranges)
                           and self.ranges[self.next].end > self.consumed + self.window):
                        self.cond.wait()
                    if self.stop or self.next >= len(self.ranges):
                        return
                    part = self.ranges[self.next]
                    self.next += 1
                self._read(part)
        except BaseException as err:  # handed to the caller, which raises it
            with self.cond:
                if self.error is None:
                    self.error = err
                self.stop = True
        finally:
            self.budget.give()
            with self.cond:
                self.running -= 1
                self.cond.notify_all()

    def _read(self, part: _Range) -> None:
        position = part.start
        chunks = self.store.read(self.key, start=part.start, end=part.end, identity=self.identity)
        try:
            for chunk in chunks:
                if self.stop:
                    return
                if position + len(chunk) > part.end:
                    chunk = chunk[:part.end - position]
                _pwrite(self.fd, chunk, position)
                position += len(chunk)
                with self.cond:
                    part.done = position - part.start
                    self._advance()
                if position >= part.end:
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if position < part.end and not self.stop:
            raise self._short(position)

    def _advance(self) -> None:
        """Move the prefix past what is in the file now (the lock is held)."""
        while self.head < len(self.ranges):
            part = self.ranges[self.head]
            self.prefix = part.start + part.done
            if part.start + part.done < part.end:
                break
            self.head += 1
        self.cond.notify_all()


def _pwrite(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
