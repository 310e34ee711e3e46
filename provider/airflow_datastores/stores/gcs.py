"""Google Cloud Storage: ``gs://bucket/prefix``, credentials through GCSHook.

A connection whose extra has ``emulator_host`` (or a set ``STORAGE_EMULATOR_HOST``) talks to that
emulator with anonymous credentials, as google-cloud-storage does for emulators.

A create-only write is ONE single-request upload with ``ifGenerationMatch=0`` whatever its size (up to
:data:`CREATE_ONLY_LIMIT`): GCS enforces the condition on every upload, but the fake-gcs-server emulator
only on single-request ones (not on resumable uploads), and one request is what every server here
makes atomic.
"""

from __future__ import annotations

import base64
import inspect
import os
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
from airflow_datastores.stores.base import (
    CHUNK_SIZE,
    ObjectInfo,
    SharedClient,
    Store,
    check_key,
    read_up_to,
    split_root,
)
from airflow_datastores.stores.parts import MemoryBudget
from airflow_datastores.stores.spool import Spool

try:
    import google_crc32c
    import requests
    import urllib3
    from airflow.providers.google.cloud.hooks.gcs import GCSHook
    from google.api_core import exceptions as api_errors
    from google.api_core.retry import Retry
    from google.auth import exceptions as auth_errors
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    from google.cloud.storage.retry import DEFAULT_RETRY

    try:
        from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
    except ImportError:  # google-cloud-storage < 3
        from google.resumable_media import DataCorruption, InvalidResponse
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="gs", extra="gcs") from err

#: Objects below this size go in one request (google-cloud-storage's limit for a multipart upload);
#: larger ones as a resumable upload.
SINGLE_REQUEST_LIMIT = 8 * 1024 * 1024
#: The most a create-only write takes: one single-request upload, its body in memory.
CREATE_ONLY_LIMIT = 5 * 1024**3
#: Bytes per request of a resumable upload (a multiple of 256 KiB).
UPLOAD_CHUNK_SIZE = 16 * 1024 * 1024
#: Objects asked for per listing request.
LIST_PAGE_SIZE = 1000

_BINARY = "application/octet-stream"
_LIST_FIELDS = "items(name,size,generation,md5Hash,crc32c,updated),nextPageToken"
#: What the SDK raises; anything else is a bug that keeps its traceback.
# A body that breaks off surfaces as urllib3's or requests' own errors (not all of them OSErrors).
_BROKEN = (OSError, urllib3.exceptions.HTTPError, requests.exceptions.RequestException)
#: google-cloud-storage before 3.0 takes ``num_retries`` in its single-request upload too (None: ours).
_NO_SDK_RETRIES = ({"num_retries": None}
                   if "num_retries" in inspect.signature(storage.Blob._do_multipart_upload).parameters else {})
_SDK_ERRORS = (api_errors.GoogleAPIError, auth_errors.GoogleAuthError, InvalidResponse, DataCorruption, *_BROKEN)
_TRANSIENT = (api_errors.ServerError, api_errors.TooManyRequests, api_errors.RetryError,
              auth_errors.TransportError, *_BROKEN)


class GCSStore(Store):
    """Objects in a GCS bucket below an optional prefix.

    Identity is the object's generation; reads ask for that generation, so a replaced object is an
    error, never a mix. Checksums are the md5 (absent on composite objects) and the crc32c that GCS
    keeps for every object, composite ones included. Uploads carry a crc32c that GCS checks. Requests
    are tried once by the SDK; the retry policy repeats them.
    """

    schemes = ("gs",)
    label = "gcs"

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.bucket_name, self.prefix = split_root(root)
        self._client = SharedClient(self._make_client)
        self._bucket_seen = False
        #: upload bodies in memory at once, across all this store's writes
        self._memory = MemoryBudget()

    @property
    def client(self) -> storage.Client:
        """One client for all threads, from the connection (or an anonymous one for an emulator)."""
        return self._client.get()

    def _make_client(self) -> storage.Client:
        from airflow_datastores.config import max_connections

        hook = GCSHook(gcp_conn_id=self.conn_id or "google_cloud_default")
        extra = hook.get_connection(hook.gcp_conn_id).extra_dejson
        emulator = extra.get("emulator_host") or os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            client = storage.Client(project=extra.get("project") or "test", credentials=AnonymousCredentials(),
                                    client_options={"api_endpoint": emulator})
        else:
            client = hook.get_conn()
        # A connection kept for each one a task may open (requests keeps 10), so none is made twice.
        for adapter in client._http.adapters.values():
            adapter.init_poolmanager(10, max(64, max_connections()))
        return client

    @property
    def bucket(self) -> storage.Bucket:
        return self.client.bucket(self.bucket_name)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _timeout() -> tuple[float, float]:
        from airflow_datastores.retry import default_policy

        return (10.0, default_policy().read_timeout)

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            blob = self.bucket.get_blob(self._name(key), retry=None, timeout=self._timeout())
        if blob is None:
            raise self._not_found(key)
        return self._info(key, blob)

    def serves_ranges(self, info: ObjectInfo) -> bool:
        return True

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        # Every request asks for one generation (the pinned one, else the one the first request
        # learns), so an object replaced during the read is an error, never a mix of two contents.
        generation = int(identity[len("generation:"):]) if identity and identity.startswith("generation:") else None
        blob = self.bucket.blob(self._name(key), generation=generation)
        first = self._range(blob, key, start, end)
        return self._chunks(blob, key, first, start, end)

    def _chunks(self, blob: storage.Blob, key: str, chunk: bytes, position: int, end: int | None) -> Iterator[bytes]:
        while chunk:
            yield chunk
            asked = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - position)
            position += len(chunk)
            if len(chunk) < asked or position == end:
                return
            chunk = self._range(blob, key, position, end)

    def _range(self, blob: storage.Blob, key: str, start: int, end: int | None) -> bytes:
        """Up to :data:`CHUNK_SIZE` bytes from ``start``; nothing at or past the end of the object."""
        last = start + CHUNK_SIZE if end is None else min(start + CHUNK_SIZE, end)
        try:
            return blob.download_as_bytes(start=start, end=last - 1, raw_download=True, checksum=None,
                                          retry=None, timeout=self._timeout())
        except api_errors.RequestRangeNotSatisfiable:
            return b""
        except api_errors.NotFound:
            if blob.generation is None or not self.exists(key):
                raise self._not_found(key) from None
            raise ObjectChanged(f"{self.url_for(key)}: the object was replaced since it was first seen "
                                f"(generation {blob.generation}); nothing of it was kept") from None
        except _SDK_ERRORS as err:
            raise self._error(err, key) from None

    def _session_retry(self, key: str) -> Retry:
        """How the requests of one resumable upload are repeated. Only the SDK can repeat them (it alone
        knows the session's state), so it gets our policy's delays and total time, and every retry is
        counted and logged by our policy, which stops the SDK when the attempts are spent."""
        from airflow_datastores.retry import Attempts, default_policy

        policy = default_policy()
        attempts = Attempts(what="upload", url=self.url_for(key), policy=policy)
        return Retry(predicate=DEFAULT_RETRY._predicate,  # the storage SDK's own choice of what to repeat
                     initial=policy.base_delay, maximum=policy.max_delay, multiplier=2.0,
                     timeout=policy.max_seconds, on_error=lambda err: attempts.counted(self._error(err, key)))

    def write(self, key: str, data: BinaryIO, *, create_only: bool = False) -> ObjectInfo:
        from airflow_datastores import retry

        blob = self.bucket.blob(self._name(key))
        # Our keys are unique to a task attempt or create-only, so repeating an upload is safe. The
        # crc32c goes with the upload and GCS checks it.
        options = {"content_type": _BINARY, "checksum": "crc32c"}
        if create_only:
            with Spool(data, limit=CREATE_ONLY_LIMIT, url=self.url_for(key), checksums=("crc32c",)) as spool:
                crc32c = base64.b64encode(spool.digest("crc32c")).decode()
                retry.call(lambda: self._single_request(key, blob, spool, crc32c), what="create", url=self.url_for(key))
            return self._info(key, blob)
        # A large upload holds its first bytes and the SDK's buffer of one request; a small one its bytes.
        held = SINGLE_REQUEST_LIMIT + UPLOAD_CHUNK_SIZE
        self._memory.acquire(held)
        try:
            first = read_up_to(data, SINGLE_REQUEST_LIMIT)
            if len(first) < SINGLE_REQUEST_LIMIT:
                self._memory.release(held - len(first))
                held = len(first)
                crc32c = base64.b64encode(google_crc32c.Checksum(first).digest()).decode()

                def put() -> None:
                    with self._errors(key):
                        blob.upload_from_string(first, retry=None, timeout=self._timeout(), **options)
                        self._check_stored(key, blob, crc32c)

                retry.call(put, what="write", url=self.url_for(key))
                return self._info(key, blob)
            # One resumable upload: its requests go one after another, in order (GCS has no parallel
            # parts of one object but a composite of objects, which has no md5).
            options["retry"] = self._session_retry(key)
            with self._errors(key):
                # A failure inside the block cancels the upload: nothing half-written becomes visible.
                with blob.open("wb", chunk_size=UPLOAD_CHUNK_SIZE, **options) as upload:
                    upload.write(first)
                    while chunk := data.read(CHUNK_SIZE):
                        upload.write(chunk)
                blob.reload()
            return self._info(key, blob)
        finally:
            self._memory.release(held)

    def _single_request(self, key: str, blob: storage.Blob, spool: Spool, crc32c: str) -> None:
        """The create-only upload: one request with ``ifGenerationMatch=0`` and the crc32c, whatever the
        size. The SDK's public upload methods switch to a resumable upload above 8 MiB, which the
        emulator does not hold to the condition; its single-request upload takes the body in memory."""
        with self._errors(key):
            try:
                response = blob._do_multipart_upload(
                    self.client, spool.rewind(), _BINARY, spool.size, predefined_acl=None, if_generation_match=0,
                    if_generation_not_match=None, if_metageneration_match=None, if_metageneration_not_match=None,
                    timeout=self._timeout(), checksum="crc32c", retry=None, **_NO_SDK_RETRIES)
            except InvalidResponse as err:  # the status as the SDK's public methods raise it (412, 5xx ...)
                raise api_errors.from_http_response(err.response) from None
            blob._set_properties(response.json())
            self._check_stored(key, blob, crc32c)

    def _check_stored(self, key: str, blob: storage.Blob, crc32c: str) -> None:
        if blob.crc32c and blob.crc32c != crc32c:
            # Stored other bytes than were sent (an emulator may not check the crc32c we sent): take
            # our object away again and send the bytes once more.
            blob.delete(if_generation_match=blob.generation, retry=None)
            raise TransientError(f"{self.url_for(key)}: GCS stored other bytes than were sent "
                                 f"(crc32c {blob.crc32c}, sent {crc32c}); sending them again")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self._errors(prefix):
            blobs = self.client.list_blobs(self.bucket_name, prefix=self.prefix + check_key(prefix),
                                           page_size=LIST_PAGE_SIZE, fields=_LIST_FIELDS, retry=None,
                                           timeout=self._timeout())
            for blob in blobs:  # one request per page, as the iteration reaches it
                yield self._info(blob.name[len(self.prefix):], blob)

    def delete(self, key: str) -> None:
        try:
            self.bucket.blob(self._name(key)).delete(retry=None, timeout=self._timeout())
        except api_errors.NotFound:
            return
        except _SDK_ERRORS as err:
            raise self._error(err, key) from None

    def close(self) -> None:
        self._client.close()

    def _info(self, key: str, blob: storage.Blob) -> ObjectInfo:
        checksums = {}
        if blob.md5_hash:  # absent on composite objects
            checksums["md5"] = base64.b64decode(blob.md5_hash).hex()
        if blob.crc32c:
            checksums["crc32c"] = base64.b64decode(blob.crc32c).hex()
        return ObjectInfo(key=key, url=self.url_for(key), size=int(blob.size or 0),
                          identity=f"generation:{blob.generation}", checksums=checksums, modified=blob.updated)

    # Errors

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except _SDK_ERRORS as err:
            raise self._error(err, key) from None

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """The one place that turns google-cloud-storage's errors into ours. The SDK's messages carry
        request URLs (a resumable upload's URL is a credential of its own), so ours do not."""
        if isinstance(err, DataStoreError):  # ours already (NotFound is also a FileNotFoundError)
            return err
        url = self.url_for(key)
        if isinstance(err, api_errors.PreconditionFailed):
            return AlreadyExists(f"{url}: already exists; it is never overwritten")
        if isinstance(err, api_errors.NotFound):
            return self._not_found(key)
        if isinstance(err, (api_errors.Forbidden, api_errors.Unauthorized, auth_errors.RefreshError,
                            auth_errors.DefaultCredentialsError)):
            return AccessDenied(f"{url}: access denied ({type(err).__name__}); check the credentials of connection "
                                f"{self.conn_id or 'google_cloud_default'!r} and its roles on the bucket")
        if isinstance(err, DataCorruption):  # corrupted on the way: sending them again is the fix
            return TransientError(f"{url}: the bytes GCS received do not match their checksum")
        if isinstance(err, _TRANSIENT):
            return TransientError(f"{url}: GCS failed with {type(err).__name__}; worth a retry")
        if isinstance(err, api_errors.GoogleAPICallError):
            reason = next((e.get("message") for e in err.errors if isinstance(e, dict) and e.get("message")), "")
            return DataStoreError(f"{url}: GCS answered HTTP {err.code}" + (f": {reason}" if reason else ""))
        return DataStoreError(f"{url}: GCS failed with {type(err).__name__}")

    def _not_found(self, key: str) -> NotFound:
        url = self.url_for(key)
        if not self._bucket_exists():
            return NotFound(f"{url}: the bucket {self.bucket_name!r} does not exist; create it or fix the URL")
        return NotFound(f"{url}: no such object")

    def _bucket_exists(self) -> bool:
        """Whether the bucket exists (asked once; on doubt, yes)."""
        if not self._bucket_seen:
            try:
                if not self.bucket.exists():
                    return False
            except _SDK_ERRORS:
                return True
            self._bucket_seen = True
        return True
