"""Google Cloud Storage: ``gs://bucket/prefix``, credentials through GCSHook.

A connection whose extra has ``emulator_host`` (or a set ``STORAGE_EMULATOR_HOST``) talks to that
emulator with anonymous credentials, as the google-cloud-storage client does for emulators.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

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
    import requests
    from airflow.providers.google.cloud.hooks.gcs import GCSHook
    from google.api_core import exceptions as gexc
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import GoogleAuthError
    from google.cloud import storage
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="gs", extra="gcs") from err

#: Objects up to this size go in one request (where ``ifGenerationMatch=0`` is enforced everywhere);
#: larger ones as a resumable upload in chunks of this size.
SINGLE_REQUEST_LIMIT = 16 * 1024 * 1024

_TRANSIENT = (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests, gexc.BadGateway,
              gexc.GatewayTimeout, requests.ConnectionError, requests.Timeout)


class GCSStore(Store):
    """Objects in a GCS bucket below an optional prefix. Identity is the object's generation."""

    schemes = ("gs",)

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.bucket_name, _, prefix = root[len("gs://"):].partition("/")
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self) -> storage.Client:
        with self._lock:
            if self._client is None:
                hook = GCSHook(gcp_conn_id=self.conn_id or "google_cloud_default")
                extra = hook.get_connection(hook.gcp_conn_id).extra_dejson
                emulator = extra.get("emulator_host") or os.environ.get("STORAGE_EMULATOR_HOST")
                if emulator:
                    self._client = storage.Client(project=extra.get("project") or "emulator",
                                                  credentials=AnonymousCredentials(),
                                                  client_options={"api_endpoint": emulator})
                else:
                    self._client = hook.get_conn()
            return self._client

    @property
    def bucket(self) -> storage.Bucket:
        return self.client.bucket(self.bucket_name)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def stat(self, key: str) -> ObjectInfo:
        try:
            blob = self.bucket.get_blob(self._name(key))
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None
        if blob is None:
            raise NotFound(f"{self.url_for(key)}: no such object")
        return self._info(key, blob)

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        info = self.stat(key)  # pins the generation: a replaced object fails instead of mixing
        end = info.size if end is None else min(end, info.size)
        blob = self.bucket.blob(self._name(key), generation=int(info.identity.split(":")[1]))
        return self._stream(blob, key, start, end)

    def _stream(self, blob, key: str, start: int, end: int) -> Iterator[bytes]:
        position = start
        while position < end:
            last = min(position + CHUNK_SIZE, end) - 1
            try:
                chunk = blob.download_as_bytes(start=position, end=last, checksum=None, raw_download=True)
            except Exception as err:  # noqa: BLE001 - mapped in one place
                raise self._error(err, key) from None
            if not chunk:
                return
            position += len(chunk)
            yield chunk

    def write(self, key: str, data: BinaryIO, *, size: int | None = None, create_only: bool = False) -> ObjectInfo:
        blob = self.bucket.blob(self._name(key))
        condition = {"if_generation_match": 0} if create_only else {}
        try:
            first = read_up_to(data, SINGLE_REQUEST_LIMIT)
            if len(first) < SINGLE_REQUEST_LIMIT:
                blob.upload_from_string(first, content_type="application/octet-stream", **condition)
            else:
                if create_only and self.exists(key):
                    # The local emulator does not enforce ifGenerationMatch on resumable uploads;
                    # real GCS does. Versions commit with small manifests, which are enforced everywhere.
                    raise AlreadyExists(f"{self.url_for(key)}: already exists; it is never overwritten")
                blob.chunk_size = SINGLE_REQUEST_LIMIT
                blob.upload_from_file(_Prepend(first, data), size=size, content_type="application/octet-stream",
                                      **condition)
        except DataStoreError:
            raise
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None
        return self.stat(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for blob in self.client.list_blobs(self.bucket_name, prefix=self.prefix + prefix, page_size=1000):
                yield self._info(blob.name[len(self.prefix):], blob)
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, prefix) from None

    def delete(self, key: str) -> None:
        try:
            self.bucket.blob(self._name(key)).delete()
        except gexc.NotFound:
            return
        except Exception as err:  # noqa: BLE001 - mapped in one place
            raise self._error(err, key) from None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _info(self, key: str, blob) -> ObjectInfo:
        checksums = {}
        if blob.md5_hash:  # absent on composite objects
            checksums["md5"] = base64.b64decode(blob.md5_hash).hex()
        if blob.crc32c:
            checksums["crc32c"] = base64.b64decode(blob.crc32c).hex()
        return ObjectInfo(key=key, url=self.url_for(key), size=int(blob.size or 0),
                          identity=f"generation:{blob.generation}", checksums=checksums, modified=blob.updated)

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """One place that turns google-cloud-storage's errors into ours; never includes credentials."""
        url = self.url_for(key)
        if isinstance(err, gexc.PreconditionFailed):
            return AlreadyExists(f"{url}: already exists; it is never overwritten")
        if isinstance(err, gexc.NotFound):
            if "bucket" in str(err.message).lower() or "bucket" in str(err).lower():
                return NotFound(f"{url}: the bucket {self.bucket_name!r} does not exist; create it or fix the URL")
            return NotFound(f"{url}: no such object")
        if isinstance(err, (gexc.Forbidden, gexc.Unauthorized, GoogleAuthError)):
            return AccessDenied(f"{url}: access denied; check the credentials of connection "
                                f"{self.conn_id or 'google_cloud_default'!r}")
        if isinstance(err, _TRANSIENT):
            return TransientError(f"{url}: GCS answered {type(err).__name__}")
        if isinstance(err, gexc.GoogleAPICallError):
            return DataStoreError(f"{url}: GCS answered {err.code}: {err.message}")
        return DataStoreError(f"{url}: {type(err).__name__}")


class _Prepend:
    """A readable stream of ``head`` followed by the rest of ``tail``."""

    def __init__(self, head: bytes, tail: BinaryIO) -> None:
        self._head, self._tail = head, tail
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                out, self._head = self._head + self._tail.read(), b""
            else:
                out, self._head = self._head[:size], self._head[size:]
        else:
            out = self._tail.read(size)
        self._position += len(out)
        return out

    def tell(self) -> int:  # the resumable upload tracks how far it got
        return self._position
