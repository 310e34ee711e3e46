"""A store whose every request goes through the one retry policy (:mod:`airflow_datastores.retry`).

:func:`~airflow_datastores.stores.registry.open_store` hands out backends wrapped in
:class:`RetryingStore`, so staging, snapshots, verify and purge all retry the same way:

* ``stat``, ``delete`` and ``vouched`` are repeated as they are;
* ``list`` starts again after the last key it yielded (listings are in key order);
* ``read`` resumes at the last byte it yielded, pinned to the identity first seen: a replaced object
  ends the read with :class:`ObjectChanged`, never with a file stitched from two contents;
* ``leftovers`` starts again after the last one it yielded, ``remove_leftover`` is repeated as it is;
* ``write`` is left to the backend, which repeats each of its requests (a PUT, each part, the
  commit) with the same policy, the body of each held in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import BinaryIO

from airflow_datastores import retry
from airflow_datastores.errors import TransientError
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

    def delete(self, key: str) -> None:
        retry.call(lambda: self.inner.delete(key), what="delete", url=self.inner.url_for(key),
                   policy=self.policy, logger=self.logger)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        attempts = self._attempts("list", prefix)
        last: str | None = None
        while True:
            try:
                for info in self.inner.list(prefix):
                    if last is not None and info.key <= last:
                        continue  # yielded before the listing broke off
                    yield info
                    last = info.key
                return
            except TransientError as err:
                attempts.failed(err)

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
