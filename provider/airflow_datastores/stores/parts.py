"""Uploads as parallel parts, and the memory a store's uploads may hold.

A write reads its stream once, in order, part by part (the caller's hashes see every byte in order);
each part is sent on a thread of its own while the next one is read, as many at once as the store's
:class:`MemoryBudget` holds parts. One :class:`MemoryBudget` per store bounds the upload bodies in
memory across all its writes at once: a large file gets it all, many files share it, and a small file
holds only its own bytes, so many small files upload at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, TypeVar

from airflow_datastores.stores.base import read_up_to

T = TypeVar("T")

#: Bytes of upload bodies one store holds in memory at once (eight parts of 16 MiB).
UPLOAD_MEMORY = 128 * 1024 * 1024


class MemoryBudget:
    """Bytes of upload bodies one store holds in memory at once, across all its writes.

    :param limit: the bound, in bytes; default :data:`UPLOAD_MEMORY`.
    """

    def __init__(self, *, limit: int | None = None) -> None:
        self.limit = UPLOAD_MEMORY if limit is None else limit
        self._used = 0
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        """Bytes taken now."""
        return self._used

    def acquire(self, size: int) -> None:
        """Wait until ``size`` bytes (at most :attr:`limit`) are free, and take them."""
        with self._cond:
            while self._used + size > self.limit:
                self._cond.wait()
            self._used += size

    def release(self, size: int) -> None:
        with self._cond:
            self._used -= size
            self._cond.notify_all()


def read_first_part(data: BinaryIO, *, part_size: int, budget: MemoryBudget) -> bytes:
    """The first part of ``data`` (up to ``part_size`` bytes), read once ``part_size`` of ``budget`` is
    taken, so its bytes count against the budget too. A short read (a small file) keeps only its own
    bytes of the budget, which the caller releases once it is sent; a full part goes to
    :func:`send_parts`, which releases its ``part_size``."""
    budget.acquire(part_size)
    try:
        part = read_up_to(data, part_size)
    except BaseException:
        budget.release(part_size)
        raise
    if len(part) < part_size:
        budget.release(part_size - len(part))  # a small file holds only its own bytes
    return part


def send_parts(first: list[bytes], data: BinaryIO, *, part_size: int, budget: MemoryBudget,
               send: Callable[[int, bytes], T], seen: Callable[[bytes], None] | None = None,
               name: str = "part") -> list[T]:
    """Send the first part and the rest of ``data`` as parts of ``part_size`` bytes, numbered from 1:
    each by ``send(number, part)`` on a thread of its own while the next part is read, as many at once
    as ``budget`` holds. Returns what each ``send`` returned, in order.

    ``first`` is a list that holds the first part (already read, and holding ``part_size`` of the
    budget): it is emptied, so that part's memory goes once it is sent, as each later part's does.
    Each later part takes ``part_size`` of the budget before it is read, and gives it back once sent
    and dropped. ``seen(part)`` gets every part in order on the caller's thread (a whole-object
    checksum). The first part whose ``send`` fails (its retries spent) ends the upload: no later part
    is read, and its error is raised once the parts in flight ended.
    """
    workers = max(1, budget.limit // part_size)

    def sending(number: int, box: list[bytes]) -> T:
        try:
            return send(number, box.pop())  # the part is dropped when send returns
        finally:
            budget.release(part_size)

    results: list[T] = []
    pending: deque[Future] = deque()
    part, number = first.pop(), 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        try:
            while part:
                if seen is not None:
                    seen(part)
                try:
                    pending.append(pool.submit(sending, number, [part]))
                except BaseException:
                    budget.release(part_size)
                    raise
                part, number = b"", number + 1
                while pending and pending[0].done():
                    results.append(pending.popleft().result())
                for failed in [f for f in pending if f.done() and f.exception() is not None]:
                    failed.result()  # a part whose retries are spent ends the upload now, not at the end
                budget.acquire(part_size)
                try:
                    part = read_up_to(data, part_size)
                except BaseException:
                    budget.release(part_size)
                    raise
                if not part:
                    budget.release(part_size)
            while pending:
                results.append(pending.popleft().result())
        except BaseException:
            for future in pending:
                future.cancel()  # not started: its budget goes back with it below
            for future in pending:
                if future.cancelled():
                    budget.release(part_size)
            raise
    return results
