"""Staging: every file of a task's inputs into its inputs directory, from the cache when unchanged,
else transferred and verified; one record per file, logged with its md5, sha1 and sha256."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_datastores import config
from airflow_datastores.errors import DataStoreError, NotEnoughSpace
from airflow_datastores.inputs.cache import CacheEntry, InputCache, place_file
from airflow_datastores.inputs.progress import Progress
from airflow_datastores.inputs.resolve import SourceFile, resolve_inputs
from airflow_datastores.inputs.spec import parse_inputs
from airflow_datastores.inputs.targets import check_space, check_targets, free_bytes, no_space_message, target_path
from airflow_datastores.inputs.transfer import download, replacing
from airflow_datastores.records import InputRecord
from airflow_datastores.retry import RetryPolicy
from airflow_datastores.stores.parallel import ConnectionBudget
from airflow_datastores.units import human_size

log = logging.getLogger(__name__)


@dataclass
class StagingResult:
    """What :func:`stage_inputs` did."""

    inputs_dir: str
    records: list[InputRecord]
    bytes_downloaded: int = 0
    files_downloaded: int = 0
    files_cached: int = 0
    seconds: float = 0.0


def stage_inputs(inputs: Mapping | Sequence | None, *, inputs_dir: str, **options: Any) -> StagingResult:
    """Stage every file of ``inputs`` (what :func:`parse_inputs` accepts) into ``inputs_dir`` and return
    one record per file; ``options`` are those of :func:`stage_files`."""
    return stage_files(resolve_inputs(parse_inputs(inputs)), inputs_dir=inputs_dir, **options)


def stage_files(
    files: Sequence[SourceFile],
    *,
    inputs_dir: str,
    cache: InputCache | None = None,
    max_concurrency: int | None = None,
    max_connections: int | None = None,
    policy: RetryPolicy | None = None,
    progress_interval: float = 10.0,
    logger: logging.Logger | None = None,
) -> StagingResult:
    """Stage resolved files (see :func:`resolve_inputs`) and return one record per file, in their order.

    :param files: what to stage.
    :param inputs_dir: local directory; each input gets a sub-directory named after it.
    :param cache: worker-local cache; an object whose identity and size match an entry is linked from
        it without a GET or a re-hash.
    :param max_concurrency: how many files transfer at once; default ``[datastores] max_concurrency``
        (as many as ``max_connections``). Many small objects wait on round trips, not bytes: one
        connection each, many at once.
    :param max_connections: how many connections the staging may have open at once: one per file in
        transfer, and a large object's parallel ranges take what is free beyond (see
        :mod:`~airflow_datastores.stores.parallel`); default ``[datastores] max_connections``.
    :param policy: how transient failures (reset, timeout, 5xx, throttling) are retried; a read
        resumes from the last byte received, pinned to the object first seen. Default: the
        ``[datastores]`` retry options.
    :param progress_interval: seconds between progress lines while staging runs; 0 disables them.
    :param logger: where the per-file lines go (the task's logger).
    """
    logger = logger or log
    started = time.monotonic()
    inputs_dir = os.path.abspath(inputs_dir)
    check_targets(files, inputs_dir=inputs_dir)  # names the local file system cannot hold: before any byte
    os.makedirs(inputs_dir, exist_ok=True)
    result = StagingResult(inputs_dir=inputs_dir, records=[])
    stats_lock = threading.Lock()
    budget = ConnectionBudget(limit=max_connections)
    directories = _Directories()
    placed: list[str] = []

    def finish(record: InputRecord, target: str) -> InputRecord:
        with stats_lock:
            placed.append(target)
            if record.cached:
                result.files_cached += 1
            else:
                result.files_downloaded += 1
                result.bytes_downloaded += record.size
        _log(record, target, logger)
        progress.file_done()
        return record

    def fetch(source: SourceFile) -> InputRecord:
        target = target_path(inputs_dir, source)
        budget.hold()
        try:
            source, digests = download(source, target, policy=policy, progress=progress, logger=logger,
                                       budget=budget)
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT) or isinstance(err, DataStoreError):
                raise
            needs = {source.input_name: sum(f.size for f in files if f.input_name == source.input_name)}
            raise NotEnoughSpace(no_space_message(needs, inputs_dir=os.path.dirname(target),
                                                  free=free_bytes(inputs_dir), url=source.url)) from None
        finally:
            budget.give()
        record = _record(source, target, digests, cached=False)
        if cache:
            cache.put(url=source.url, identity=source.identity, size=source.size, path=target, digests=digests)
        return finish(record, target)

    # The cache is looked up first, so the space check counts only what must be downloaded.
    hits = [cache.get(url=f.url, identity=f.identity, size=f.size) if cache else None for f in files]
    check_space([f for f, hit in zip(files, hits, strict=True) if hit is None], inputs_dir=inputs_dir)
    total = sum(f.size for f in files)
    try:
        with Progress(total=total, files=len(files), interval=progress_interval, logger=logger) as progress:
            records: list[InputRecord | None] = [None] * len(files)
            missed: list[int] = []
            for index, (source, hit) in enumerate(zip(files, hits, strict=True)):
                # A cache hit is a few system calls: served here, in order, without a hand-off to the pool.
                target = target_path(inputs_dir, source)
                record = _from_cache(source, target, hit, directories) if hit else None
                if record is None:
                    missed.append(index)
                else:
                    records[index] = finish(record, target)
            workers = 1 if len(missed) <= 1 else min(len(missed), max_concurrency or config.max_concurrency())
            if workers <= 1:
                fetched = [fetch(files[i]) for i in missed]
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage") as pool:
                    fetched = list(pool.map(fetch, [files[i] for i in missed]))
            for index, record in zip(missed, fetched, strict=True):
                records[index] = record
            result.records = records
    except BaseException:
        _remove_placed(placed, inputs_dir=inputs_dir)  # a staging that fails leaves nothing behind
        raise
    if cache and result.files_downloaded:  # only a download adds to the cache: nothing else can overfill it
        cache.evict()
    result.seconds = time.monotonic() - started
    return result


def _remove_placed(placed: list[str], *, inputs_dir: str) -> None:
    """Remove the files a failed staging placed, and the directories that are empty after."""
    directories = set()
    for path in placed:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        parent = os.path.dirname(path)
        while parent.startswith(inputs_dir + os.sep):
            directories.add(parent)
            parent = os.path.dirname(parent)
    for directory in sorted(directories, key=len, reverse=True):
        try:
            os.rmdir(directory)
        except OSError:  # not empty: something else is in it
            pass


def _log(record: InputRecord, target: str, logger: logging.Logger) -> None:
    """One record of four lines: they stay together, and logging costs a quarter as much."""
    if record.cached:
        how = ""
    elif record.verified == "size":
        how = " (only its size could be verified: the store keeps no checksum of it)"
    else:
        how = f", verified against {record.verified}"
    logger.info(
        "%s: %s, %s%s\n%s: md5 sum: %s\n%s: sha1 sum: %s\n%s: sha256 sum: %s",
        target, "cached" if record.cached else "downloaded", human_size(record.size), how,
        target, record.md5, target, record.sha1, target, record.sha256,
    )


def _from_cache(source: SourceFile, target: str, entry: CacheEntry, directories: _Directories) -> InputRecord | None:
    directories.make(os.path.dirname(target))
    try:
        os.link(entry.path, target)  # the common case: one system call, and the file is whole
    except FileNotFoundError:  # evicted between lookup and link
        return None
    except OSError:  # the target exists, or the cache is on another file system: copy, then rename
        try:
            with replacing(target) as temp:
                place_file(entry.path, temp)
        except FileNotFoundError:
            return None
    return _record(source, target, entry.digests, cached=True)


class _Directories:
    """The directories made so far by one staging: each is made once, not once per file."""

    def __init__(self) -> None:
        self._made: set[str] = set()

    def make(self, path: str) -> None:
        if path not in self._made:
            os.makedirs(path, exist_ok=True)
            self._made.add(path)


def _record(source: SourceFile, target: str, digests: Mapping[str, str], *, cached: bool) -> InputRecord:
    return InputRecord(
        name=source.input_name,
        url=source.url,
        path=target,
        size=source.size,
        md5=digests["md5"],
        sha1=digests["sha1"],
        sha256=digests["sha256"],
        identity=source.identity,
        source=source.source or source.url,
        verified=digests.get("verified", "size"),
        cached=cached,
        version_id=source.version_id,
        alias=source.alias,
        tags=list(source.tags),
        properties=dict(source.properties),
    )
