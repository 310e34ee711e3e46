"""AWS S3 (and S3-compatible servers): ``s3://bucket/prefix``, credentials through S3Hook."""

from __future__ import annotations

import base64
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
from airflow_datastores.hashing import md5_hex
from airflow_datastores.stores.base import (
    READ_PIECE,
    Leftover,
    ObjectInfo,
    SharedClient,
    Store,
    Vouched,
    check_key,
    split_root,
    vouch,
)
from airflow_datastores.stores.parts import MemoryBudget, read_first_part, send_parts
from airflow_datastores.stores.s3_checksums import (
    CHECKSUM_FIELDS,
    b64_to_hex,
    check_put_etag,
    crc64,
    full_object_checksums,
    vouched_by_head,
)
from airflow_datastores.stores.s3_client import make_client
from airflow_datastores.stores.spool import Spool

try:
    from awscrt import checksums as crt_checksums
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError as BotoConnectionError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="s3", extra="s3") from err

#: Errors of a response body that broke off: the read resumes.
_BODY_ERRORS = (BotoConnectionError, ReadTimeoutError, ResponseStreamingError, IncompleteReadError, OSError)

#: Objects up to this size go in one PUT; larger ones as a multipart upload of parts this size
#: (create-only writes excepted: always one PUT).
PART_SIZE = 16 * 1024 * 1024
#: The most S3 takes in one PutObject: the bound of a create-only write.
SINGLE_PUT_LIMIT = 5 * 1024**3

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AllAccessDisabled"}
_TRANSIENT = {"500", "502", "503", "504", "408", "429", "SlowDown", "InternalError", "ServiceUnavailable",
              "RequestTimeout", "Throttling", "ThrottlingException",
              # the bytes were corrupted on the way in: sending them again is the fix
              "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch"}


class S3Store(Store):
    """Objects in an S3 bucket below an optional prefix.

    Uploads carry a full-object CRC64NVME that the server checks (each part's too); parts are
    :data:`PART_SIZE`, sent in parallel within the store's memory budget (128 MiB), so memory stays
    bounded whatever the object's size. A create-only write is one
    PutObject with ``If-None-Match: *`` whatever its size, never a conditional multipart complete.

    Identity is the ETag, from a listing and a HEAD alike; reads are pinned to it with ``IfMatch``.
    Downloads are checked against the strongest checksum S3 keeps: a full-object checksum
    (``ChecksumMode``), else a composite checksum or a multipart ETag part by part (the part sizes from
    ``HEAD ?partNumber=N``), else a simple-put ETag (the md5); :mod:`~airflow_datastores.stores.s3_checksums`
    reads them.
    """

    schemes = ("s3",)
    label = "s3"

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.bucket, self.prefix = split_root(root)
        self._client = SharedClient(self._make_client)
        #: upload bodies in memory at once, across all this store's writes (parts, small files, spools)
        self._memory = MemoryBudget()

    @property
    def client(self):
        return self._client.get()

    def _make_client(self):
        return make_client(self.conn_id)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, key) from None
        return self._info(key, size=head["ContentLength"], etag=head.get("ETag", ""),
                          modified=head.get("LastModified"), checksums=full_object_checksums(head))

    def vouched(self, info: ObjectInfo, *, exact: bool = False) -> Vouched:
        """The strongest check S3 offers for ``info``; asks a HEAD (and one per part for multipart)."""
        if info.checksums:  # a simple PUT's md5 (from a listing) or a HEAD's checksums: whole-object already
            return vouch("s3", info.checksums)
        s3_key = self._key(info.key)

        def head_part(number: int) -> dict:
            return self.client.head_object(Bucket=self.bucket, Key=s3_key, PartNumber=number)

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=s3_key, ChecksumMode="ENABLED")
            if not head.get("ChecksumType") and any(head.get(field) for field in CHECKSUM_FIELDS):
                # A server that leaves the type out of a HEAD (moto) says it here.
                attributes = self.client.get_object_attributes(Bucket=self.bucket, Key=s3_key,
                                                               ObjectAttributes=["Checksum"])
                head["ChecksumType"] = attributes.get("Checksum", {}).get("ChecksumType", "")
            return vouched_by_head(head, size=info.size, exact=exact, head_part=head_part)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, info.key) from None

    def serves_ranges(self, info: ObjectInfo) -> bool:
        return True

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        kwargs = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        if end is not None and end <= start:
            return iter(())
        if identity and identity.startswith("etag:"):
            kwargs["IfMatch"] = f'"{identity[5:]}"'
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412:
                raise ObjectChanged(f"{self.url_for(key)}: the object was replaced since it was first seen "
                                    f"({identity}); nothing of it was kept") from None
            raise self._error(err, key) from None
        return self._stream(body, key)

    def _stream(self, body, key: str) -> Iterator[bytes]:
        try:
            # Pieces of 1 MiB: a read that breaks off loses at most that much; the resume starts after it.
            while chunk := body.read(READ_PIECE):
                yield chunk
        except _BODY_ERRORS as err:
            raise TransientError(f"{self.url_for(key)}: connection lost while reading ({type(err).__name__})") from None
        finally:
            body.close()

    def write(self, key: str, data: BinaryIO, *, create_only: bool = False) -> ObjectInfo:
        s3_key = self._key(key)
        if create_only:
            return self._put_once(key, s3_key, data)
        first = read_first_part(data, part_size=PART_SIZE, budget=self._memory)
        if len(first) < PART_SIZE:
            try:
                return self._put(key, s3_key, first)
            finally:
                self._memory.release(len(first))
        # The first part goes to the upload in a list it empties (so its memory goes once it is sent),
        # with its budget.
        box = [first]
        del first
        return self._multipart(key, s3_key, box, data)

    def _put(self, key: str, s3_key: str, body: bytes) -> ObjectInfo:
        crc, md5 = crc64(body), md5_hex(body)
        answer = self._request(lambda: self._put_request(key, s3_key, body, crc=crc, md5=md5), "write", key)
        return self._info(key, size=len(body), etag=answer.get("ETag", ""), checksums={"crc64nvme": b64_to_hex(crc)})

    def _put_once(self, key: str, s3_key: str, data: BinaryIO) -> ObjectInfo:
        """A create-only write: ONE PutObject with ``If-None-Match: *`` whatever the size (up to S3's
        5 GiB), which S3, moto and SeaweedFS make atomic; never a conditional multipart complete, which
        SeaweedFS and Ceph RGW do not (two racing completes both won). The body streams from a spool
        (:mod:`~airflow_datastores.stores.spool`): one part's worth in memory, the rest in a temporary file."""
        self._memory.acquire(PART_SIZE)  # the spool's bytes in memory count against the budget
        try:
            with Spool(data, limit=SINGLE_PUT_LIMIT, url=self.url_for(key), checksums=("crc64nvme", "md5")) as spool:
                crc = base64.b64encode(spool.digest("crc64nvme")).decode()
                answer = self._request(lambda: self._put_request(key, s3_key, spool.rewind(), crc=crc,
                                                                 md5=spool.hexdigest("md5"), size=spool.size,
                                                                 IfNoneMatch="*"), "create", key)
                size = spool.size
        finally:
            self._memory.release(PART_SIZE)
        return self._info(key, size=size, etag=answer.get("ETag", ""), checksums={"crc64nvme": b64_to_hex(crc)})

    def _put_request(self, key: str, s3_key: str, body, *, crc: str, md5: str, size: int | None = None,
                     **condition) -> dict:
        """One PutObject carrying its CRC64NVME (S3 checks it); its ETag is checked against the md5 sent."""
        length = {} if size is None else {"ContentLength": size}
        answer = self.client.put_object(Bucket=self.bucket, Key=s3_key, Body=body, ChecksumCRC64NVME=crc,
                                        **length, **condition)
        check_put_etag(answer, md5, self.url_for(key))
        return answer

    def _request(self, call, what: str, key: str):
        """One request under the retry policy, its botocore errors turned into ours."""
        from airflow_datastores import retry

        def once():
            try:
                return call()
            except (ClientError, BotoCoreError) as err:
                raise self._error(err, key) from None

        return retry.call(once, what=what, url=self.url_for(key))

    def _multipart(self, key: str, s3_key: str, first: list[bytes], data: BinaryIO) -> ObjectInfo:
        """Parts of :data:`PART_SIZE` sent in parallel (:func:`~airflow_datastores.stores.parts.send_parts`,
        as many at once as the store's memory budget holds), each with its CRC64NVME, and at the
        complete the full-object CRC64NVME, combined from the parts' in order."""
        try:
            upload_id = self._request(lambda: self.client.create_multipart_upload(
                Bucket=self.bucket, Key=s3_key, ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"),
                "start multipart upload", key)["UploadId"]
        except BaseException:
            self._memory.release(PART_SIZE)
            raise

        def send(number: int, part: bytes) -> tuple[dict, int, int]:
            value = crt_checksums.crc64nvme(part)
            crc = base64.b64encode(value.to_bytes(8, "big")).decode()
            answer = self._request(lambda: self.client.upload_part(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id, PartNumber=number, Body=part,
                ChecksumCRC64NVME=crc), f"upload part {number}", key)
            return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC64NVME": crc}, value, len(part)

        try:
            sent = send_parts(first, data, part_size=PART_SIZE, budget=self._memory, send=send, name="s3-part")
            # The whole object's CRC64NVME from its parts', in order: no second pass over the bytes.
            whole, size = 0, 0
            for _part, value, length in sent:
                whole, size = crt_checksums.combine_crc64nvme(whole, value, length), size + length
            parts = [part for part, _value, _length in sent]
            crc = base64.b64encode(whole.to_bytes(8, "big")).decode()
            done = self._request(lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts},
                ChecksumCRC64NVME=crc, ChecksumType="FULL_OBJECT"), "complete multipart upload", key)
        except BaseException:
            # Nothing half-written stays behind (and no parts are billed).
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass
            raise
        return self._info(key, size=size, etag=done.get("ETag", ""), checksums={"crc64nvme": b64_to_hex(crc)})

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    yield self._info(item["Key"][len(self.prefix):], size=item["Size"], etag=item.get("ETag", ""),
                                     modified=item.get("LastModified"))
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, prefix) from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as err:
            error = self._error(err, key)
            if not isinstance(error, NotFound):
                raise error from None

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        """Incomplete multipart uploads below the store's prefix: a writer killed mid-upload leaves its
        parts stored (and billed) but invisible. Their age is that of the newest part (the start when
        there is none), so an upload still sending parts counts as young."""
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + check_key(prefix)):
                for upload in page.get("Uploads", ()):
                    leftover = self._incomplete_upload(upload["Key"], upload["UploadId"], upload.get("Initiated"))
                    if leftover is not None:
                        yield leftover
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, prefix) from None

    def _incomplete_upload(self, s3_key: str, upload_id: str, initiated) -> Leftover | None:
        """One incomplete upload with the size and count of its parts; ``None`` once it has ended."""
        key = s3_key[len(self.prefix):]
        size, pieces, modified = 0, 0, initiated
        try:
            for page in self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=s3_key,
                                                                       UploadId=upload_id):
                for part in page.get("Parts", ()):
                    size, pieces = size + part["Size"], pieces + 1
                    if part.get("LastModified") and (modified is None or part["LastModified"] > modified):
                        modified = part["LastModified"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return None  # completed or aborted since it was listed
            raise
        return Leftover(kind="multipart upload", url=self.url_for(key), size=size, modified=modified, key=key,
                        pieces=pieces, ref=upload_id)

    def remove_leftover(self, leftover: Leftover) -> None:
        """Abort the incomplete multipart upload: S3 deletes its parts."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(leftover.key or ""),
                                               UploadId=leftover.ref)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "NoSuchUpload":  # gone already: done
                raise self._error(err, leftover.key or "") from None
        except BotoCoreError as err:
            raise self._error(err, leftover.key or "") from None

    def close(self) -> None:
        self._client.close()

    def _info(self, key: str, *, size: int, etag: str, modified=None,
              checksums: dict[str, str] | None = None) -> ObjectInfo:
        # The ETag, not the version id: listings have no version id, and a listing and a HEAD of one
        # object must agree (the cache and skip_if_unchanged key on it).
        etag = etag.strip('"')
        checksums = dict(checksums or {})
        if etag and "-" not in etag and len(etag) == 32:  # a simple PUT's ETag is the md5
            checksums["md5"] = etag.lower()
        return ObjectInfo(key=key, url=self.url_for(key), size=size, identity=f"etag:{etag}", checksums=checksums,
                          modified=modified)

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """One place that turns botocore's errors into ours; never includes credentials."""
        if isinstance(err, DataStoreError):  # ours already (NotFound is also a FileNotFoundError)
            return err
        url = self.url_for(key)
        if isinstance(err, ClientError):
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == "412":
                return AlreadyExists(f"{url}: already exists; it is never overwritten")
            if code == "NoSuchBucket":
                return NotFound(f"{url}: the bucket {self.bucket!r} does not exist; create it or fix the URL")
            if code in _NOT_FOUND or status == "404":
                return NotFound(f"{url}: no such object")
            if code in _DENIED or status == "403":
                return AccessDenied(f"{url}: access denied ({code}); check the credentials of connection "
                                    f"{self.conn_id or 'aws_default'!r} and the bucket policy")
            if code in _TRANSIENT or status.startswith("5"):
                return TransientError(f"{url}: S3 answered {code or status}")
            return DataStoreError(f"{url}: S3 answered {code or status}: {err.response.get('Error', {}).get('Message', '')}")
        if isinstance(err, _BODY_ERRORS):
            return TransientError(f"{url}: cannot reach S3 ({type(err).__name__})")
        return DataStoreError(f"{url}: {type(err).__name__}")
