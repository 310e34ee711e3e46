"""An NFS share as a directory without a kernel NFS client: FUSE (mfusepy, libfuse3) over nfs-rs.

Run as ``python -m airflow_datastores.mounts.nfs_fuse CONFIG_JSON READY_FD`` by
:class:`~airflow_datastores.mounts.drivers.UserspaceNfsDriver`, inside the task's mount namespace.
It connects, checks the export, mounts, writes ``ready`` (or ``error: <why>``) to ``READY_FD``, and
serves until SIGTERM or until the mount goes away. Its log lines go to stderr as ``LEVEL message``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

log = logging.getLogger("airflow_datastores.mounts.nfs_fuse")

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


def nfs_errors(method: Callable) -> Callable:
    """Turn nfs-rs errors into the errno FUSE returns to the caller."""
    from mfusepy import FuseOSError

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FuseOSError:
            raise
        except OSError as err:
            if isinstance(err.errno, int) and err.errno > 0:
                raise FuseOSError(err.errno) from None
            log.warning("%s%s failed: %s", method.__name__, args[:1], err)
            raise FuseOSError(errno.EIO) from None
        except Exception as err:  # noqa: BLE001 - any client failure is an I/O error to the reader
            code = errno.ETIMEDOUT if isinstance(err, TimeoutError) else errno.EIO
            log.warning("%s%s failed: %s", method.__name__, args[:1], err)
            raise FuseOSError(code) from None

    return wrapper


def build_filesystem(tree: NfsTree, *, readonly: bool, on_ready: Callable[[], None]):
    """The mfusepy ``Operations`` over ``tree``; writes fail with EROFS when ``readonly``."""
    from mfusepy import FuseOSError, Operations

    def writable(method: Callable) -> Callable:
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            if readonly:
                raise FuseOSError(errno.EROFS)
            return method(self, *args, **kwargs)

        return wrapper

    class NfsFilesystem(Operations):
        use_ns = True

        def __init__(self) -> None:
            # Attribute names must not shadow FUSE operations (``lock``, ``flush``...): mfusepy
            # registers any attribute named like one.
            self._files: dict[int, Any] = {}
            self._next_handle = 1
            self._guard = threading.Lock()

        def _keep(self, handle: Any) -> int:
            with self._guard:
                number = self._next_handle
                self._next_handle += 1
                self._files[number] = handle
            return number

        def init(self, path: str) -> None:
            on_ready()

        @nfs_errors
        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            info = tree.stat(path)
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
            return [".", "..", *tree.listdir(path)]

        @nfs_errors
        def readlink(self, path: str) -> str:
            return tree.client.readlink(tree.path(path))

        @nfs_errors
        def open(self, path: str, flags: int) -> int:
            wants_write = (flags & os.O_ACCMODE) != os.O_RDONLY
            if wants_write and readonly:
                raise FuseOSError(errno.EROFS)
            return self._keep(tree.client.open(tree.path(path), "r+b" if wants_write else "rb"))

        @writable
        @nfs_errors
        def create(self, path: str, mode: int, flags: int = 0) -> int:
            handle = tree.client.open(tree.path(path), "w+b")
            if mode & 0o7777 != 0o666:
                tree.client.chmod(tree.path(path), mode & 0o7777)
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
                tree.client.truncate(tree.path(path), length)
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
            tree.client.mkdir(tree.path(path), mode & 0o7777)
            return 0

        @writable
        @nfs_errors
        def rmdir(self, path: str) -> int:
            tree.client.rmdir(tree.path(path))
            return 0

        @writable
        @nfs_errors
        def unlink(self, path: str) -> int:
            tree.client.unlink(tree.path(path))
            return 0

        @writable
        @nfs_errors
        def rename(self, old: str, new: str) -> int:
            tree.client.rename(tree.path(old), tree.path(new))
            return 0

        @writable
        @nfs_errors
        def symlink(self, target: str, source: str) -> int:
            # mfusepy: ``target`` is the new link's path, ``source`` the text it points to.
            tree.client.symlink(source, tree.path(target))
            return 0

        @writable
        @nfs_errors
        def link(self, target: str, source: str) -> int:
            tree.client.link(tree.path(source), tree.path(target))
            return 0

        @writable
        @nfs_errors
        def chmod(self, path: str, mode: int) -> int:
            tree.client.chmod(tree.path(path), mode & 0o7777)
            return 0

        @writable
        @nfs_errors
        def chown(self, path: str, uid: int, gid: int) -> int:
            tree.client.chown(tree.path(path), uid, gid)
            return 0

        @writable
        @nfs_errors
        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            now = time.time_ns()
            tree.client.utime(tree.path(path), ns=times or (now, now))
            return 0

        @nfs_errors
        def statfs(self, path: str) -> dict[str, int]:
            fs = tree.client.fs_stat()
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

    return NfsFilesystem()


def connect(config: dict):
    """An nfs-rs client for the share in ``config`` and the :class:`NfsTree` over its export."""
    import nfs_rs

    host = config["server"]
    netloc = f"[{host}]" if ":" in host else host
    v3 = config["versions"] == ["3"]
    export = config["export"]
    url = f"nfs://{netloc}{export if v3 else '/'}"
    client = nfs_rs.Client.connect(
        url,
        versions=config["versions"],
        nfs_port=config["port"],
        mount_port=config.get("mountport"),
        noresvport=config.get("noresvport") or None,
        connect_timeout=config["connect_timeout"],
        operation_timeout=config["operation_timeout"],
    )
    tree = NfsTree(client, base="" if v3 else export)
    try:
        info = tree.stat("/")
    except FileNotFoundError:
        client.close()
        raise FileNotFoundError(f"the server has no export {export}") from None
    if info.type.value != "directory":
        client.close()
        raise NotADirectoryError(f"{export} on the server is not a directory")
    return client, tree


def serve(config: dict, ready_fd: int) -> int:
    """Connect, mount, report on ``ready_fd`` and serve until unmounted; the process's exit code."""
    from mfusepy import FUSE

    source = config["source"]
    where = f"NFS server {config['server']} port {config['port']}"

    def report(message: str) -> None:
        try:
            os.write(ready_fd, (message + "\n").encode())
            os.close(ready_fd)
        except OSError:
            pass

    try:
        client, tree = connect(config)
    except Exception as err:  # noqa: BLE001 - reported to the task with the server's name
        report(f"error: {where}: {err} (mounting {source})")
        return 1
    log.info("Connected to %s with NFS %s for %s", where, client.version.value, source)
    options = {"fsname": source, "subtype": "nfs-rs", "allow_other": True, "default_permissions": True}
    options.update({flag: True for flag in config.get("flags", ())})
    if config["readonly"]:
        options["ro"] = True
    filesystem = build_filesystem(tree, readonly=config["readonly"], on_ready=lambda: report("ready"))
    try:
        FUSE(filesystem, config["mountpoint"], foreground=True, **options)
    except Exception as err:  # noqa: BLE001 - reported to the task; nothing is mounted
        report(f"error: FUSE could not mount {config['mountpoint']}: {err}")
        return 1
    finally:
        try:
            client.close()
        except Exception as err:  # noqa: BLE001 - on the way out
            log.warning("closing the NFS client failed: %s", err)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``CONFIG_JSON READY_FD``; the driver that starts this has already set PR_SET_PDEATHSIG."""
    args = sys.argv[1:] if argv is None else argv
    config, ready_fd = json.loads(args[0]), int(args[1])
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("mfusepy").setLevel(logging.WARNING)
    return serve(config, ready_fd)


if __name__ == "__main__":
    sys.exit(main())
