"""md5, sha1 and sha256 of a stream in one pass over its bytes, and checks against known checksums.

The three digests are computed while the bytes move (download or upload), never in a second read.
For large streams each algorithm runs on its own thread: hashlib releases the GIL on big buffers, so
the hashing overlaps the network and the disk instead of stalling them.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO

from airflow_datastores.stores.base import IntegrityError

ALGORITHMS = ("md5", "sha1", "sha256")

#: Streams at least this large are hashed on worker threads; below it threads cost more than they save.
THREADED_FROM = 4 * 1024 * 1024

_DONE = None


class _HashThread(threading.Thread):
    """Feeds chunks from a bounded queue into one hash object, in order."""

    def __init__(self, name: str) -> None:
        super().__init__(name=f"hash-{name}", daemon=True)
        self.hash = hashlib.new(name)
        # Bounded: a slow hash applies back-pressure to the transfer instead of buffering the file.
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None

    def run(self) -> None:
        update = self.hash.update
        while (chunk := self.queue.get()) is not _DONE:
            try:
                update(chunk)
            except BaseException as err:  # pragma: no cover - hashlib does not fail on bytes
                self.error = err


class Hasher:
    """Computes md5, sha1 and sha256 of everything passed to :meth:`update`.

    :param threaded: hash on one worker thread per algorithm (worth it for streams of megabytes);
        ``None`` decides from ``expected_size``.
    :param expected_size: the stream's size when known, used when ``threaded`` is ``None``.
    """

    def __init__(self, *, threaded: bool | None = None, expected_size: int | None = None) -> None:
        if threaded is None:
            threaded = expected_size is None or expected_size >= THREADED_FROM
        self.size = 0
        self._threads: list[_HashThread] = []
        self._hashes: dict[str, hashlib._Hash] = {}
        self._digests: dict[str, str] | None = None
        if threaded:
            self._threads = [_HashThread(name) for name in ALGORITHMS]
            for thread in self._threads:
                thread.start()
        else:
            self._hashes = {name: hashlib.new(name) for name in ALGORITHMS}

    def update(self, chunk: bytes) -> None:
        if self._digests is not None:
            raise RuntimeError("Hasher.update() after hexdigests()")
        self.size += len(chunk)
        if self._threads:
            for thread in self._threads:
                thread.queue.put(chunk)
        else:
            for digest in self._hashes.values():
                digest.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        """``{"md5": ..., "sha1": ..., "sha256": ...}``; ends the stream (no update afterwards)."""
        if self._digests is None:
            if self._threads:
                for thread in self._threads:
                    thread.queue.put(_DONE)
                for thread in self._threads:
                    thread.join()
                    if thread.error:
                        raise thread.error
                self._hashes = {t.hash.name: t.hash for t in self._threads}
            self._digests = {name: self._hashes[name].hexdigest() for name in ALGORITHMS}
        return dict(self._digests)

    def close(self) -> None:
        """Stop the worker threads of an abandoned stream."""
        if self._digests is None and self._threads:
            self.hexdigests()


class HashingReader:
    """A file wrapper that hashes every byte read through it (for uploads).

    :param raw: the binary file to read.
    :param hasher: the :class:`Hasher` that receives the bytes.
    """

    def __init__(self, raw: BinaryIO, hasher: Hasher) -> None:
        self._raw = raw
        self.hasher = hasher

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if chunk:
            self.hasher.update(chunk)
        return chunk

    def readable(self) -> bool:
        return True


def hash_file(path: str, *, chunk_size: int = 8 * 1024 * 1024) -> dict[str, str]:
    """md5, sha1 and sha256 of a local file (for files that did not arrive through a transfer)."""
    import os

    hasher = Hasher(expected_size=os.path.getsize(path))
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            hasher.update(chunk)
    return hasher.hexdigests()


def verify_checksums(*, url: str, computed: dict[str, str], expected: dict[str, str]) -> list[str]:
    """Compare the digests of what arrived with the checksums the source vouches for.

    :param url: what was transferred, named in the error.
    :param computed: digests of the bytes that arrived (as from :meth:`Hasher.hexdigests`).
    :param expected: checksums the store or a manifest states; algorithms we did not compute are
        ignored.
    :return: the algorithms that were checked (empty when the source vouches for nothing we compute).
    :raises IntegrityError: on any mismatch, naming the URL, the algorithm and both values.
    """
    checked = []
    for name, want in expected.items():
        have = computed.get(name)
        if have is None or not want:
            continue
        if have.lower() != want.lower():
            raise IntegrityError(
                f"{url}: {name} of the received bytes is {have} but the source says {want.lower()}; "
                "the data was corrupted in transit or in the store. Nothing was kept; retry, and if "
                "it persists, check the object in the store"
            )
        checked.append(name)
    return checked
