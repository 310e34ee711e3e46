"""The reference: what one would write by hand with boto3, at the bench's concurrency; and the
hashlib step that the reference and the AWS CLI add to a download (neither hashes on its own)."""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
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


def download_hashed(client, bucket: str, key: str, path: str) -> tuple[str, str, str]:
    """The tight loop: one GET, written to ``path`` while two threads hash it (md5; sha1 and sha256),
    which is the fastest split of the three digests on two cores. Returns md5, sha1, sha256."""
    digests = (hashlib.md5(), hashlib.sha1(), hashlib.sha256())
    groups = ((digests[0],), digests[1:])
    queues = [queue.Queue(maxsize=4) for _ in groups]

    def work(q: queue.Queue, group) -> None:
        while (chunk := q.get()) is not None:
            for digest in group:
                digest.update(chunk)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(queues, groups, strict=True)]
    for thread in threads:
        thread.start()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    with open(path, "wb") as handle:
        while chunk := body.read(CHUNK):
            handle.write(chunk)
            for q in queues:
                q.put(chunk)
    for q in queues:
        q.put(None)
    for thread in threads:
        thread.join()
    return tuple(d.hexdigest() for d in digests)


def upload_hashed(client, path: str, bucket: str, key: str, *, config: TransferConfig = TRANSFER) -> tuple[str, str]:
    """``upload_file`` (8 parts at once) with a full-object CRC64NVME, as ours sends, while two threads
    read the file for md5 and for sha1 + sha256: the reference for a snapshot, which must record the
    three digests and leave a checksum that one HEAD can check a download against."""
    def digest(names: tuple[str, ...]) -> str:
        digests = [hashlib.new(name) for name in names]
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                for d in digests:
                    d.update(chunk)
        return " ".join(d.hexdigest() for d in digests)

    with ThreadPoolExecutor(2) as pool:
        md5, others = pool.submit(digest, ("md5",)), pool.submit(digest, ("sha1", "sha256"))
        client.upload_file(path, bucket, key, Config=config, ExtraArgs={"ChecksumAlgorithm": "CRC64NVME"})
        return md5.result(), others.result()


def hash_tree(directory: str) -> int:
    """md5, sha1, sha256 of every file under ``directory`` (one read each); returns how many."""
    count = 0
    for root, _, names in os.walk(directory):
        for name in names:
            hash_file(os.path.join(root, name))
            count += 1
    return count


def fetch_tree(client, bucket: str, prefix: str, directory: str, *, only_changed: bool,
               threads: int = CONCURRENCY) -> int:
    """The hand-written boto3 way: list, then get each object on ``threads`` threads (8), hashing it in memory.

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

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fetch, wanted))
    return len(wanted)


def put_tree(client, directory: str, bucket: str, prefix: str, *, threads: int = CONCURRENCY) -> None:
    """Put each file of ``directory`` as ``prefix + name``, on ``threads`` threads (8)."""
    def put(name: str) -> None:
        with open(os.path.join(directory, name), "rb") as handle:
            client.put_object(Bucket=bucket, Key=prefix + name, Body=handle)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, sorted(os.listdir(directory))))


def main(argv: list[str]) -> None:
    """``python -m bench.reference ENDPOINT BUCKET KEY PATH``: the reference as a process of its own."""
    import boto3

    endpoint, bucket, key, path = argv
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    download_hashed(client, bucket, key, path)


if __name__ == "__main__":
    main(sys.argv[1:])
