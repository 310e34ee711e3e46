"""md5, sha1 and sha256 of a stream in one pass over its bytes, and checks against known checksums.

The three digests are computed while the bytes move (download or upload), never in a second read.
For large streams each algorithm runs on its own thread: hashlib releases the GIL on big buffers, so
the hashing overlaps the network and the disk instead of stalling them.

Every digest here is a checksum, not security: :func:`digest` makes them all with
``usedforsecurity=False``, which a FIPS-mode host requires of md5 and sha1 (ETags, records). Nothing
in the package makes an md5 or a sha1 with hashlib directly (tests/core/test_fips.py says so).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from typing import BinaryIO

from airflow_datastores.errors import IntegrityError
from airflow_datastores.stores.base import PartChecksums, Vouched

ALGORITHMS = ("md5", "sha1", "sha256")

#: Streams at least this large are hashed on worker threads; below it threads cost more than they save.
THREADED_FROM = 4 * 1024 * 1024

_DONE = None


class _Crc:
    """A CRC with the ``update``/``hexdigest`` shape of hashlib (big-endian hex, as stores state them)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._value = 0
        if name == "crc32c":
            import google_crc32c

            self._crc = google_crc32c.Checksum()
        elif name == "crc64nvme":
            from awscrt import checksums

            self._update = checksums.crc64nvme
        elif name == "crc32":
            self._update = zlib.crc32  # faster here than awscrt's (about 3 GB/s), and it lets go of the GIL
        else:
            raise ValueError(f"unknown checksum {name!r}")

    def update(self, chunk: bytes) -> None:
        if self.name == "crc32c":
            self._crc.update(chunk)
        else:
            self._value = self._update(chunk, self._value)

    def digest(self) -> bytes:
        if self.name == "crc32c":
            return self._crc.digest()
        return self._value.to_bytes(8 if self.name == "crc64nvme" else 4, "big")

    def hexdigest(self) -> str:
        return self.digest().hex()


def digest(name: str, data: bytes = b""):
    """A hashlib object for ``name`` (``md5``, ``sha1``, ``sha256`` ...) fed ``data``, made as a checksum:
    ``usedforsecurity=False``, so a FIPS-mode host allows md5 and sha1 too."""
    return hashlib.new(name, data, usedforsecurity=False)


def md5_hex(data: bytes) -> str:
    """The md5 of ``data`` as hex (ETags, Content-MD5): a checksum, allowed on FIPS hosts."""
    return digest("md5", data).hexdigest()


def new_checksum(name: str):
    """A fresh hash object for ``name``: hashlib's algorithms, ``crc32``, ``crc32c`` or ``crc64nvme``."""
    return digest(name) if name in hashlib.algorithms_available else _Crc(name)


class _PartHasher:
    """Checksums of consecutive parts of a stream, for :class:`PartChecksums`."""

    def __init__(self, parts: PartChecksums) -> None:
        self.parts = parts
        self.digests: list[bytes] = []
        self._sizes = list(parts.sizes)
        self._left = self._sizes[0] if self._sizes else 0
        self._current = new_checksum(parts.algorithm)

    def update(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            if not self._left:  # more bytes than the parts account for: the size check says so
                return
            take = min(self._left, len(view))
            self._current.update(view[:take])
            view, self._left = view[take:], self._left - take
            if not self._left:
                self.digests.append(self._current.digest())
                if len(self.digests) < len(self._sizes):
                    self._left = self._sizes[len(self.digests)]
                    self._current = new_checksum(self.parts.algorithm)


class _HashThread(threading.Thread):
    """Feeds chunks from a bounded queue into its hash objects, in order."""

    def __init__(self, name: str, hashes: list) -> None:
        super().__init__(name=f"hash-{name}", daemon=True)
        self.hashes = hashes
        # Bounded: a slow hash applies back-pressure to the transfer instead of buffering the file.
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (chunk := self.queue.get()) is not _DONE:
            try:
                for item in self.hashes:
                    item.update(chunk)
            except BaseException as err:  # pragma: no cover - hashlib does not fail on bytes
                self.error = err


class Hasher:
    """Computes md5, sha1 and sha256 of everything passed to :meth:`update`, and in the same pass
    whatever else a store vouches for (a CRC, checksums part by part).

    :param threaded: hash on worker threads (worth it for streams of megabytes); ``None`` decides from
        ``expected_size``.
    :param expected_size: the stream's size when known, used when ``threaded`` is ``None``.
    :param vouched: what to check the stream against; its extra algorithms and parts are computed too.
    :param extra: further whole-object algorithms to compute (e.g. ``("crc64nvme",)`` for an upload).
    """

    def __init__(self, *, threaded: bool | None = None, expected_size: int | None = None,
                 vouched: Vouched | None = None, extra: tuple[str, ...] = ()) -> None:
        if threaded is None:
            threaded = expected_size is None or expected_size >= THREADED_FROM
        self.size = 0
        self.vouched = vouched
        names = set(extra) | set(vouched.checksums if vouched else ())
        self._hashes = {name: digest(name) for name in ALGORITHMS}
        self._extra = {name: new_checksum(name) for name in sorted(names - set(ALGORITHMS))}
        self._parts = _PartHasher(vouched.parts) if vouched and vouched.parts else None
        others = [*self._extra.values(), *([self._parts] if self._parts else [])]
        self._digests: dict[str, str] | None = None
        self._threads: list[_HashThread] = []
        if threaded:
            self._threads = [_HashThread(name, [h]) for name, h in self._hashes.items()]
            if others:
                self._threads.append(_HashThread("extra", others))
            for thread in self._threads:
                thread.start()
        else:
            self._inline = [*self._hashes.values(), *others]

    def update(self, chunk: bytes) -> None:
        if self._digests is not None:
            raise RuntimeError("Hasher.update() after hexdigests()")
        self.size += len(chunk)
        if self._threads:
            for thread in self._threads:
                thread.queue.put(chunk)
        else:
            for digest in self._inline:
                digest.update(chunk)

    def _finish(self) -> None:
        if self._digests is None:
            for thread in self._threads:
                thread.queue.put(_DONE)
            for thread in self._threads:
                thread.join()
                if thread.error:
                    raise thread.error
            self._digests = {name: h.hexdigest() for name, h in {**self._hashes, **self._extra}.items()}

    def hexdigests(self) -> dict[str, str]:
        """``{"md5": ..., "sha1": ..., "sha256": ...}`` (and any extra algorithms); ends the stream."""
        self._finish()
        return dict(self._digests)

    def verify(self, url: str) -> str:
        """Check what arrived against :attr:`vouched`; ends the stream.

        :return: what vouched for the bytes (``"size"`` when only the size could be checked).
        :raises IntegrityError: naming the URL, the checksum and both values.
        """
        self._finish()
        if self.vouched is None:
            return "size"
        verify_checksums(url=url, computed=self._digests, expected=self.vouched.checksums)
        if self._parts is not None:
            _verify_parts(url, self._parts)
        return self.vouched.source

    def close(self) -> None:
        """Stop the worker threads of an abandoned stream."""
        if self._digests is None and self._threads:
            self._finish()


def _verify_parts(url: str, hasher: _PartHasher) -> None:
    parts = hasher.parts
    got = [d.hex() for d in hasher.digests]
    if len(got) != len(parts.sizes):
        raise IntegrityError(f"{url}: the bytes received do not fill the object's {len(parts.sizes)} parts; "
                             "nothing was kept; retry")
    if parts.digests:
        for number, (have, want) in enumerate(zip(got, parts.digests, strict=True), start=1):
            if have != want.lower():
                raise IntegrityError(
                    f"{url}: {parts.algorithm} of part {number} of {len(got)} is {have} but the store says "
                    f"{want.lower()}; the data was corrupted in transit or in the store. Nothing was kept; retry"
                )
    elif parts.composite:
        combined = new_checksum(parts.algorithm)
        combined.update(b"".join(hasher.digests))
        if combined.hexdigest() != parts.composite.lower():
            raise IntegrityError(
                f"{url}: the {parts.algorithm} of its {len(got)} parts combine to {combined.hexdigest()}-{len(got)} "
                f"but the store says {parts.composite.lower()}-{len(got)}; the data was corrupted in transit or "
                "in the store. Nothing was kept; retry"
            )


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
