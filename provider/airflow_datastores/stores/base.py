"""The store interface every backend implements, and the object metadata it returns (the
typed errors it raises live in :mod:`airflow_datastores.errors`).

A :class:`Store` is rooted at one location (a bucket, a container, a directory) and addresses objects by
*key*: a relative, ``/``-separated path below that root. Backends map their SDK's exceptions to the
errors below in one place, and never put a secret into a message.
"""

from __future__ import annotations

import abc
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

from airflow_datastores.errors import (  # noqa: F401 -- the errors a store raises, importable from here too
    AccessDenied,
    AlreadyExists,
    DataStoreError,
    IntegrityError,
    MissingExtra,
    NotFound,
    ObjectChanged,
    ReadOnlyStore,
    TransientError,
)

#: Size of the chunks that reads yield and writes consume. Large enough that hashlib and the SDKs
#: release the GIL for most of the work, small enough that memory stays flat.
CHUNK_SIZE = 8 * 1024 * 1024
#: Bytes per read of a streamed response body: a read that breaks off loses at most this much (plus
#: what sat unread in the socket), as the resume starts after the last piece received.
READ_PIECE = 1024 * 1024


class SharedClient:
    """An SDK client made on first use and shared by every thread of a store; :meth:`close` closes it,
    and the next use makes a new one.

    :param make: builds the client (from the store's Airflow connection).
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


@dataclass(frozen=True)
class ObjectInfo:
    """What a store says about one object, without reading its bytes.

    :param key: key of the object relative to the store's root.
    :param url: full URL of the object (never carries credentials).
    :param size: size in bytes.
    :param identity: the store's identity of this content (ETag, generation, version id, or for local
        files inode/mtime); it changes whenever the object is replaced.
    :param checksums: native checksums the store returned, lower-case hex, keyed by algorithm
        (``md5``, ``sha1``, ``sha256``, ``crc32c``). Only checksums that are true for the whole
        object's bytes are listed (not multipart ETags, not segmented-object ETags).
    :param modified: last modification time, when the store reports it.
    """

    key: str
    url: str
    size: int
    identity: str
    checksums: dict[str, str] = field(default_factory=dict)
    modified: datetime | None = None


@dataclass(frozen=True)
class PartChecksums:
    """Checksums of the consecutive parts of an object (an S3 multipart upload, a Swift SLO's segments).

    :param algorithm: the algorithm of each part's checksum (``md5``, ``sha256``, ``crc32c`` ...).
    :param sizes: each part's size in bytes, in order; they add up to the object's size.
    :param digests: each part's checksum as lower-case hex, when the store states them one by one.
    :param composite: else the checksum of the concatenated binary part checksums (S3's multipart ETag
        and composite checksums), lower-case hex.
    :param assumed: the sizes are inferred (equal parts but the last), not each asked for; a mismatch
        is then checked again against the exact sizes before it counts.
    """

    algorithm: str
    sizes: tuple[int, ...]
    digests: tuple[str, ...] = ()
    composite: str | None = None
    assumed: bool = False


@dataclass(frozen=True)
class Vouched:
    """What a store vouches for about an object's bytes, to check a download against.

    :param source: what vouched, as the input record's ``verified`` says it: ``"s3:crc64nvme"``,
        ``"gcs:crc32c"``, ``"swift:segments"``; ``"size"`` when nothing but the size is known.
    :param checksums: whole-object checksums, lower-case hex, keyed by algorithm.
    :param parts: checksums part by part, when the store keeps no whole-object checksum.
    """

    source: str
    checksums: dict[str, str] = field(default_factory=dict)
    parts: PartChecksums | None = None


@dataclass(frozen=True)
class Leftover:
    """Bytes a write that never finished left behind outside the key space: no key names them, yet
    the store keeps (and may bill) them. A writer killed mid-upload leaves these; purge removes them.

    :param kind: what it is, for people: ``"multipart upload"`` (S3), ``"segments"`` (Swift),
        ``"uncommitted blocks"`` (Azure), ``"temp file"`` (local).
    :param url: where it is, for people (never carries credentials).
    :param size: bytes it holds.
    :param modified: when it was started or last written; ``None`` when the store does not say
        (purge then treats it as young and keeps it).
    :param key: the key the unfinished write was for, when known (local temp files do not know).
    :param pieces: how many parts, segments, blocks or files it is made of.
    :param ref: what the backend needs to remove it (an upload id, a segment prefix, a file path).
    """

    kind: str
    url: str
    size: int
    modified: datetime | None
    key: str | None = None
    pieces: int = 1
    ref: str = ""


class Store(abc.ABC):
    """One storage location, addressed by keys below its root.

    :param root: URL of the root, e.g. ``s3://bucket/prefix`` or ``file:///data/store``.
    :param conn_id: Airflow connection that holds the credentials; ``None`` uses the backend's default.
    """

    #: URL schemes this backend serves.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Whether the store accepts writes and deletes.
    writable: ClassVar[bool] = True
    #: How records name this backend in ``verified`` (``s3:crc64nvme``).
    label: ClassVar[str] = ""

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        self.root = root
        self.conn_id = conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def url_for(self, key: str) -> str:
        """Full URL of ``key``."""
        if not key:
            return self.root
        return f"{self.root}{key}" if self.root.endswith("/") else f"{self.root}/{key}"

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Metadata of one object. Raises :class:`NotFound` when it does not exist."""

    @abc.abstractmethod
    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        """Stream the bytes of ``key`` from ``start`` up to ``end`` (exclusive; ``None`` = to the end).

        Yields chunks of at most about :data:`CHUNK_SIZE`. Memory stays flat whatever the size.

        :param identity: the :attr:`ObjectInfo.identity` the bytes must belong to; the request carries
            it as a precondition (If-Match, a generation), and :class:`ObjectChanged` is raised when
            the object is no longer that one. So a resumed read never stitches two contents together.
        """

    def serves_ranges(self, info: ObjectInfo) -> bool:
        """Whether a read of part of ``info`` (``start``/``end``) costs about what that part holds, so a
        large object may be read as parallel ranges (:mod:`~airflow_datastores.stores.parallel`).
        Network stores that do say so; a local file gains nothing from ranges."""
        return False

    def vouched(self, info: ObjectInfo, *, exact: bool = False) -> Vouched:
        """What the store vouches for about ``info``'s bytes; backends that keep part checksums
        (asked with extra requests, so only right before a download) override this.

        :param exact: ask for every part's size rather than infer them (see :attr:`PartChecksums.assumed`).
        """
        return vouch(self.label or self.schemes[0], info.checksums)

    @abc.abstractmethod
    def write(
        self,
        key: str,
        data: BinaryIO,
        *,
        create_only: bool = False,
    ) -> ObjectInfo:
        """Store what ``data.read()`` yields under ``key``, streaming, with bounded memory.

        :param data: a readable binary file object; read in chunks until it returns ``b""``.
        :param create_only: refuse with :class:`AlreadyExists` when ``key`` already exists; the check
            and the write are ONE request the server makes atomic, whatever the size (never a
            conditional multipart complete, which SeaweedFS and Ceph RGW do not make atomic), up to
            the most the server takes in one request.
        """

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, recursively, in the store's listing order:
        lexicographic key order for S3, Azure, GCS, Swift and local directories; an S3-compatible
        server may list otherwise (SeaweedFS lists directory by directory), so callers sort what they
        need in order.

        Pages through the store's listing; never loads the whole listing at once.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object. Deleting a key that does not exist is not an error."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store must not be used afterwards."""

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        """What unfinished writes below ``prefix`` left outside the key space, young and old alike
        (the caller decides what is old enough to go). Backends that leave nothing yield nothing.

        :param prefix: only leftovers of writes to keys starting with this; leftovers whose key is
            unknown (local temp files) are listed only for the whole store (``""``).
        """
        return iter(())

    def remove_leftover(self, leftover: Leftover) -> None:  # noqa: B027 - optional hook
        """Remove one leftover that :meth:`leftovers` listed. One already gone is not an error.

        :param leftover: as :meth:`leftovers` yielded it.
        """

    # Conveniences built on the primitives above.

    def read_bytes(self, key: str) -> bytes:
        """The whole content of a small object."""
        return b"".join(self.read(key))

    def write_bytes(self, key: str, data: bytes, *, create_only: bool = False) -> ObjectInfo:
        """Store a small object held in memory."""
        return self.write(key, io.BytesIO(data), create_only=create_only)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    def _require_writable(self, key: str) -> None:
        if not self.writable:
            raise ReadOnlyStore(
                f"{self.url_for(key)}: {self.schemes[0]}:// stores are read-only; "
                "write outputs to a local, s3, az, gs or swift store instead"
            )


#: Checksums every transfer computes anyway: checking against them costs nothing more.
FREE_CHECKSUMS = ("sha256", "sha1", "md5")
#: Other whole-object checksums, cheapest to compute first (crc64nvme and crc32c run at well over
#: 10 GB/s here, crc32 at about 3 GB/s).
EXTRA_CHECKSUMS = ("crc64nvme", "crc32c", "crc32")


def vouch(label: str, checksums: dict[str, str]) -> Vouched:
    """A :class:`Vouched` for whole-object ``checksums`` (``size`` when there are none).

    Every checksum we compute anyway is checked; of the others only the cheapest, and only when none
    of ours is vouched for, so verifying adds the least work to the hash threads."""
    known = [name for name in FREE_CHECKSUMS if checksums.get(name)]
    if not known:
        known = [name for name in EXTRA_CHECKSUMS if checksums.get(name)][:1]
    if not known:
        return Vouched(source="size")
    return Vouched(source=f"{label}:{'+'.join(known)}", checksums={name: checksums[name] for name in known})


def split_root(root: str) -> tuple[str, str]:
    """``(bucket or container, key prefix)`` of a root such as ``s3://bucket/some/prefix``; the prefix
    is ``""`` or ends with ``/``, so ``prefix + key`` is the object's name in the bucket."""
    location, _, prefix = root.split("://", 1)[1].partition("/")
    prefix = prefix.strip("/")
    return location, f"{prefix}/" if prefix else ""


def read_up_to(data: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes from ``data``, reading until that many arrived or the stream ended
    (a stream may return fewer bytes than asked without being at its end). A file gives them in one
    read: no copy to join pieces."""
    parts, remaining = [], size
    while remaining > 0:
        chunk = data.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def check_key(key: str) -> str:
    """Refuse keys that are absolute or would climb out of the root, and return the key."""
    if key.startswith("/") or any(part in ("..",) for part in key.split("/")):
        raise DataStoreError(
            f"Invalid object key {key!r}: keys are relative paths below the store root "
            "and may not start with '/' or contain '..'"
        )
    return key
