"""A worker-local cache of staged inputs, keyed by what the store says about an object.

An entry is found by (object URL, store identity, size): when the store still reports the same ETag /
generation / version id and size, the bytes are the ones cached, so they are neither downloaded nor
hashed again. Entries are hard links where the file system allows it (else copies). The cache is
bounded in size (least recently used entries go first) and safe for several tasks on one worker:
entries appear by an atomic rename of a finished directory, and eviction holds a file lock.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

_DATA = "data"
_META = "meta.json"


@dataclass(frozen=True)
class CacheEntry:
    """A cached object: where its bytes are and the digests recorded when it was cached."""

    path: str
    size: int
    digests: dict[str, str]


class InputCache:
    """The cache directory of one worker.

    :param directory: where entries live; created when missing.
    :param max_bytes: upper bound of the cached bytes; ``0`` disables the cache.
    """

    def __init__(self, *, directory: str, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._objects = os.path.join(directory, "objects")

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @staticmethod
    def entry_id(*, url: str, identity: str, size: int) -> str:
        return hashlib.sha256(f"{url}\0{identity}\0{size}".encode()).hexdigest()

    def get(self, *, url: str, identity: str, size: int) -> CacheEntry | None:
        """The entry for this object, or ``None``. An entry whose file was changed in place is dropped."""
        if not self.enabled:
            return None
        entry_dir = os.path.join(self._objects, self.entry_id(url=url, identity=identity, size=size))
        try:
            with open(os.path.join(entry_dir, _META)) as handle:
                meta = json.load(handle)
            st = os.stat(os.path.join(entry_dir, _DATA))
        except (OSError, ValueError):
            return None
        # A hard-linked input edited by a task would change the cached bytes too: the recorded size
        # and mtime tell, and such an entry is not trusted.
        if st.st_size != meta["size"] or st.st_mtime_ns != meta["mtime_ns"]:
            log.warning("Cache entry for %s was modified after caching; downloading it again", url)
            self._remove(entry_dir)
            return None
        try:
            os.utime(os.path.join(entry_dir, _META))  # recency for eviction
        except OSError:
            pass
        return CacheEntry(path=os.path.join(entry_dir, _DATA), size=meta["size"], digests=meta["digests"])

    def put(self, *, url: str, identity: str, size: int, path: str, digests: dict[str, str]) -> None:
        """Add the staged file at ``path`` (verified, final) under this object's key."""
        if not self.enabled or size > self.max_bytes:
            return
        entry_id = self.entry_id(url=url, identity=identity, size=size)
        final = os.path.join(self._objects, entry_id)
        if os.path.isdir(final):
            return
        temp = os.path.join(self.directory, "incoming", f"{entry_id}.{uuid.uuid4().hex}")
        try:
            os.makedirs(temp)
            data = os.path.join(temp, _DATA)
            place_file(path, data)
            st = os.stat(data)
            meta = {"url": url, "identity": identity, "size": size, "digests": digests,
                    "mtime_ns": st.st_mtime_ns, "cached_at": time.time()}
            with open(os.path.join(temp, _META), "w") as handle:
                json.dump(meta, handle)
            os.makedirs(self._objects, exist_ok=True)
            try:
                os.rename(temp, final)
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Another task cached the same object first: theirs is as good as ours.
        except OSError as err:
            log.warning("Could not cache %s (%s); staging goes on without the cache", url, err.strerror)
        finally:
            if os.path.isdir(temp):
                shutil.rmtree(temp, ignore_errors=True)

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits ``max_bytes``; return bytes freed.

        Called once after a staging, not per file: it lists the whole cache.
        """
        if not self.enabled:
            return 0
        os.makedirs(self.directory, exist_ok=True)
        with open(os.path.join(self.directory, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = []
            total = 0
            try:
                names = os.listdir(self._objects)
            except FileNotFoundError:
                return 0
            for name in names:
                if ".gone-" in name:
                    continue
                entry_dir = os.path.join(self._objects, name)
                try:
                    used = os.stat(os.path.join(entry_dir, _META)).st_mtime
                    size = os.stat(os.path.join(entry_dir, _DATA)).st_size
                except OSError:
                    continue
                entries.append((used, size, entry_dir))
                total += size
            freed = 0
            for _used, size, entry_dir in sorted(entries):
                if total - freed <= self.max_bytes:
                    break
                self._remove(entry_dir)
                freed += size
            return freed

    def size(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self._objects):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f == _DATA)
        return total

    @staticmethod
    def _remove(entry_dir: str) -> None:
        # Rename first so a concurrent reader sees the entry either whole or gone.
        doomed = f"{entry_dir}.gone-{uuid.uuid4().hex}"
        try:
            os.rename(entry_dir, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)


def place_file(source: str, destination: str) -> str:
    """Hard-link ``source`` to ``destination``, or copy it across file systems. Returns how."""
    try:
        os.link(source, destination)
        return "link"
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    shutil.copyfile(source, destination)
    return "copy"
