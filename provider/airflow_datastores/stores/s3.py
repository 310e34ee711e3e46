"""AWS S3 (and S3-compatible servers): ``s3://bucket/prefix``, credentials through S3Hook."""

from __future__ import annotations

import base64
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
    split_root,
)

try:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError, ResponseStreamingError
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="s3", extra="s3") from err

#: Objects up to this size go in one PUT; larger ones as a multipart upload of parts this size.
PART_SIZE = 16 * 1024 * 1024

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AllAccessDisabled"}
_TRANSIENT = {"500", "502", "503", "504", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
              "Throttling", "ThrottlingException"}


class S3Store(Store):
    """Objects in an S3 bucket below an optional prefix.

    Uploads carry botocore's default CRC checksums, which the server checks; parts are
    :data:`PART_SIZE` so memory stays bounded whatever the object's size.

    Identity is the version id when the bucket is versioned, else the ETag. A simple-put ETag is the
    object's md5 and is offered for verification; with ``ChecksumMode`` the server's full-object
    SHA-256 is offered too.
    """

    schemes = ("s3",)

    def __init__(self, *, root: str, conn_id: str | None = None) -> None:
        super().__init__(root=root, conn_id=conn_id)
        self.bucket, self.prefix = split_root(root)
        self._client = None
        self._lock = threading.Lock()
        self.cheap_ranges = True

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                hook = S3Hook(aws_conn_id=self.conn_id or "aws_default")
                self._client = hook.get_conn()
                # A custom endpoint is an S3-compatible server; some answer ranges as slowly as whole GETs.
                self.cheap_ranges = "amazonaws.com" in self._client.meta.endpoint_url
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, key) from None
        return self._info(key, size=head["ContentLength"], etag=head.get("ETag", ""),
                          version_id=head.get("VersionId"), modified=head.get("LastModified"),
                          sha256=head.get("ChecksumSHA256") if head.get("ChecksumType", "FULL_OBJECT") ==
                          "FULL_OBJECT" else None)

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        kwargs = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        if end is not None and end <= start:
            return iter(())
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, key) from None
        return self._stream(body, key)

    def _stream(self, body, key: str) -> Iterator[bytes]:
        try:
            while chunk := body.read(CHUNK_SIZE):
                yield chunk
        except (BotoConnectionError, ReadTimeoutError, ResponseStreamingError, OSError) as err:
            raise TransientError(f"{self.url_for(key)}: connection lost while reading ({type(err).__name__})") from None
        finally:
            body.close()

    def write(self, key: str, data: BinaryIO, *, size: int | None = None, create_only: bool = False) -> ObjectInfo:
        s3_key = self._key(key)
        first = read_up_to(data, PART_SIZE)
        condition = {"IfNoneMatch": "*"} if create_only else {}
        try:
            if len(first) < PART_SIZE:
                put = self.client.put_object(Bucket=self.bucket, Key=s3_key, Body=first, **condition)
                return self._info(key, size=len(first), etag=put.get("ETag", ""), version_id=put.get("VersionId"))
            return self._multipart(key, s3_key, first, data, condition)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, key) from None

    def _multipart(self, key: str, s3_key: str, first: bytes, data: BinaryIO, condition: dict) -> ObjectInfo:
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=s3_key)["UploadId"]
        try:
            parts, size, number, part = [], 0, 1, first
            while part:
                answer = self.client.upload_part(Bucket=self.bucket, Key=s3_key, UploadId=upload_id,
                                                 PartNumber=number, Body=part)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(part)
                number += 1
                part = read_up_to(data, PART_SIZE)
            done = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **condition)
        except BaseException:
            # Nothing half-written stays behind (and no parts are billed).
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass
            raise
        return self._info(key, size=size, etag=done.get("ETag", ""), version_id=done.get("VersionId"))

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

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _info(self, key: str, *, size: int, etag: str, version_id: str | None = None, modified=None,
              sha256: str | None = None) -> ObjectInfo:
        etag = etag.strip('"')
        checksums = {}
        if etag and "-" not in etag and len(etag) == 32:  # a simple PUT's ETag is the md5
            checksums["md5"] = etag.lower()
        if sha256:
            checksums["sha256"] = base64.b64decode(sha256).hex()
        identity = f"version:{version_id}" if version_id and version_id != "null" else f"etag:{etag}"
        return ObjectInfo(key=key, url=self.url_for(key), size=size, identity=identity, checksums=checksums,
                          modified=modified)

    def _error(self, err: Exception, key: str) -> DataStoreError:
        """One place that turns botocore's errors into ours; never includes credentials."""
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
        if isinstance(err, (BotoConnectionError, ReadTimeoutError)):
            return TransientError(f"{url}: cannot reach S3 ({type(err).__name__})")
        return DataStoreError(f"{url}: {type(err).__name__}")

