"""``swift://`` for Airflow's ObjectStoragePath: an fsspec filesystem over :class:`SwiftHook`.

Paths are ``container/key``; ``ObjectStoragePath("swift://<conn_id>@container/key")`` picks the connection.
Reads are ranged GETs; writes below :data:`SEGMENT_SIZE` are one PUT, larger ones a static large object
whose segments go to ``<container>_segments`` in the one segment layout the Swift store writes too
(:mod:`airflow_datastores.stores.swift_segments`), so a purge finds what an unfinished write left.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from airflow_datastores.hashing import md5_hex
from airflow_datastores.hooks.swift import SwiftHook
from airflow_datastores.stores.swift_segments import (
    MANIFEST_PUT,
    MAX_MANIFEST_SEGMENTS,
    ensure_segment_container,
    nest_manifests,
    new_upload,
    segment_container_of,
    segment_name,
    slo_entry,
)

schemes = ["swift"]

#: Writes up to this size are one PUT; larger ones become an SLO of segments this size.
SEGMENT_SIZE = 16 * 1024 * 1024


def get_fs(conn_id: str | None, storage_options: dict[str, Any] | None = None) -> AbstractFileSystem:
    """The filesystem of one Airflow connection.

    :param conn_id: the Swift connection id; ``swift_default`` when not given.
    :param storage_options: further :class:`SwiftFileSystem` options (``segment_size``).
    """
    return SwiftFileSystem(swift_conn_id=conn_id or SwiftHook.default_conn_name, **(storage_options or {}))


def _not_found(path: str) -> FileNotFoundError:
    return FileNotFoundError(f"swift://{path}: no such object or container")


class SwiftFileSystem(AbstractFileSystem):
    """Containers and objects of one Swift account.

    :param swift_conn_id: the Airflow connection (Keystone v3 or tempauth) to authenticate with.
    :param segment_size: bytes per segment of a large object written through :meth:`open`.
    :param manifest_segments: entries per SLO manifest (the cluster's ``max_manifest_segments``); a
        longer object nests manifests, as the store does.
    """

    protocol = ("swift",)
    root_marker = ""

    def __init__(self, *, swift_conn_id: str = SwiftHook.default_conn_name, segment_size: int = SEGMENT_SIZE,
                 manifest_segments: int = MAX_MANIFEST_SEGMENTS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hook = SwiftHook(swift_conn_id=swift_conn_id)
        self.segment_size = segment_size
        self.manifest_segments = manifest_segments
        self._local = threading.local()
        self._auth: tuple[str, str] | None = None

    @property
    def conn(self):
        """This thread's swiftclient connection (they are not thread-safe), sharing one token."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._auth:
                conn = self.hook.get_conn(preauthurl=self._auth[0], preauthtoken=self._auth[1])
            else:
                conn = self.hook.get_conn()
                conn.url, conn.token = conn.get_auth()
                self._auth = (conn.url, conn.token)
            self._local.conn = conn
        return conn

    @classmethod
    def _strip_protocol(cls, path) -> str:
        path = str(path)
        if path.startswith("swift://"):
            path = path[len("swift://"):]
        head, sep, rest = path.partition("/")
        if "@" in head:  # swift://<conn_id>@container/key
            head = head.rpartition("@")[2]
        return (head + sep + rest).rstrip("/")

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        container, _, key = path.partition("/")
        return container, key

    def _status(self, call, path: str):
        """``call()``, with swiftclient's errors as the OSErrors fsspec expects (no token or key in them)."""
        from swiftclient.exceptions import ClientException

        try:
            return call()
        except ClientException as err:
            raise self._error(err, path) from None

    def _error(self, err, path: str) -> OSError:
        status = getattr(err, "http_status", None)
        if status == 404:
            return _not_found(path)
        if status in (401, 403) or (status is None and "unauthorized" in str(getattr(err, "msg", "")).lower()):
            return PermissionError(f"swift://{path}: Swift refused access{f' (HTTP {status})' if status else ''}; "
                                   f"check connection {self.hook.swift_conn_id!r}")
        return OSError(f"swift://{path}: Swift answered {f'HTTP {status}' if status else type(err).__name__}")

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        if not path:
            _headers, containers = self._status(lambda: self.conn.get_account(full_listing=True), "")
            entries = [{"name": c["name"], "size": 0, "type": "directory"} for c in containers]
        else:
            container, key = self._split(path)
            prefix = f"{key}/" if key else ""
            _headers, items = self._status(
                lambda: self.conn.get_container(container, prefix=prefix, delimiter="/", full_listing=True), path)
            entries = []
            for item in items:
                if "subdir" in item:
                    entries.append({"name": f"{container}/{item['subdir'].rstrip('/')}", "size": 0,
                                    "type": "directory"})
                else:
                    entries.append(self._entry(f"{container}/{item['name']}", int(item["bytes"]),
                                               item.get("slo_etag") or item.get("hash", ""), item.get("last_modified")))
            if not entries and key:
                info = self.info(path)  # a single object lists as itself; nothing at all is an error
                return [info] if detail else [info["name"]]
        return entries if detail else [e["name"] for e in entries]

    @staticmethod
    def _entry(name: str, size: int, etag: str, modified: str | None) -> dict:
        return {"name": name, "size": size, "type": "file", "ETag": etag.strip('"'), "LastModified": modified}

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        container, key = self._split(path)
        if not container:
            return {"name": "", "size": 0, "type": "directory"}
        from swiftclient.exceptions import ClientException

        if not key:
            self._status(lambda: self.conn.head_container(container), path)
            return {"name": container, "size": 0, "type": "directory"}
        try:
            headers = self.conn.head_object(container, key)
            return self._entry(path, int(headers["content-length"]), headers.get("etag", ""),
                               headers.get("last-modified"))
        except ClientException as err:
            if err.http_status != 404:
                raise self._error(err, path) from None
        _headers, items = self._status(lambda: self.conn.get_container(container, prefix=f"{key}/", limit=1), path)
        if items:
            return {"name": path, "size": 0, "type": "directory"}
        raise _not_found(path)

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        container, key = self._split(path)
        size = None
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
        start = (start + size if start < 0 else start) if start is not None else 0
        end = (end + size if end < 0 else end) if end is not None else None
        if end is not None and end <= start:
            return b""
        headers = {"Range": f"bytes={start}-{'' if end is None else end - 1}"} if start or end is not None else {}
        from swiftclient.exceptions import ClientException

        try:
            _headers, body = self.conn.get_object(container, key, headers=headers)
        except ClientException as err:
            if err.http_status == 416:  # the range starts at or past the end
                return b""
            raise self._error(err, path) from None
        return body

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        return SwiftFile(self, self._strip_protocol(path), mode, block_size=block_size or self.segment_size,
                         autocommit=autocommit, cache_options=cache_options, **kwargs)

    def mkdir(self, path, create_parents=True, **kwargs):
        container, key = self._split(self._strip_protocol(path))
        if not key:  # object stores have no directories below containers
            self._status(lambda: self.conn.put_container(container), container)

    def makedirs(self, path, exist_ok=False):
        self.mkdir(path)

    def rmdir(self, path):
        container, key = self._split(self._strip_protocol(path))
        if not key:
            self._status(lambda: self.conn.delete_container(container), container)

    def rm_file(self, path):
        path = self._strip_protocol(path)
        container, key = self._split(path)
        headers = self._status(lambda: self.conn.head_object(container, key), path)
        slo = headers.get("x-static-large-object", "").lower() == "true"
        self._status(lambda: self.conn.delete_object(
            container, key, query_string="multipart-manifest=delete" if slo else None), path)

    def _rm(self, path):
        self.rm_file(path)

    def cp_file(self, path1, path2, **kwargs):
        """A copy inside Swift, server side (a large object arrives as one plain object, up to Swift's 5 GiB)."""
        source, target = self._strip_protocol(path1), self._strip_protocol(path2)
        container, key = self._split(source)
        self._status(lambda: self.conn.copy_object(container, key, destination=f"/{target}"), source)

    def created(self, path):
        return None

    def modified(self, path):
        from email.utils import parsedate_to_datetime

        modified = self.info(path).get("LastModified")
        return parsedate_to_datetime(modified) if modified else None


class SwiftFile(AbstractBufferedFile):
    """A Swift object opened for reading (ranged GETs) or writing (one PUT, or SLO segments)."""

    def _fetch_range(self, start, end):
        return self.fs.cat_file(self.path, start=start, end=end)

    def _initiate_upload(self):
        self._segments: list[dict] = []
        self._upload = new_upload(self.path.partition("/")[2])

    def _upload_chunk(self, final=False):
        # Returning False keeps fsspec from clearing the buffer: what is left of it is the next segment's start.
        container, key = self.fs._split(self.path)
        conn = self.fs.conn
        data = self.buffer.getvalue()
        if final and not self._segments and len(data) <= self.blocksize:  # it all fits in one PUT
            self.fs._status(lambda: conn.put_object(container, key, contents=io.BytesIO(data),
                                                    content_length=len(data), etag=md5_hex(data)),
                            self.path)
            return True
        segments = segment_container_of(container)
        if not self._segments:
            self.fs._status(lambda: ensure_segment_container(conn, container, segments), segments)
        while data and (len(data) >= self.blocksize or final):
            piece, data = data[: self.blocksize], data[self.blocksize:]
            name = segment_name(self._upload, len(self._segments))
            etag = self.fs._status(lambda name=name, piece=piece: conn.put_object(
                segments, name, contents=io.BytesIO(piece), content_length=len(piece),
                etag=md5_hex(piece)), self.path)
            self._segments.append(slo_entry(segments, name, etag, len(piece)))
        if not final:
            self.buffer = io.BytesIO()
            self.buffer.write(data)
            return False

        def put_manifest(name: str, entries: list[dict]) -> dict:
            etag = self.fs._status(lambda: conn.put_object(segments, name, contents=json.dumps(entries),
                                                           query_string=MANIFEST_PUT), self.path)
            return slo_entry(segments, name, etag, sum(entry["size_bytes"] for entry in entries))

        manifest = json.dumps(nest_manifests(self._segments, upload=self._upload,
                                             max_entries=self.fs.manifest_segments, put_manifest=put_manifest))
        self.fs._status(lambda: conn.put_object(container, key, contents=manifest, query_string=MANIFEST_PUT),
                        self.path)
        return True
