"""S3's checksums: the CRC64NVME an upload sends, the ETag check of a simple PUT, and what the checksums
S3 keeps vouch for a download: a full-object checksum, else a composite checksum or a multipart ETag
part by part (the part sizes from ``HEAD ?partNumber=N``), else a simple-put ETag (the md5)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from airflow_datastores.errors import MissingExtra, TransientError
from airflow_datastores.stores.base import PartChecksums, Vouched, vouch

try:
    from awscrt import checksums as crt_checksums
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="s3", extra="s3") from err

#: ``ChecksumX`` fields of S3's answers -> our algorithm names.
CHECKSUM_FIELDS = {"ChecksumSHA256": "sha256", "ChecksumSHA1": "sha1", "ChecksumCRC64NVME": "crc64nvme",
                   "ChecksumCRC32C": "crc32c", "ChecksumCRC32": "crc32"}


def vouched_by_head(head: dict, *, size: int, exact: bool, head_part: Callable[[int], dict]) -> Vouched:
    """What a HEAD with ``ChecksumMode`` (and its ``ChecksumType``) vouches for about an object of
    ``size`` bytes; ``head_part(n)`` answers ``HEAD ?partNumber=n`` for the part sizes."""
    full = full_object_checksums(head)
    if full:
        return vouch("s3", full)
    etag = head.get("ETag", "").strip('"')
    composite = next(((name, head[field]) for field, name in CHECKSUM_FIELDS.items()
                      if head.get(field) and checksum_type(head, name) == "COMPOSITE"), None)
    if composite:
        value, _, count = composite[1].partition("-")
        sizes, assumed = part_sizes(head_part, int(count) if count else None, size, exact)
        return Vouched(source=f"s3:composite-{composite[0]}",
                       parts=PartChecksums(algorithm=composite[0], sizes=sizes, assumed=assumed,
                                           composite=b64_to_hex(value)))
    if "-" in etag:
        value, _, count = etag.partition("-")
        sizes, assumed = part_sizes(head_part, int(count), size, exact)
        return Vouched(source="s3:etag-parts",
                       parts=PartChecksums(algorithm="md5", sizes=sizes, composite=value.lower(), assumed=assumed))
    return vouch("s3", {"md5": etag.lower()} if len(etag) == 32 else {})


def part_sizes(head_part: Callable[[int], dict], count: int | None, size: int,
               exact: bool) -> tuple[tuple[int, ...], bool]:
    """Each part's size, from ``HEAD ?partNumber=N`` (the first answer also tells how many there
    are), and whether they were inferred. The SDKs upload equal parts but the last, so unless
    ``exact``, the first and the last part tell all when they add up to the object's size."""
    first = head_part(1)
    count = count or int(first.get("PartsCount") or 1)
    part = first["ContentLength"]
    if not exact and count > 2:
        last = head_part(count)["ContentLength"]
        if part * (count - 1) + last == size and 0 < last <= part:
            return (*([part] * (count - 1)), last), True
    return (part, *(head_part(number)["ContentLength"] for number in range(2, count + 1))), False


def full_object_checksums(head: dict) -> dict[str, str]:
    """The full-object checksums of a HEAD with ``ChecksumMode``, as hex."""
    return {name: b64_to_hex(head[field]) for field, name in CHECKSUM_FIELDS.items()
            if head.get(field) and checksum_type(head, name) == "FULL_OBJECT"}


def checksum_type(head: dict, name: str) -> str:
    """``FULL_OBJECT``, ``COMPOSITE`` or ``""`` (unknown). S3 says it in ``ChecksumType``; where a server
    does not, S3's rules tell: a simple PUT's checksum is of the whole object, a multipart upload's
    CRC64NVME is too, and its SHA-1/SHA-256 are composite."""
    if head.get("ChecksumType"):
        return head["ChecksumType"]
    value = head.get(next(field for field, known in CHECKSUM_FIELDS.items() if known == name), "")
    if "-" in value:
        return "COMPOSITE"
    if "-" not in head.get("ETag", "") or name == "crc64nvme":
        return "FULL_OBJECT"
    return "COMPOSITE" if name in ("sha1", "sha256") else ""


def check_put_etag(answer: dict, md5: str, url: str) -> None:
    """A simple PUT's ETag is the md5 of what S3 stored (not with SSE-KMS or SSE-C): other bytes than
    we sent are a transient fault, sent again. S3 checks the CRC64NVME itself; servers that do not
    (moto) are caught here."""
    etag = answer.get("ETag", "").strip('"')
    if answer.get("ServerSideEncryption", "").startswith("aws:kms") or answer.get("SSECustomerAlgorithm"):
        return
    if len(etag) == 32 and etag.lower() != md5:
        raise TransientError(f"{url}: S3 stored other bytes than were sent (ETag {etag}, md5 {md5}); "
                             "they were corrupted in transit")


def crc64(data: bytes) -> str:
    """CRC64NVME of ``data`` as S3 takes it: base64 of the big-endian value."""
    return base64.b64encode(crt_checksums.crc64nvme(data).to_bytes(8, "big")).decode()


def b64_to_hex(value: str) -> str:
    """A checksum as S3 states it (base64) in lower-case hex."""
    return base64.b64decode(value).hex()
