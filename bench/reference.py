"""The reference: what one would write by hand with boto3, at the bench's concurrency; and the
hashlib step that the reference and the AWS CLI add to a download (neither hashes on its own)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from boto3.s3.transfer import TransferConfig

from bench.peers import CONCURRENCY

CHUNK = 8 * 2**20
#: For boto3's download_file / upload_file: parts (ranges) of one object at once.
TRANSFER = TransferConfig(max_concurrency=CONCURRENCY)
#: The same, but one GET (or PUT) per object, never ranges or parts.
ONE_STREAM = TransferConfig(max_concurrency=CONCURRENCY, multipart_threshold=2**50)


def hash_file(path: str) -> tuple[str, str, str]:
    """md5, sha1, sha256 of one file, in one read (the fair way to ask hashlib for three)."""
    digests = (hashlib.md5(), hashlib.sha1(), hashlib.sha256())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests:
                digest.update(chunk)
    return tuple(d.hexdigest() for d in digests)


def hash_tree(directory: str) -> int:
    """md5, sha1, sha256 of every file under ``directory`` (one read each); returns how many."""
    count = 0
    for root, _, names in os.walk(directory):
        for name in names:
            hash_file(os.path.join(root, name))
            count += 1
    return count


def fetch_tree(client, bucket: str, prefix: str, directory: str, *, only_changed: bool) -> int:
    """The hand-written boto3 way: list, then get each object on 8 threads, hashing it in memory.

    With ``only_changed``, an object whose local copy has its size and is not older is skipped (what
    ``aws s3 sync`` does); nothing is hashed then. Returns how many objects were fetched.
    """
    wanted = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            path = os.path.join(directory, obj["Key"][len(prefix):])
            if only_changed:
                try:
                    stat = os.stat(path)
                    if stat.st_size == obj["Size"] and stat.st_mtime >= obj["LastModified"].timestamp():
                        continue
                except FileNotFoundError:
                    pass
            wanted.append((obj["Key"], path))

    def fetch(item: tuple[str, str]) -> None:
        key, path = item
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        with open(path, "wb") as handle:
            handle.write(body)
        if not only_changed:
            for name in ("md5", "sha1", "sha256"):
                hashlib.new(name, body).hexdigest()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(fetch, wanted))
    return len(wanted)


def put_tree(client, directory: str, bucket: str, prefix: str) -> None:
    """Put each file of ``directory`` as ``prefix + name``, on 8 threads."""
    def put(name: str) -> None:
        with open(os.path.join(directory, name), "rb") as handle:
            client.put_object(Bucket=bucket, Key=prefix + name, Body=handle)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(put, sorted(os.listdir(directory))))
