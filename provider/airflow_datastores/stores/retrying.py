"""A store whose every request goes through the one retry policy (:mod:`airflow_datastores.retry`).

:func:`~airflow_datastores.stores.registry.open_store` hands out backends wrapped in
:class:`RetryingStore`, so staging, snapshots, verify and purge all retry the same way:

* ``stat``, ``delete`` and ``vouched`` are repeated as they are;
* ``list`` starts again and passes over what it yielded before (:class:`_ListingResume`), in whatever
  order the store lists (SeaweedFS lists directory by directory, not in key order);
* ``read`` resumes at the last byte it yielded, pinned to the identity first seen: a replaced object
  ends the read with :class:`ObjectChanged`, never with a file stitched from two contents;
* ``leftovers`` starts again after the last one it yielded, ``remove_leftover`` is repeated as it is;
* ``write`` is left to the backend, which repeats each of its requests (a PUT, each part, the
  commit) with the same policy, the body of each held in memory or, for a create-only write,
  rewound from its spool (:mod:`~airflow_datastores.stores.spool`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import BinaryIO

from airflow_datastores import retry
from airflow_datastores.errors import DataStoreError, TransientError
from airflow_datastores.stores.base import Leftover, ObjectInfo, Store, Vouched


class RetryingStore(Store):
    """``inner`` with the retry policy around each request; other attributes are ``inner``'s.

    :param inner: the backend.
    :param policy: the bounds; default: the configured ``[datastores]`` policy.
    :param logger: where retry lines go (a task's logger shows them in the task log).
    """

    def __init__(self, inner: Store, *, policy: retry.RetryPolicy | None = None,
                 logger: logging.Logger | None = None) -> None:
        # No super().__init__: root, conn_id and the class attributes come from inner.
        self.inner = inner
        self.policy = policy
        self.logger = logger

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return repr(self.inner)

    @property
    def root(self) -> str:  # type: ignore[override]
        return self.inner.root

    @property
    def conn_id(self) -> str | None:  # type: ignore[override]
        return self.inner.conn_id

    @property
    def schemes(self):  # type: ignore[override]
        return self.inner.schemes

    @property
    def writable(self) -> bool:  # type: ignore[override]
        return self.inner.writable

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.inner.label

    def _attempts(self, what: str, key: str) -> retry.Attempts:
        return retry.Attempts(what=what, url=self.inner.url_for(key), policy=self.policy, logger=self.logger)

    def stat(self, key: str) -> ObjectInfo:
        return retry.call(lambda: self.inner.stat(key), what="stat", url=self.inner.url_for(key),
                          policy=self.policy, logger=self.logger)

    def vouched(self, info: ObjectInfo, *, exact: bool = False) -> Vouched:
        return retry.call(lambda: self.inner.vouched(info, exact=exact), what="checksum lookup", url=info.url,
                          policy=self.policy, logger=self.logger)

    def serves_ranges(self, info: ObjectInfo) -> bool:
        return self.inner.serves_ranges(info)

    def delete(self, key: str) -> None:
        retry.call(lambda: self.inner.delete(key), what="delete", url=self.inner.url_for(key),
                   policy=self.policy, logger=self.logger)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        attempts = self._attempts("list", prefix)
        resume = _ListingResume(self.inner.url_for(prefix))
        while True:
            try:
                for info in self.inner.list(prefix):
                    if resume.seen(info.key):
                        continue  # yielded before the listing broke off
                    yield info
                resume.end()
                return
            except TransientError as err:
                attempts.failed(err)
                resume.restart()

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        attempts = self._attempts("list leftovers", prefix)
        seen: set[tuple[str, str]] = set()
        while True:
            try:
                for leftover in self.inner.leftovers(prefix):
                    if (leftover.url, leftover.ref) in seen:
                        continue  # yielded before the listing broke off
                    seen.add((leftover.url, leftover.ref))
                    yield leftover
                return
            except TransientError as err:
                attempts.failed(err)

    def remove_leftover(self, leftover: Leftover) -> None:
        retry.call(lambda: self.inner.remove_leftover(leftover), what=f"remove {leftover.kind}", url=leftover.url,
                   policy=self.policy, logger=self.logger)

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        attempts = self._attempts("read", key)
        position = start
        while True:
            try:
                for chunk in self.inner.read(key, start=position, end=end, identity=identity):
                    position += len(chunk)
                    yield chunk
                return
            except TransientError as err:
                if end is not None and position >= end:
                    return
                attempts.failed(err, resume_at=position)

    def write(self, key: str, data: BinaryIO, *, create_only: bool = False) -> ObjectInfo:
        # Each backend retries every request of a write itself (a PUT, each part, the commit), with
        # the body in memory: a stream read once cannot be repeated from here.
        return self.inner.write(key, data, create_only=create_only)

    def close(self) -> None:
        self.inner.close()


class _ListingResume:
    """What a listing that broke off and starts again yielded already, in O(1) memory.

    The listing starts again from its first key, so its first keys are the ones yielded before, in the
    same order, if nothing changed meanwhile; they are passed over and their digest must match the
    digest of the keys yielded. Everything after them is new. When the listing changed in between: a
    store that lists in key order (S3, Azure, GCS, Swift, local) yielded every key up to the highest
    one yielded, so those are passed over; a store that lists out of key order (SeaweedFS lists
    directory by directory: ``a/1`` before ``a-b/2``) cannot tell, and an error says so rather than
    a listing with a key missing or twice.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.last: str | None = None  # the highest key yielded
        self.ordered = True  # every key yielded came after the one before it
        self.count = 0
        self.digest = hashlib.sha256()
        self.mode = "first"  # first | replay | new | filter

    def restart(self) -> None:
        self.mode = "replay" if self.count else "first"
        self._position, self._replay, self._previous = 0, hashlib.sha256(), None

    def seen(self, key: str) -> bool:
        """Whether ``key``, the next one listed, was yielded before; if not, it counts as yielded now."""
        previous, self._previous = getattr(self, "_previous", None), key
        if self.mode == "replay":
            if self.ordered and key > self.last:  # a new key among the old ones: the listing changed
                self.mode = "filter"
            else:
                self._position += 1
                self._replay.update(_name(key))
                if self._position == self.count:
                    if self._replay.digest() == self.digest.digest():
                        self.mode = "new"
                    else:
                        self._changed()
                return True
        if self.mode == "filter":
            if previous is not None and key <= previous:
                self.ordered = False
                self._changed()
            if key <= self.last:
                return True
        if self.last is not None and key <= self.last:
            self.ordered = False
        if self.last is None or key > self.last:
            self.last = key
        self.count += 1
        self.digest.update(_name(key))
        return False

    def end(self) -> None:
        """The listing ended: a replay cut short means it changed."""
        if self.mode == "replay":
            self._changed()

    def _changed(self) -> None:
        if not self.ordered:
            raise DataStoreError(
                f"{self.url}: the listing broke off and was started again, and it changed meanwhile; this "
                "store lists keys out of key order, so which objects were listed already cannot be told. "
                "Run the task again")
        self.mode = "filter"


def _name(key: str) -> bytes:
    return key.encode(errors="surrogatepass") + b"\0"
