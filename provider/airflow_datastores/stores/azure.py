"""Azure Blob Storage: ``az://container/prefix``, credentials through WasbHook."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
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
from airflow_datastores.hashing import digest
from airflow_datastores.stores.base import Leftover, ObjectInfo, SharedClient, Store, check_key, split_root
from airflow_datastores.stores.parts import MemoryBudget, read_first_part, send_parts
from airflow_datastores.stores.spool import Spool

try:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    from azure.core import MatchConditions
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        IncompleteReadError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.storage.blob import BlobBlock, ContentSettings
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="az", extra="azure") from err

log = logging.getLogger(__name__)

#: Blobs up to this size go in one Put Blob (the service then stores their Content-MD5); larger
#: ones as staged blocks of this size (create-only writes excepted: always one Put Blob).
BLOCK_SIZE = 16 * 1024 * 1024
#: The most Azure takes in one Put Blob: the bound of a create-only write.
PUT_BLOB_LIMIT = 5000 * 1024 * 1024
#: Bytes per GET of a read: the SDK holds each whole in memory before it hands it on (its default
#: first GET is 32 MiB), so this bounds a stream's memory and the wait for its first bytes.
READ_CHUNK = 4 * 1024 * 1024


class AzureBlobStore(Store):
    """Blobs in a container below an optional prefix.

    Identity is the ETag; reads are pinned to it (``If-Match``). Large blobs are staged as blocks in
    parallel, within the store's memory budget. Every blob we write carries its
    Content-MD5 (each request's MD5 is checked by the service on the way in), which downloads are
    checked against; blobs written without one are checked by size only. The SDK tries each request
    once; the retry policy repeats them.
    """

    schemes = ("az",)
    label = "azure"

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.container, self.prefix = split_root(root)
        self._container_client = SharedClient(self._make_container_client)
        #: upload bodies in memory at once, across all this store's writes
        self._memory = MemoryBudget()

    def _make_container_client(self):
        client = WasbHook(wasb_conn_id=self.conn_id or "wasb_default").get_conn().get_container_client(self.container)
        # A create-only write is one Put Blob whatever its size; the SDK sends one only up to this bound
        # (the documented client option max_single_put_size, set on our own client).
        client._config.max_single_put_size = PUT_BLOB_LIMIT
        client._config.max_single_get_size = client._config.max_chunk_get_size = READ_CHUNK
        return client

    @property
    def container_client(self):
        return self._container_client.get()

    def _blob(self, key: str):
        return self.container_client.get_blob_client(self.prefix + check_key(key))

    def stat(self, key: str) -> ObjectInfo:
        try:
            props = self._blob(key).get_blob_properties(**_once())
        except AzureError as err:
            raise self._error(err, key) from None
        return self._info(key, size=props.size, etag=props.etag, modified=props.last_modified,
                          md5=props.content_settings.content_md5)

    def serves_ranges(self, info: ObjectInfo) -> bool:
        return True

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        length = None if end is None else end - start
        pin = {}
        if identity and identity.startswith("etag:"):
            pin = {"etag": f'"{identity[5:]}"', "match_condition": MatchConditions.IfNotModified}
        try:
            downloader = self._blob(key).download_blob(offset=start if (start or length) else None, length=length,
                                                       max_concurrency=1, raw_request_hook=_RepeatsSaid(
                                                           self.url_for(key)), **pin, **_once())
        except AzureError as err:
            if pin and getattr(err, "status_code", None) == 412:
                raise ObjectChanged(f"{self.url_for(key)}: the blob was replaced since it was first seen "
                                    f"({identity}); nothing of it was kept") from None
            raise self._error(err, key) from None
        return self._stream(downloader, key, identity if pin else None)

    def _stream(self, downloader, key: str, identity: str | None) -> Iterator[bytes]:
        try:
            yield from downloader.chunks()
        except (ServiceResponseError, ServiceRequestError, IncompleteReadError, OSError) as err:
            raise TransientError(f"{self.url_for(key)}: connection lost while reading ({type(err).__name__})") from None
        except AzureError as err:
            if identity and getattr(err, "status_code", None) == 412:  # a later GET of the read, pinned
                raise ObjectChanged(f"{self.url_for(key)}: the blob was replaced while it was read "
                                    f"({identity}); nothing of it was kept") from None
            raise self._error(err, key) from None

    def write(self, key: str, data: BinaryIO, *, create_only: bool = False) -> ObjectInfo:
        blob = self._blob(key)
        if create_only:
            self._put_once(key, blob, data)
            return self._request(lambda: self.stat(key), "stat", key)
        first = read_first_part(data, part_size=BLOCK_SIZE, budget=self._memory)
        if len(first) < BLOCK_SIZE:
            try:
                self._put_blob(key, blob, first, overwrite=True)
            finally:
                self._memory.release(len(first))
        else:
            box = [first]  # emptied by the upload, so the first block's memory goes once it is sent
            del first
            self._upload_blocks(key, blob, box, data)
        return self._request(lambda: self.stat(key), "stat", key)

    def _put_blob(self, key: str, blob, body: bytes, *, overwrite: bool) -> None:
        """One Put Blob with its Content-MD5 (checked by the service, and kept for downloads)."""
        settings = ContentSettings(content_md5=bytearray(digest("md5", body).digest()))
        self._request(lambda: blob.upload_blob(body, length=len(body), overwrite=overwrite, max_concurrency=1,
                                               content_settings=settings, validate_content=True, **_once()),
                      "write" if overwrite else "create", key)

    def _put_once(self, key: str, blob, data: BinaryIO) -> None:
        """A create-only write: ONE Put Blob with ``If-None-Match: *`` whatever its size (up to Azure's
        5000 MiB), never a Put Block List deciding who wins. The SDK sends a Put Blob from bytes only,
        so the body is in memory for its request (create-only writes are records: manifests, aliases)."""
        with Spool(data, limit=PUT_BLOB_LIMIT, url=self.url_for(key)) as spool:
            body = spool.read_all()
        self._put_blob(key, blob, body, overwrite=False)

    def _request(self, call, what: str, key: str):
        """One request under the retry policy, the SDK's errors turned into ours."""
        from airflow_datastores import retry

        def once():
            try:
                return call()
            except AzureError as err:
                raise self._error(err, key) from None

        return retry.call(once, what=what, url=self.url_for(key))

    def _upload_blocks(self, key: str, blob, first: list[bytes], data: BinaryIO) -> None:
        """Blocks of :data:`BLOCK_SIZE` staged in parallel (:func:`~airflow_datastores.stores.parts.send_parts`,
        within the store's memory budget), each checked by the service (its MD5); the blob's
        Content-MD5, computed in order as the blocks are read, goes with the block list."""
        # Uncommitted blocks are invisible and expire by themselves: a failure leaves no blob.
        md5 = digest("md5")

        def stage(number: int, block: bytes) -> BlobBlock:
            block_id = base64.b64encode(uuid.uuid4().hex.encode()).decode()
            self._request(lambda: blob.stage_block(block_id, block, validate_content=True, **_once()),
                          f"upload block {number}", key)
            return BlobBlock(block_id=block_id)

        blocks = send_parts(first, data, part_size=BLOCK_SIZE, budget=self._memory, send=stage, seen=md5.update,
                            name="azure-block")
        settings = ContentSettings(content_md5=bytearray(md5.digest()))
        self._request(lambda: blob.commit_block_list(blocks, content_settings=settings, **_once()),
                      "commit block list", key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for props in self.container_client.list_blobs(name_starts_with=self.prefix + prefix,
                                                          results_per_page=1000, **_once()):
                yield self._info(props.name[len(self.prefix):], size=props.size, etag=props.etag,
                                 modified=props.last_modified, md5=props.content_settings.content_md5)
        except AzureError as err:
            raise self._error(err, prefix) from None

    def delete(self, key: str) -> None:
        try:
            self._blob(key).delete_blob(delete_snapshots="include", **_once())
        except ResourceNotFoundError:
            return
        except AzureError as err:
            raise self._error(err, key) from None

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        """Blobs that only have uncommitted blocks: a writer killed before its Put Block List. Azure drops
        them by itself after a week; until then they are stored. (Uncommitted blocks of a blob that
        also has committed content cannot be removed without replacing it, so they are not listed.)"""
        start = self.prefix + check_key(prefix)
        try:
            committed = (p.name for p in self.container_client.list_blobs(name_starts_with=start,
                                                                          results_per_page=1000, **_once()))
            every = self.container_client.list_blobs(name_starts_with=start, include=["uncommittedblobs"],
                                                     results_per_page=1000, **_once())
            # Both listings are in name order: walk them side by side, memory stays flat.
            name = next(committed, None)
            for props in every:
                while name is not None and name < props.name:
                    name = next(committed, None)
                if name == props.name:
                    continue
                key = props.name[len(self.prefix):]
                _committed, uncommitted = self.container_client.get_blob_client(props.name).get_block_list(
                    "uncommitted", **_once())
                if not uncommitted:
                    continue
                yield Leftover(kind="uncommitted blocks", url=self.url_for(key),
                               size=sum(block.size or 0 for block in uncommitted), key=key, pieces=len(uncommitted),
                               modified=props.last_modified or getattr(props, "creation_time", None))
        except AzureError as err:
            raise self._error(err, prefix) from None

    def remove_leftover(self, leftover: Leftover) -> None:
        """Drop the uncommitted blocks of a blob that has no committed content. Where Delete Blob does not
        reach them (Azure answers 404 for a blob never committed), an empty block list is committed,
        create-only so no real blob is ever replaced, and that empty blob is deleted."""
        blob = self._blob(leftover.key or "")
        try:
            blob.delete_blob(**_once())
            return
        except ResourceNotFoundError:
            pass
        except AzureError as err:
            raise self._error(err, leftover.key or "") from None
        try:
            if not blob.get_block_list("uncommitted", **_once())[1]:
                return  # gone already
            done = blob.commit_block_list([], match_condition=MatchConditions.IfMissing, **_once())
            blob.delete_blob(etag=done["etag"], match_condition=MatchConditions.IfNotModified, **_once())
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
            return  # gone, or committed by its writer meanwhile: not a leftover any more
        except AzureError as err:
            raise self._error(err, leftover.key or "") from None

    def close(self) -> None:
        self._container_client.close()

    def _info(self, key: str, *, size: int, etag: str, modified=None, md5=None) -> ObjectInfo:
        checksums = {"md5": bytes(md5).hex()} if md5 else {}
        return ObjectInfo(key=key, url=self.url_for(key), size=size, identity=f"etag:{etag.strip(chr(34))}",
                          checksums=checksums, modified=modified)

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """One place that turns the Azure SDK's errors into ours; never includes credentials."""
        if isinstance(err, DataStoreError):  # ours already (NotFound is also a FileNotFoundError)
            return err
        url = self.url_for(key)
        code = getattr(err, "error_code", None) or ""
        status = getattr(err, "status_code", None) or 0
        if isinstance(err, (ResourceExistsError, ResourceModifiedError)) or code == "BlobAlreadyExists" \
                or status in (409, 412):
            return AlreadyExists(f"{url}: already exists; it is never overwritten")
        if code in ("Md5Mismatch", "Crc64Mismatch"):  # corrupted on the way in: send the bytes again
            return TransientError(f"{url}: Azure found the bytes corrupted in transit ({code})")
        if code == "ContainerNotFound":
            return NotFound(f"{url}: the container {self.container!r} does not exist; create it or fix the URL")
        if isinstance(err, ResourceNotFoundError) or status == 404:
            return NotFound(f"{url}: no such blob")
        if isinstance(err, ClientAuthenticationError) or status in (401, 403):
            return AccessDenied(f"{url}: access denied ({code or status}); check the credentials of connection "
                                f"{self.conn_id or 'wasb_default'!r}")
        if isinstance(err, (ServiceRequestError, ServiceResponseError)) or status >= 500 or status == 429:
            return TransientError(f"{url}: Azure Blob Storage answered {code or status or type(err).__name__}")
        if isinstance(err, HttpResponseError):
            return DataStoreError(f"{url}: Azure Blob Storage answered {code or status}")
        return DataStoreError(f"{url}: {type(err).__name__}")



class _RepeatsSaid:
    """azure-storage-blob reads a chunk that broke off once more by itself (up to 3 times, 1 s apart, a
    loop no option turns off) before our retry policy sees the error: say each such repeat in the log,
    as our policy says its own retries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[str, int] = {}

    def __call__(self, request) -> None:
        headers = request.http_request.headers
        wanted = headers.get("x-ms-range") or headers.get("Range")
        if not wanted:
            return
        self.seen[wanted] = attempt = self.seen.get(wanted, 0) + 1
        if attempt > 1:
            log.warning("Retrying read of %s (%s): the Azure SDK repeats a chunk that broke off, attempt %d of 3, "
                        "after 1 s", self.url, wanted, attempt)


def _once() -> dict:
    """Per-request options: the SDK tries once (the retry policy repeats), with our read timeout."""
    from airflow_datastores.retry import default_policy

    return {"retry_total": 0, "read_timeout": default_policy().read_timeout}
