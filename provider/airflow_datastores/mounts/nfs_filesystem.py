"""The FUSE operations over one NFS export, served by an nfs-rs client: what :mod:`.nfs_fuse` mounts.

Paths of the mount map onto the export (:class:`NfsTree`); nfs-rs errors become the errno the caller
of a file operation sees; a read-only mount answers every write with EROFS. mfusepy (and with it
libfuse) is imported only when the file system is built, inside the FUSE daemon.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

log = logging.getLogger(__name__)

_TYPE_BITS = {
    "file": stat.S_IFREG,
    "directory": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "block_device": stat.S_IFBLK,
    "character_device": stat.S_IFCHR,
    "fifo": stat.S_IFIFO,
    "socket": stat.S_IFSOCK,
}
_BLOCK = 4096


class NfsTree:
    """Paths of the mount (``/a/b``) mapped onto one export of an nfs-rs client.

    nfs-rs 0.8 cannot stat or list the directory it connected to through its public API: it turns
    the empty path into ``.``, which NFSv4 servers refuse (NFS4ERR_BADNAME). So NFSv4 connects at
    the server's root and addresses the export as a subdirectory (``base``), which works; only a
    share of the server's root itself (``server:/``), or an NFSv3 export, which is connected to
    directly, needs :meth:`_root_call`.
    """

    def __init__(self, client: Any, *, base: str) -> None:
        self.client = client
        self.base = base.strip("/")

    def path(self, fuse_path: str) -> str:
        rel = fuse_path.strip("/")
        return f"{self.base}/{rel}" if self.base and rel else (self.base or rel)

    def stat(self, fuse_path: str):
        path = self.path(fuse_path)
        return self.client.stat(path) if path else self._root_call("stat")

    def listdir(self, fuse_path: str) -> list[str]:
        path = self.path(fuse_path)
        return self.client.listdir(path) if path else self._root_call("listdir")

    def _root_call(self, what: str):
        # One level below the public API, which would send ".": the native client takes "" as the root.
        from nfs_rs import _client

        inner = self.client._inner
        if what == "stat":
            return _client._file_info("", inner.stat(""))
        return [values["name"] for batch in inner.scandir("") for values in batch]


def _fuse_error(code: int) -> OSError:
    """mfusepy's error for ``code``, the errno FUSE returns to the caller."""
    from mfusepy import FuseOSError

    return FuseOSError(code)


def nfs_errors(method: Callable) -> Callable:
    """Turn nfs-rs errors into the errno FUSE returns to the caller."""

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as err:
            if isinstance(err.errno, int) and err.errno > 0:  # a FuseOSError too: it leaves as it came
                raise _fuse_error(err.errno) from None
            log.warning("%s%s failed: %s", method.__name__, args[:1], err)
            raise _fuse_error(errno.EIO) from None
        except Exception as err:  # noqa: BLE001 - any client failure is an I/O error to the reader
            code = errno.ETIMEDOUT if isinstance(err, TimeoutError) else errno.EIO
            log.warning("%s%s failed: %s", method.__name__, args[:1], err)
            raise _fuse_error(code) from None

    return wrapper


def writable(method: Callable) -> Callable:
    """An operation that changes the share: EROFS on a read-only mount."""

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._readonly:
            raise _fuse_error(errno.EROFS)
        return method(self, *args, **kwargs)

    return wrapper


class NfsOperations:
    """The FUSE operations over an :class:`NfsTree`; :func:`build_filesystem` adds mfusepy's base.

    Attribute names must not shadow FUSE operations (``lock``, ``flush``...): mfusepy registers any
    attribute named like one.
    """

    use_ns = True

    def __init__(self, tree: NfsTree, *, readonly: bool, on_ready: Callable[[], None]) -> None:
        self._tree = tree
        self._client = tree.client
        self._readonly = readonly
        self._on_ready = on_ready
        self._files: dict[int, Any] = {}
        self._next_handle = 1
        self._guard = threading.Lock()

    def _keep(self, handle: Any) -> int:
        with self._guard:
            number = self._next_handle
            self._next_handle += 1
            self._files[number] = handle
        return number

    def _path(self, fuse_path: str) -> str:
        return self._tree.path(fuse_path)

    def init(self, path: str) -> None:
        self._on_ready()

    @nfs_errors
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        info = self._tree.stat(path)
        return {
            "st_mode": _TYPE_BITS.get(info.type.value, 0) | (info.mode & 0o7777),
            "st_nlink": info.nlink,
            "st_size": info.size,
            "st_uid": info.uid,
            "st_gid": info.gid,
            "st_blocks": (info.used + 511) // 512,
            "st_atime": info.atime,
            "st_mtime": info.mtime,
            "st_ctime": info.ctime,
        }

    @nfs_errors
    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *self._tree.listdir(path)]

    @nfs_errors
    def readlink(self, path: str) -> str:
        return self._client.readlink(self._path(path))

    @nfs_errors
    def open(self, path: str, flags: int) -> int:
        wants_write = (flags & os.O_ACCMODE) != os.O_RDONLY
        if wants_write and self._readonly:
            raise _fuse_error(errno.EROFS)
        return self._keep(self._client.open(self._path(path), "r+b" if wants_write else "rb"))

    @writable
    @nfs_errors
    def create(self, path: str, mode: int, flags: int = 0) -> int:
        handle = self._client.open(self._path(path), "w+b")
        if mode & 0o7777 != 0o666:
            self._client.chmod(self._path(path), mode & 0o7777)
        return self._keep(handle)

    @nfs_errors
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return self._files[fh].read_at(offset, size)

    @writable
    @nfs_errors
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return self._files[fh].write_at(data, offset)

    @writable
    @nfs_errors
    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        if fh is not None and fh in self._files:
            self._files[fh].truncate(length)
        else:
            self._client.truncate(self._path(path), length)
        return 0

    @nfs_errors
    def flush(self, path: str, fh: int) -> int:
        return 0  # every write is already on stable storage when it returns

    @nfs_errors
    def fsync(self, path: str, datasync: int, fh: int) -> int:
        handle = self._files.get(fh)
        if handle is not None and handle.writable():
            handle.flush()
        return 0

    @nfs_errors
    def release(self, path: str, fh: int) -> int:
        with self._guard:
            handle = self._files.pop(fh, None)
        if handle is not None:
            handle.close()
        return 0

    @writable
    @nfs_errors
    def mkdir(self, path: str, mode: int) -> int:
        self._client.mkdir(self._path(path), mode & 0o7777)
        return 0

    @writable
    @nfs_errors
    def rmdir(self, path: str) -> int:
        self._client.rmdir(self._path(path))
        return 0

    @writable
    @nfs_errors
    def unlink(self, path: str) -> int:
        self._client.unlink(self._path(path))
        return 0

    @writable
    @nfs_errors
    def rename(self, old: str, new: str) -> int:
        self._client.rename(self._path(old), self._path(new))
        return 0

    @writable
    @nfs_errors
    def symlink(self, target: str, source: str) -> int:
        # mfusepy: ``target`` is the new link's path, ``source`` the text it points to.
        self._client.symlink(source, self._path(target))
        return 0

    @writable
    @nfs_errors
    def link(self, target: str, source: str) -> int:
        self._client.link(self._path(source), self._path(target))
        return 0

    @writable
    @nfs_errors
    def chmod(self, path: str, mode: int) -> int:
        self._client.chmod(self._path(path), mode & 0o7777)
        return 0

    @writable
    @nfs_errors
    def chown(self, path: str, uid: int, gid: int) -> int:
        self._client.chown(self._path(path), uid, gid)
        return 0

    @writable
    @nfs_errors
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        now = time.time_ns()
        self._client.utime(self._path(path), ns=times or (now, now))
        return 0

    @nfs_errors
    def statfs(self, path: str) -> dict[str, int]:
        fs = self._client.fs_stat()
        return {
            "f_bsize": _BLOCK,
            "f_frsize": _BLOCK,
            "f_blocks": fs.total_bytes // _BLOCK,
            "f_bfree": fs.free_bytes // _BLOCK,
            "f_bavail": fs.available_bytes // _BLOCK,
            "f_files": fs.total_files,
            "f_ffree": fs.free_files,
            "f_favail": fs.available_files,
            "f_namemax": 255,
        }

    def destroy(self, path: str) -> None:
        with self._guard:
            handles, self._files = list(self._files.values()), {}
        for handle in handles:
            try:
                handle.close()
            except Exception as err:  # noqa: BLE001 - closing on the way out, nothing to undo
                log.warning("closing an NFS file at unmount failed: %s", err)


def build_filesystem(tree: NfsTree, *, readonly: bool, on_ready: Callable[[], None]):
    """The mfusepy ``Operations`` over ``tree``; writes fail with EROFS when ``readonly``."""
    from mfusepy import Operations

    class NfsFilesystem(NfsOperations, Operations):
        """mfusepy's base last: it only fills in the operations that :class:`NfsOperations` leaves out."""

    return NfsFilesystem(tree, readonly=readonly, on_ready=on_ready)
