"""OpenStack Swift: ``swift://container/prefix``, credentials through :class:`SwiftHook`.

Objects below :data:`SEGMENT_SIZE` go in one PUT. Larger ones become a static large object (SLO): the
segments go to the container ``<container>_segments`` under ``<object name>/<upload id>/``, then the
manifest goes to the object's name. A separate segment container is the convention of the ``swift``
command line client, so objects uploaded by either look alike, and listings of the data container hold
only real objects: nothing to filter, no segment names to page through.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from airflow_datastores.errors import (
    AccessDenied,
    AlreadyExists,
    DataStoreError,
    MissingExtra,
    NotFound,
    ObjectChanged,
    TransientError,
)
from airflow_datastores.hashing import md5_hex
from airflow_datastores.hooks.swift import SwiftHook
from airflow_datastores.stores.base import (
    READ_PIECE,
    ObjectInfo,
    PartChecksums,
    Store,
    Vouched,
    check_key,
    split_root,
)
from airflow_datastores.stores.parts import MemoryBudget, read_first_part
from airflow_datastores.stores.spool import Spool
from airflow_datastores.stores.swift_segments import (
    MANIFEST_PUT,
    MAX_MANIFEST_SEGMENTS,
    SegmentedObjects,
    parse_time,
    segment_container_of,
)

try:
    import requests
    import urllib3
    from swiftclient.exceptions import ClientException
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="swift", extra="swift") from err

#: Objects below this size go in one PUT; larger ones become an SLO of segments this size
#: (create-only writes excepted: always one plain PUT).
SEGMENT_SIZE = 16 * 1024 * 1024
#: The most Swift takes in one plain PUT (its default ``max_file_size``): the bound of a create-only write.
MAX_OBJECT_SIZE = 5 * 1024**3
#: Names asked for per listing request.
LIST_PAGE_SIZE = 1000
#: How long a create-only write waits for competing PUTs to finish before reading its object back.
CREATE_SETTLE_SECONDS = 1.0


class SwiftStore(SegmentedObjects, Store):
    """Objects in a Swift container below an optional prefix.

    Identity is the ETag: the md5 of a plain object, which is also offered as its checksum; for an SLO,
    Swift's md5 of its segments' ETags, which is no checksum of the bytes: an SLO is checked segment
    by segment against the ETags its manifest lists. Reads are pinned with ``If-Match``; every PUT
    carries its md5 as ``ETag``, which Swift checks. swiftclient tries each request once; the retry
    policy repeats them. The SLO side (segmented uploads, segment lists, leftover segments) is mixed in
    from :class:`~airflow_datastores.stores.swift_segments.SegmentedObjects`.
    """

    schemes = ("swift",)
    label = "swift"

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.container, self.prefix = split_root(root)
        self.segment_container = segment_container_of(self.container)
        self._hook = SwiftHook(swift_conn_id=conn_id or SwiftHook.default_conn_name)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet = weakref.WeakSet()
        self._container_seen = False
        self._segment_container_ready = False
        #: upload bodies in memory at once, across all this store's writes
        self._memory = MemoryBudget()

    @property
    def conn(self):
        """This thread's connection (swiftclient's are not thread-safe). A new one reuses the token of an
        existing one, so a pool of threads authenticates once; an expired token is renewed by each."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                auth = next(((c.url, c.token) for c in self._connections if c.url and c.token), None)
                from airflow_datastores.retry import default_policy

                conn = self._hook.get_conn(retries=0, timeout=default_policy().read_timeout,
                                           **({"preauthurl": auth[0], "preauthtoken": auth[1]} if auth else {}))
                if not auth:  # authenticate now: swiftclient cannot repeat a PUT after a 401 when it tries once
                    conn.url, conn.token = conn.get_auth()
                self._connections.add(conn)
            self._local.conn = conn
        return conn

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            headers = self.conn.head_object(self.container, self._name(key))
        segmented = "x-static-large-object" in headers or "x-object-manifest" in headers
        return self._info(key, size=int(headers["content-length"]), etag=headers.get("etag", ""),
                          modified=headers.get("last-modified"), whole=not segmented)

    def vouched(self, info: ObjectInfo, *, exact: bool = False) -> Vouched:
        """A plain object's ETag (its md5); for an SLO, each segment's ETag from its manifest."""
        if info.checksums:
            return super().vouched(info)
        with self._errors(info.key):
            headers = self.conn.head_object(self.container, self._name(info.key))
            if headers.get("x-static-large-object", "").lower() != "true":
                return Vouched(source="size")  # a dynamic large object: Swift keeps no checksum of it
            segments = self._segments(self.container, self._name(info.key))
        if segments is None or sum(size for size, _ in segments) != info.size:
            return Vouched(source="size")
        return Vouched(source="swift:segments", parts=PartChecksums(
            algorithm="md5", sizes=tuple(size for size, _ in segments),
            digests=tuple(etag for _, etag in segments)))

    def serves_ranges(self, info: ObjectInfo) -> bool:
        return True

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        headers = {"Range": f"bytes={start}-{'' if end is None else end - 1}"} if start or end is not None else {}
        if identity and identity.startswith("etag:"):
            headers["If-Match"] = f'"{identity[5:]}"'
        try:
            _headers, body = self.conn.get_object(self.container, self._name(key), resp_chunk_size=READ_PIECE,
                                                  headers=headers)
        except ClientException as err:
            if err.http_status == 416:  # the range starts at or past the end
                return iter(())
            if err.http_status == 412 and identity:
                raise ObjectChanged(f"{self.url_for(key)}: the object was replaced since it was first seen "
                                    f"({identity}); nothing of it was kept") from None
            raise self._error(err, key) from None
        except OSError as err:
            raise self._error(err, key) from None
        return self._stream(body, key)

    def _stream(self, body, key: str) -> Iterator[bytes]:
        try:
            yield from body
        except ClientException as err:
            if err.http_status == 412:
                raise ObjectChanged(f"{self.url_for(key)}: the object was replaced while it was read; "
                                     "read it again") from None
            raise TransientError(f"{self.url_for(key)}: reading failed ({self._status(err)})") from None
        except (OSError, urllib3.exceptions.HTTPError, requests.exceptions.RequestException) as err:
            raise TransientError(f"{self.url_for(key)}: connection lost while reading ({type(err).__name__})") from None
        finally:
            body.close()

    def write(self, key: str, data: BinaryIO, *, create_only: bool = False) -> ObjectInfo:
        name = self._name(key)
        if create_only:
            with Spool(data, limit=MAX_OBJECT_SIZE, url=self.url_for(key), checksums=("md5",)) as spool:
                etag = self._put_exclusive(key, name, spool, etag=spool.hexdigest("md5"))
                size = spool.size
            return self._info(key, size=size, etag=etag, whole=True)
        segment_size = SEGMENT_SIZE
        first = read_first_part(data, part_size=segment_size, budget=self._memory)
        if len(first) < segment_size:
            try:
                etag = self._put(self.container, name, first, key=key)
            finally:
                self._memory.release(len(first))
            return self._info(key, size=len(first), etag=etag, whole=True)
        box = [first]  # emptied by the upload, so the first segment's memory goes once it is sent
        del first
        return self._put_large(key, name, box, data, segment_size=segment_size, max_entries=MAX_MANIFEST_SEGMENTS)

    def _put(self, container: str, name: str, contents: bytes | str | Spool, *, key: str, what: str = "write",
             tries: list[int] | None = None, **kwargs) -> str:
        """One PUT under the retry policy; its ETag. A plain object's PUT carries its md5 as ``ETag``,
        which Swift checks (422 on a mismatch); a manifest's ETag is Swift's own. ``tries`` gets one
        item per attempt. A :class:`Spool` streams from its first byte on each attempt."""
        from airflow_datastores import retry

        if isinstance(contents, Spool):
            body, size, md5 = contents.rewind, contents.size, contents.hexdigest("md5")
        else:
            data = contents.encode() if isinstance(contents, str) else contents
            body, size, md5 = (lambda: _Body(data)), len(data), None
        if kwargs.get("query_string") != MANIFEST_PUT:
            kwargs["etag"] = md5 or md5_hex(data)

        def once() -> str:
            if tries is not None:
                tries.append(1)
            with self._errors(key):
                return self.conn.put_object(container, name, contents=body(), content_length=size, **kwargs)

        return retry.call(once, what=what, url=self.url_for(key))

    def _put_exclusive(self, key: str, name: str, contents: bytes | str | Spool, *, etag: str,
                       query_string: str | None = None) -> str:
        """A create-only PUT that stays exclusive when writers race: one plain PUT (never an SLO).

        Swift checks ``If-None-Match: *`` when a PUT starts, so PUTs that start together all succeed
        and the one with the latest timestamp wins. Each writer therefore waits until competing PUTs
        are done (a second, plus as long as its own PUT took: a competitor started before ours ended),
        then reads the object back: only the writer whose ETag is there won.
        """
        tries: list[int] = []
        started = time.monotonic()
        try:
            self._put(self.container, name, contents, key=key, what="create", query_string=query_string,
                      headers={"If-None-Match": "*"}, tries=tries)
        except AlreadyExists:
            # A 412 on a repeated PUT may meet our own first attempt, whose answer was lost: read back.
            if len(tries) < 2:
                raise
        conn = self.conn
        time.sleep(CREATE_SETTLE_SECONDS + (time.monotonic() - started))
        with self._errors(key):
            now = conn.head_object(self.container, name).get("etag", "").strip('"')
        if now != etag:
            raise AlreadyExists(f"{self.url_for(key)}: already exists; it is never overwritten (another "
                                "writer created it at the same time)")
        return etag

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # A listing entry of a dynamic large object (X-Object-Manifest) shows its empty manifest; stat()
        # tells its real size. Static large objects are listed with their size and SLO ETag.
        with self._errors(prefix):
            for item in self._pages(self.container, self.prefix + check_key(prefix)):
                yield self._info(item["name"][len(self.prefix):], size=int(item["bytes"]),
                                 etag=item.get("slo_etag") or item.get("hash", ""),
                                 modified=item.get("last_modified"), whole="slo_etag" not in item)

    def _pages(self, container: str, prefix: str) -> Iterator[dict]:
        """Listing entries, one request per :data:`LIST_PAGE_SIZE` names (marker-based paging)."""
        marker = ""
        while True:
            _headers, page = self.conn.get_container(container, prefix=prefix, marker=marker, limit=LIST_PAGE_SIZE)
            yield from page
            if len(page) < LIST_PAGE_SIZE:
                return
            marker = page[-1]["name"]

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            headers = self.conn.head_object(self.container, name)
            # An SLO goes with its segments (as the swift client does it; the query is for SLOs only).
            slo = headers.get("x-static-large-object", "").lower() == "true"
            self.conn.delete_object(self.container, name, query_string="multipart-manifest=delete" if slo else None)
        except ClientException as err:
            if err.http_status != 404:
                raise self._error(err, key) from None
        except OSError as err:
            raise self._error(err, key) from None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections), weakref.WeakSet()
            self._local = threading.local()
        for conn in connections:
            conn.close()

    def _info(self, key: str, *, size: int, etag: str, modified: str | None = None, whole: bool) -> ObjectInfo:
        etag = etag.strip('"')
        checksums = {"md5": etag} if whole and len(etag) == 32 else {}
        return ObjectInfo(key=key, url=self.url_for(key), size=size, identity=f"etag:{etag}", checksums=checksums,
                          modified=parse_time(modified))

    # Errors

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except (ClientException, OSError) as err:  # requests' exceptions are OSErrors too
            raise self._error(err, key) from None

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """The one place that turns swiftclient's errors into ours. swiftclient's own messages carry URLs
        and response bodies, so ours say only the status and what to do: no token or key slips in."""
        if isinstance(err, DataStoreError):  # ours already (NotFound is also a FileNotFoundError)
            return err
        url = self.url_for(key)
        status = getattr(err, "http_status", None)
        connection = f"connection {self.conn_id or SwiftHook.default_conn_name!r}"
        if status == 404:
            if not self._container_exists():
                return NotFound(f"{url}: the container {self.container!r} does not exist; create it or fix the URL")
            return NotFound(f"{url}: no such object")
        if status in (401, 403):
            return AccessDenied(f"{url}: Swift refused access (HTTP {status}); check the credentials of {connection} "
                                "and the container's ACLs")
        if status == 422:  # the ETag we sent did not match the bytes that arrived: send them again
            return TransientError(f"{url}: Swift found the bytes corrupted in transit (HTTP 422, ETag mismatch)")
        if status == 412:
            return AlreadyExists(f"{url}: already exists; it is never overwritten")
        if status is not None and (status >= 500 or status in (408, 429, 498, 499)):
            return TransientError(f"{url}: Swift answered HTTP {status}")
        if isinstance(err, ClientException):
            message = str(err.msg)
            if "no ability to reset contents" in message:  # a token expired mid-PUT: a new try re-authenticates
                return TransientError(f"{url}: Swift asked to authenticate again during an upload")
            if "keystoneclient" in message:
                return DataStoreError(f"{url}: {connection} uses Keystone v3 auth, which needs "
                                      "python-keystoneclient: pip install python-keystoneclient")
            if status is None and ("unauthorized" in message.lower() or "authorization failure" in message.lower()):
                return AccessDenied(f"{url}: Keystone refused the credentials of {connection}")
            return DataStoreError(f"{url}: Swift answered {self._status(err)}")
        if isinstance(err, OSError):
            return TransientError(f"{url}: cannot reach Swift ({type(err).__name__})")
        return DataStoreError(f"{url}: {type(err).__name__}")

    @staticmethod
    def _status(err: Exception) -> str:
        status = getattr(err, "http_status", None)
        return f"HTTP {status}" if status else type(err).__name__

    def _container_exists(self) -> bool:
        """Whether the data container exists (asked once; on doubt, yes)."""
        if not self._container_seen:
            try:
                self.conn.head_container(self.container)
            except (ClientException, OSError) as err:
                return getattr(err, "http_status", None) != 404
            self._container_seen = True
        return True


class _Body:
    """The bytes of one PUT as a file that drops them once read to the end: swiftclient keeps its last
    request, body included, on its connection (one per thread), which would hold a segment per thread
    beyond the store's memory budget."""

    def __init__(self, data: bytes) -> None:
        self._view: memoryview | None = memoryview(data)
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        view = self._view
        if view is None:
            return b""
        end = len(view) if size is None or size < 0 else min(len(view), self._position + size)
        chunk = bytes(view[self._position:end])
        self._position = end
        if end >= len(view):
            view.release()
            self._view = None
        return chunk
