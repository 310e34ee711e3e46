"""Transfer of one object into the inputs directory: read (resumed, pinned; a large object as parallel
ranges where that pays, see :mod:`~airflow_datastores.stores.parallel`), hashed in order and verified in
one pass, written to a temporary name and renamed only once verified, so no corrupt file is ever left."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace

from airflow_datastores.errors import IntegrityError, ObjectChanged
from airflow_datastores.hashing import Hasher
from airflow_datastores.inputs.progress import Progress
from airflow_datastores.inputs.resolve import SourceFile
from airflow_datastores.retry import RetryPolicy
from airflow_datastores.stores.base import Vouched
from airflow_datastores.stores.parallel import ConnectionBudget, read_into
from airflow_datastores.stores.retrying import RetryingStore

#: Names longer than this (in bytes) get a temporary name without themselves in it.
_LONG_NAME = 200


def download(source: SourceFile, target: str, *, policy: RetryPolicy | None, progress: Progress,
             logger: logging.Logger, budget: ConnectionBudget | None = None) -> tuple[SourceFile, dict]:
    """Download ``source`` to ``target``; if it was replaced meanwhile, start over once on the new object.

    :param policy: how transient failures are retried (default: the ``[datastores]`` options).
    :param progress: counts the bytes as they arrive.
    :param logger: the task's logger: retries and a replaced object are said there.
    :param budget: the task's connections, which a large object's ranges share (default: a budget
        of its own, ``[datastores] max_connections``).
    :return: the object that was staged (the new one if it was replaced) and its digests, with
        ``verified`` saying what vouched for them.
    """
    try:
        return source, _download(source, target, policy=policy, progress=progress, logger=logger, budget=budget)
    except ObjectChanged:
        info = source.store.stat(source.key)
        logger.warning("%s was replaced while it was staged (%s, now %s); starting over on the new object",
                       source.url, source.identity, info.identity)
        changed = replace(source, info=info)
        try:
            return changed, _download(changed, target, policy=policy, progress=progress, logger=logger,
                                      budget=budget)
        except ObjectChanged:
            raise ObjectChanged(f"{source.url} was replaced twice while it was staged; nothing was kept. Run "
                                "the task again once the object stays put") from None


def _vouched(source: SourceFile) -> Vouched:
    if source.from_version:
        return Vouched(source="manifest:sha256", checksums=dict(source.info.checksums))
    return source.store.vouched(source.info)


def _verify_exact_parts(source: SourceFile, path: str, digests: dict[str, str]) -> str:
    """Check ``path`` again with each part's size asked for: the inferred layout was not the real one.
    A second read of the local file, on this rare path only."""
    exact = source.store.vouched(source.info, exact=True)
    hasher = Hasher(expected_size=source.size, vouched=exact)
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            hasher.update(chunk)
    verified = hasher.verify(source.url)
    if hasher.hexdigests()["sha256"] != digests["sha256"]:  # pragma: no cover - the file is ours
        raise IntegrityError(f"{source.url}: the staged file changed while it was checked; retry")
    return verified


def _download(source: SourceFile, target: str, *, policy: RetryPolicy | None, progress: Progress,
              logger: logging.Logger, budget: ConnectionBudget | None) -> dict[str, str]:
    vouched = _vouched(source)
    hasher = Hasher(expected_size=source.size, vouched=vouched)
    # The task's logger shows the retries; the read resumes at the last byte, pinned to the identity.
    store = RetryingStore(getattr(source.store, "inner", source.store), policy=policy, logger=logger)
    # A file of a version is immutable and checked against its manifest's sha256; others are pinned to
    # the identity their listing or HEAD gave.
    pin = None if source.from_version else (source.identity or None)
    received = 0
    try:
        with replacing(target) as temp:
            # Read and write: the ranges are written at their offsets, and the prefix read back in order.
            # The reader is closed (its helpers stopped) before the file is.
            with open(temp, "w+b", buffering=0) as out, closing(read_into(
                    store, source.key, fd=out.fileno(), size=source.size, identity=pin, url=source.url,
                    ranges=store.serves_ranges(source.info), budget=budget)) as chunks:
                for chunk in chunks:
                    hasher.update(chunk)
                    received += len(chunk)
                    progress.add(len(chunk))
            if received != source.size:
                raise IntegrityError(
                    f"{source.url}: received {received} bytes but the store says the object has "
                    f"{source.size}; it may have been replaced during the download. Nothing was kept; retry"
                )
            try:
                verified = hasher.verify(source.url)
            except IntegrityError:
                if not (vouched.parts and vouched.parts.assumed):
                    raise
                verified = _verify_exact_parts(source, temp, hasher.hexdigests())
            digests = hasher.hexdigests()
        digests["verified"] = verified
        return digests
    finally:
        hasher.close()


@contextmanager
def replacing(target: str) -> Iterator[str]:
    """A temporary name beside ``target`` to write to: renamed over ``target`` when the block ends
    without an error, removed when it raises. A reader of ``target`` sees it whole or not at all."""
    directory, name = os.path.split(target)
    if not os.path.isdir(directory):  # one stat for the many files of one directory
        os.makedirs(directory, exist_ok=True)
    # A name near the file system's limit (255 bytes) leaves no room for a suffix: a short name then.
    stem = f".{name}" if len(os.fsencode(name)) <= _LONG_NAME else ""
    temp = os.path.join(directory, f"{stem}.part-{uuid.uuid4().hex[:12]}")
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
