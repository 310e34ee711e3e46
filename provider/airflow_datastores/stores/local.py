"""Local directory store: ``file:///absolute/path``. The default store when nothing is configured."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from airflow_datastores.errors import AccessDenied, AlreadyExists, DataStoreError, NotFound, ObjectChanged
from airflow_datastores.stores.base import CHUNK_SIZE, Leftover, ObjectInfo, Store, check_key

#: Partial writes live here, outside the key space, so a crash mid-write leaves nothing under any key.
TEMP_DIR = ".datastore-tmp"


class LocalStore(Store):
    """Objects are files below a directory; keys are their relative paths.

    Writes go to a temporary file in ``.datastore-tmp/`` below the root first and are renamed into
    place, so no key ever names a half-written file; a create-only write links the finished file to
    its name, which the kernel refuses (EEXIST) when the name is taken.
    """

    schemes = ("file",)
    label = "file"

    def __init__(self, *, root: str, conn_id: str | None = None, follow_symlinks: bool = False) -> None:
        super().__init__(root=root, conn_id=conn_id)
        path = (root[len("file://"):] if root.startswith("file://") else urlsplit(root).path) or "/"
        if not os.path.isabs(path):
            raise DataStoreError(f"{root!r}: a local store needs an absolute path (file:///abs/path)")
        self.path = os.path.normpath(path)
        #: Whether a symbolic link may lead outside the root (else such a link is refused).
        self.follow_symlinks = follow_symlinks

    def _path(self, key: str) -> str:
        return os.path.join(self.path, check_key(key)) if key else self.path

    def _check_link(self, path: str, key: str) -> None:
        """A symbolic link is read as what it points to, if that is below the root (or links may be followed)."""
        if self.follow_symlinks:
            return
        real, root = os.path.realpath(path), os.path.realpath(self.path)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise AccessDenied(
                f"{self.url_for(key)} is a symbolic link to {real}, outside the store's directory {root}; "
                "such links are not followed. Copy the file into the directory, or set follow_symlinks "
                "on the input if the link is meant"
            )

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = os.stat(path)
        except OSError as err:
            raise self._error(err, key) from None
        if not os.path.isfile(path):
            raise NotFound(f"{self.url_for(key)}: is a directory, not a file")
        if os.path.islink(path) or os.path.realpath(os.path.dirname(path)) != os.path.dirname(path):
            self._check_link(path, key)
        return self._info(key, st)

    def read(self, key: str, *, start: int = 0, end: int | None = None,
             identity: str | None = None) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except OSError as err:
            raise self._error(err, key) from None
        if identity is not None:
            now = self._info(key, os.fstat(handle.fileno())).identity
            if now != identity:
                handle.close()
                raise ObjectChanged(f"{self.url_for(key)}: the file was replaced (was {identity}, now {now})")
        return self._read(handle, start, end)

    @staticmethod
    def _read(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def write(
        self,
        key: str,
        data: BinaryIO,
        *,
        create_only: bool = False,
    ) -> ObjectInfo:
        path = self._path(check_key(key))
        directory = os.path.dirname(path)
        temp_dir = os.path.join(self.path, TEMP_DIR)
        temp = os.path.join(temp_dir, uuid.uuid4().hex)
        try:
            os.makedirs(temp_dir, exist_ok=True)
            os.makedirs(directory, exist_ok=True)
            if create_only and os.path.exists(path):
                raise AlreadyExists(f"{self.url_for(key)}: already exists; it is never overwritten")
            with open(temp, "xb") as out:
                while chunk := data.read(CHUNK_SIZE):
                    out.write(chunk)
                if create_only:
                    out.flush()
                    os.fsync(out.fileno())
            if create_only:
                try:
                    os.link(temp, path)
                except FileExistsError:
                    raise AlreadyExists(
                        f"{self.url_for(key)}: already exists; it is never overwritten"
                    ) from None
            else:
                os.replace(temp, path)
        except OSError as err:
            raise self._error(err, key) from None
        finally:
            if os.path.lexists(temp):
                os.unlink(temp)
        return self.stat(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_key(prefix) if prefix else None
        # Start from the deepest directory the prefix names, so a prefix does not walk the whole tree.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        yield from (info for info in self._walk(base) if info.key.startswith(prefix))

    def _walk(self, rel_dir: str, seen: frozenset[str] = frozenset()) -> Iterator[ObjectInfo]:
        directory = os.path.join(self.path, rel_dir) if rel_dir else self.path
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as err:
            raise self._error(err, rel_dir) from None
        # Sorting "name/" for directories gives the keys' lexicographic order across levels. A link to a
        # directory is walked as that directory (once: a link back up would loop).
        entries.sort(key=lambda e: e.name + "/" if e.is_dir() else e.name)
        seen = seen | {os.path.realpath(directory)}
        for entry in entries:
            key = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if key == TEMP_DIR:
                continue
            if entry.is_symlink():
                if not os.path.exists(entry.path):
                    continue  # a dangling link names nothing
                self._check_link(entry.path, key)
            if entry.is_dir():
                if os.path.realpath(entry.path) not in seen:
                    yield from self._walk(key, seen)
            elif entry.is_file():
                yield self._info(key, entry.stat())

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        """Partial writes in ``.datastore-tmp/`` (a writer killed mid-write leaves its temp file). Their
        names do not tell which key they were for, so they are listed for the whole store only."""
        if prefix:
            return
        temp_dir = os.path.join(self.path, TEMP_DIR)
        try:
            entries = sorted(os.scandir(temp_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as err:
            raise self._error(err, TEMP_DIR) from None
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            yield Leftover(kind="temp file", url=self.url_for(f"{TEMP_DIR}/{entry.name}"), size=st.st_size,
                           modified=datetime.fromtimestamp(st.st_mtime, tz=UTC), ref=entry.path)

    def remove_leftover(self, leftover: Leftover) -> None:
        """Delete one temp file of :meth:`leftovers`."""
        if os.path.dirname(leftover.ref) != os.path.join(self.path, TEMP_DIR):
            raise DataStoreError(f"{leftover.url}: not a temp file of this store ({self.root}); nothing removed")
        try:
            os.unlink(leftover.ref)
        except FileNotFoundError:
            return
        except OSError as err:
            raise self._error(err, f"{TEMP_DIR}/{os.path.basename(leftover.ref)}") from None

    def delete(self, key: str) -> None:
        path = self._path(check_key(key))
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as err:
            raise self._error(err, key) from None
        # Tidy empty directories up to the root, so a purged version leaves no empty tree behind.
        parent = os.path.dirname(path)
        while parent.startswith(self.path + os.sep):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def _info(self, key: str, st: os.stat_result) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            url=self.url_for(key),
            size=st.st_size,
            identity=f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}",
            modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def _error(self, err: OSError, key: str) -> DataStoreError:
        if isinstance(err, DataStoreError):  # ours already (NotFound is also a FileNotFoundError)
            return err
        url = self.url_for(key)
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return NotFound(f"{url}: no such file")
        if err.errno in (errno.EACCES, errno.EPERM):
            return AccessDenied(f"{url}: permission denied; check the worker's user can access it")
        if err.errno == errno.EEXIST:
            return AlreadyExists(f"{url}: already exists")
        return DataStoreError(f"{url}: {err.strerror or err}")
