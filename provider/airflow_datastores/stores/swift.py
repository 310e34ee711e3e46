"""OpenStack Swift: ``swift://container/prefix``, credentials through SwiftHook."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from airflow_datastores.hooks.swift import SwiftHook
from airflow_datastores.stores.base import (
    CHUNK_SIZE,
    AccessDenied,
    AlreadyExists,
    DataStoreError,
    MissingExtra,
    NotFound,
    ObjectInfo,
    Store,
    TransientError,
    check_key,
    read_up_to,
)

try:
    from swiftclient.exceptions import ClientException
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="swift", extra="swift") from err

#: How long a create-only write waits before reading its object back (see ``_confirm_created``).
CREATE_SETTLE_SECONDS = 1.0

#: Objects up to this size go in one PUT; larger ones become a static large object (SLO) of
#: segments this size, kept in the ``<container>_segments`` container (Swift's convention).
SEGMENT_SIZE = 16 * 1024 * 1024


class SwiftStore(Store):
    """Objects in a Swift container below an optional prefix. Identity is the ETag."""

    schemes = ("swift",)

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.container, _, prefix = root[len("swift://"):].partition("/")
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.segments = f"{self.container}_segments"
        self._local = threading.local()  # swiftclient connections are not thread-safe

    @property
    def conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = SwiftHook(swift_conn_id=self.conn_id or "swift_default").get_conn()
        return conn

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def stat(self, key: str) -> ObjectInfo:
        try:
            headers = self.conn.head_object(self.container, self._name(key))
        except ClientException as err:
            raise self._error(err, key) from None
        except Exception as err:  # noqa: BLE001 - connection failures
            raise self._error(err, key) from None
        segmented = "x-static-large-object" in headers or "x-object-manifest" in headers
        return self._info(key, size=int(headers["content-length"]), etag=headers.get("etag", ""),
                          modified=headers.get("last-modified"), segmented=segmented)

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        try:
            _headers, body = self.conn.get_object(self.container, self._name(key), resp_chunk_size=CHUNK_SIZE,
                                                  headers=headers)
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None
        return self._stream(body, key)

    def _stream(self, body, key: str) -> Iterator[bytes]:
        try:
            yield from body
        except Exception as err:  # noqa: BLE001 - a broken body is worth a retry
            raise TransientError(f"{self.url_for(key)}: connection lost while reading ({type(err).__name__})") from None
        finally:
            close = getattr(body, "close", None)
            if close:
                close()

    def write(self, key: str, data: BinaryIO, *, size: int | None = None, create_only: bool = False) -> ObjectInfo:
        name = self._name(key)
        headers = {"If-None-Match": "*"} if create_only else {}
        try:
            first = read_up_to(data, SEGMENT_SIZE)
            if len(first) < SEGMENT_SIZE:
                etag = self.conn.put_object(self.container, name, contents=first, headers=headers)
                if create_only:
                    self._confirm_created(key, name, etag)
            else:
                self._put_large(name, first, data, headers)
        except DataStoreError:
            raise
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None
        return self.stat(key)

    def _confirm_created(self, key: str, name: str, etag: str) -> None:
        """Make a create-only write exclusive. Swift checks ``If-None-Match: *`` when a PUT starts, so
        two PUTs that start together both pass, and the later timestamp wins. Once both are done,
        every writer reads back the same object: the one whose bytes it shows won, the other gets
        AlreadyExists. The pause covers PUTs that were still in flight (small objects: milliseconds)."""
        time.sleep(CREATE_SETTLE_SECONDS)
        stored = self.conn.head_object(self.container, name).get("etag", "").strip('"')
        if stored != etag.strip('"'):
            raise AlreadyExists(f"{self.url_for(key)}: already exists; another writer created it at the same "
                                "time and won")

    def _put_large(self, name: str, first: bytes, data: BinaryIO, headers: dict) -> None:
        self.conn.put_container(self.segments)
        base = f"{name}/{uuid.uuid4().hex}"
        manifest, segment, number = [], first, 0
        try:
            while segment:
                path = f"{base}/{number:08d}"
                etag = self.conn.put_object(self.segments, path, contents=segment)
                manifest.append({"path": f"/{self.segments}/{path}", "etag": etag, "size_bytes": len(segment)})
                number += 1
                segment = read_up_to(data, SEGMENT_SIZE)
            self.conn.put_object(self.container, name, contents=json.dumps(manifest),
                                 query_string="multipart-manifest=put", headers=headers)
        except BaseException:
            # A refused or failed manifest leaves its segments behind: remove them.
            for entry in manifest:
                try:
                    self.conn.delete_object(self.segments, entry["path"].split("/", 2)[2])
                except Exception:  # noqa: BLE001 - best effort
                    pass
            raise

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        marker = ""
        while True:
            try:
                _headers, page = self.conn.get_container(self.container, prefix=self.prefix + prefix,
                                                         marker=marker, limit=1000)
            except Exception as err:  # noqa: BLE001 - mapped in one place
                raise self._error(err, prefix) from None
            if not page:
                return
            for item in page:
                yield self._info(item["name"][len(self.prefix):], size=int(item["bytes"]), etag=item.get("hash", ""),
                                 modified=item.get("last_modified"), segmented=None)
            marker = page[-1]["name"]

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            headers = self.conn.head_object(self.container, name)
            # An SLO is deleted with its segments; the SLO middleware refuses that query on plain objects.
            query = "multipart-manifest=delete" if "x-static-large-object" in headers else None
            self.conn.delete_object(self.container, name, query_string=query)
        except ClientException as err:
            if err.http_status != 404:
                raise self._error(err, key) from None
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _info(self, key: str, *, size: int, etag: str, modified, segmented: bool | None) -> ObjectInfo:
        etag = etag.strip('"')
        # A segmented object's ETag is not the md5 of its bytes; listings do not say, so only a
        # HEAD (stat) offers the md5, and only for a plain object.
        checksums = {"md5": etag} if segmented is False and len(etag) == 32 else {}
        return ObjectInfo(key=key, url=self.url_for(key), size=size, identity=f"etag:{etag}",
                          checksums=checksums, modified=_parse_time(modified))

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """One place that turns swiftclient's errors into ours; never includes tokens or keys."""
        url = self.url_for(key)
        status = getattr(err, "http_status", None)
        if status == 412:
            return AlreadyExists(f"{url}: already exists; it is never overwritten")
        if status == 404:
            if getattr(err, "http_path", "").rstrip("/").endswith(self.container):
                return NotFound(f"{url}: the container {self.container!r} does not exist; create it or fix the URL")
            return NotFound(f"{url}: no such object")
        if status in (401, 403):
            return AccessDenied(f"{url}: access denied (HTTP {status}); check the credentials of connection "
                                f"{self.conn_id or 'swift_default'!r}")
        if status is not None and (status >= 500 or status == 429):
            return TransientError(f"{url}: Swift answered HTTP {status}")
        if isinstance(err, ClientException) and status is None:
            if "auth" in str(err.msg).lower() or "unauthorized" in str(err.msg).lower():
                return AccessDenied(f"{url}: Swift refused the credentials of connection "
                                    f"{self.conn_id or 'swift_default'!r}")
            return TransientError(f"{url}: cannot reach Swift")
        if isinstance(err, ClientException):
            return DataStoreError(f"{url}: Swift answered HTTP {status}")
        if isinstance(err, OSError):
            return TransientError(f"{url}: cannot reach Swift ({type(err).__name__})")
        return DataStoreError(f"{url}: {type(err).__name__}")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        if "T" in value:  # listings: 2026-11-25T03:21:45.123450
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
