"""The static large objects (SLOs) of Swift and their segment container ``<container>_segments``: the one
segment layout (the store and the ``swift://`` filesystem write it, purge reads it back), the store's
segmented upload with its nested manifests, the segment list an SLO is verified against, and the segments
of uploads whose manifest was never written (the store's leftovers).

The layout (the ``swift`` command line client's convention, with an upload id)::

    <container>_segments/<object name>/<upload id: 32 hex>/<piece: 8 digits>     a segment
    <container>_segments/<object name>/<upload id>/manifest-<n: 4 digits>       a nested manifest
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from airflow_datastores.errors import DataStoreError, MissingExtra
from airflow_datastores.hashing import md5_hex
from airflow_datastores.stores.base import Leftover, ObjectInfo, check_key
from airflow_datastores.stores.parts import send_parts

try:
    from swiftclient.exceptions import ClientException
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise MissingExtra(scheme="swift", extra="swift") from err

#: The query of a PUT that writes an SLO manifest.
MANIFEST_PUT = "multipart-manifest=put"
#: Entries per SLO manifest (Swift's default ``max_manifest_segments``); longer uploads nest manifests.
MAX_MANIFEST_SEGMENTS = 1000


def segment_container_of(container: str) -> str:
    """Where the segments of ``container``'s large objects go."""
    return f"{container}_segments"


def new_upload(name: str) -> str:
    """The prefix of one upload's segments of object ``name`` (unique to the upload)."""
    return f"{name}/{uuid.uuid4().hex}"


def segment_name(upload: str, index: int) -> str:
    """Segment ``index`` (from 0) of ``upload``."""
    return f"{upload}/{index:08d}"


def nested_manifest_name(upload: str, index: int) -> str:
    """Nested manifest ``index`` (from 0) of ``upload``."""
    return f"{upload}/manifest-{index:04d}"


def upload_of(segment: str) -> tuple[str, str] | None:
    """``(object name, upload id)`` of a segment's name below the segment container, as
    :func:`new_upload` and :func:`segment_name` make it; ``None`` for names they did not make."""
    parts = segment.rsplit("/", 2)
    if len(parts) != 3 or len(parts[1]) != 32 or any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[0], parts[1]


def slo_entry(segment_container: str, name: str, etag: str, size: int) -> dict:
    """One entry of an SLO manifest: the segment (or nested manifest) ``name`` of ``segment_container``."""
    return {"path": f"/{segment_container}/{name}", "etag": etag.strip('"'), "size_bytes": size}


def nest_manifests(entries: list[dict], *, upload: str, max_entries: int,
                   put_manifest: Callable[[str, list[dict]], dict]) -> list[dict]:
    """The entries of an upload's top manifest: every full run of ``max_entries`` segments goes behind a
    nested manifest, the rest stay as they are (so an upload of up to ``max_entries`` squared segments
    fits; Swift expands nested manifests on read and removes them with the top one).

    :param put_manifest: writes a manifest of the given entries under the given name in the segment
        container, and returns its entry for the manifest above (:func:`slo_entry`).
    """
    if len(entries) <= max_entries:
        return entries
    full = len(entries) // max_entries * max_entries
    nested = [put_manifest(nested_manifest_name(upload, start // max_entries), entries[start:start + max_entries])
              for start in range(0, full, max_entries)]
    return nested + entries[full:]


def ensure_segment_container(conn, container: str, segment_container: str) -> None:
    """Create the segment container when it is missing, with the data container's storage policy."""
    try:
        conn.head_container(segment_container)
    except ClientException as err:
        if err.http_status == 404:
            policy = conn.head_container(container).get("x-storage-policy")
            conn.put_container(segment_container, headers={"X-Storage-Policy": policy} if policy else None)
        elif err.http_status != 403:  # a user with an ACL may write where it may not look
            raise


class SegmentedObjects:
    """The SLO half of :class:`~airflow_datastores.stores.swift.SwiftStore`, which mixes it in and
    provides what it uses: ``conn``, ``container``, ``segment_container``, ``prefix``, ``root``, ``url_for``,
    ``_put``, ``_pages``, ``_info``, ``_errors``, ``_memory`` and ``_segment_container_ready``."""

    def _segments(self, container: str, name: str) -> list[tuple[int, str]] | None:
        """``(size, md5)`` of every segment of an SLO, nested manifests expanded; ``None`` when a
        segment is a byte range of another object (no checksum of its bytes then)."""
        _headers, body = self.conn.get_object(container, name, query_string="multipart-manifest=get")
        found: list[tuple[int, str]] = []
        for entry in json.loads(body):
            if entry.get("range"):
                return None
            if entry.get("sub_slo"):
                sub_container, _, sub_name = entry["name"].lstrip("/").partition("/")
                nested = self._segments(sub_container, sub_name)
                if nested is None:
                    return None
                found.extend(nested)
            else:
                found.append((int(entry["bytes"]), entry["hash"].strip('"').lower()))
        return found

    def _put_large(self, key: str, name: str, first: list[bytes], data: BinaryIO, *, segment_size: int,
                   max_entries: int) -> ObjectInfo:
        """Segments of ``segment_size`` sent in parallel (:func:`~airflow_datastores.stores.parts.send_parts`,
        within the store's memory budget; ``first`` holds the first segment and ``segment_size`` of the
        budget, and is emptied), then the manifest
        (nested ones for every ``max_entries`` segments). Whatever fails, no segment of this upload stays
        behind (Swift keeps them when a manifest is refused)."""
        try:
            self._ensure_segment_container()
        except BaseException:
            self._memory.release(segment_size)
            raise
        upload = new_upload(name)

        def send(number: int, segment: bytes) -> dict:
            path = segment_name(upload, number - 1)
            etag = self._put(self.segment_container, path, segment, key=key, what=f"upload segment {number}")
            return self._entry(path, etag, len(segment))

        try:
            entries = send_parts(first, data, part_size=segment_size, budget=self._memory, send=send,
                                 name="swift-segment")
            entries = nest_manifests(entries, upload=upload, max_entries=max_entries,
                                     put_manifest=lambda path, part: self._put_manifest(key, path, part))
            manifest, etag = json.dumps(entries), _slo_etag(entries)
            self._put(self.container, name, manifest, key=key, what="commit", query_string=MANIFEST_PUT)
        except BaseException:
            self._delete_upload(upload)
            raise
        return self._info(key, size=sum(e["size_bytes"] for e in entries), etag=etag, whole=False)

    def _put_manifest(self, key: str, path: str, entries: list[dict]) -> dict:
        """A manifest in the segment container for ``entries``, as an entry of the next manifest up."""
        etag = self._put(self.segment_container, path, json.dumps(entries), key=key, query_string=MANIFEST_PUT)
        return self._entry(path, etag, sum(e["size_bytes"] for e in entries))

    def _entry(self, path: str, etag: str, size: int) -> dict:
        return slo_entry(self.segment_container, path, etag, size)

    def _ensure_segment_container(self) -> None:
        """Create the segment container on first use."""
        if not self._segment_container_ready:
            ensure_segment_container(self.conn, self.container, self.segment_container)
            self._segment_container_ready = True

    def _delete_upload(self, upload: str) -> None:
        """Best effort: remove every segment and nested manifest of one upload."""
        try:
            for name in [item["name"] for item in self._pages(self.segment_container, f"{upload}/")]:
                self.conn.delete_object(self.segment_container, name)
        except (ClientException, OSError):
            pass

    def leftovers(self, prefix: str = "") -> Iterator[Leftover]:
        """Segments of uploads whose manifest was never written (a writer killed mid-upload, or a manifest
        refused with 412, which leaves its segments): groups ``<object name>/<upload id>/`` in the
        segment container that no SLO of the data container points into."""
        group: list[dict] = []
        with self._errors(prefix):
            try:
                for item in self._pages(self.segment_container, self.prefix + check_key(prefix)):
                    if group and upload_of(item["name"]) != upload_of(group[0]["name"]):
                        yield from self._unreferenced(group)
                        group = []
                    if upload_of(item["name"]):
                        group.append(item)
            except ClientException as err:
                if err.http_status != 404:  # no segment container: nothing was ever segmented
                    raise
            yield from self._unreferenced(group)

    def _unreferenced(self, group: list[dict]) -> Iterator[Leftover]:
        """The leftover of one upload's segments, unless an SLO of the data container uses them."""
        if not group:
            return
        name, upload = upload_of(group[0]["name"])
        try:
            headers = self.conn.head_object(self.container, name)
            if headers.get("x-static-large-object", "").lower() == "true":
                _headers, body = self.conn.get_object(self.container, name, query_string="multipart-manifest=get")
                mark = f"/{self.segment_container}/{name}/{upload}/"
                if any(entry.get("name", "").startswith(mark) for entry in json.loads(body)):
                    return  # committed: these segments are the object's bytes
        except ClientException as err:
            if err.http_status != 404:
                raise
        key = name[len(self.prefix):]
        times = [t for t in (parse_time(item.get("last_modified")) for item in group) if t is not None]
        yield Leftover(kind="segments", url=f"{self.url_for(key)} (segments {upload})",
                       size=sum(int(item["bytes"]) for item in group), modified=max(times, default=None), key=key,
                       pieces=len(group), ref=f"{name}/{upload}/")

    def remove_leftover(self, leftover: Leftover) -> None:
        """Delete every segment (and nested manifest) of one unfinished upload."""
        if not upload_of(leftover.ref + "x") or not leftover.ref.startswith(self.prefix):
            raise DataStoreError(f"{leftover.url}: not an upload's segments in this store ({self.root}); "
                                 "nothing removed")
        with self._errors(leftover.key or ""):
            try:
                names = [item["name"] for item in self._pages(self.segment_container, leftover.ref)]
            except ClientException as err:
                if err.http_status == 404:
                    return
                raise
            for name in names:
                try:
                    self.conn.delete_object(self.segment_container, name)
                except ClientException as err:
                    if err.http_status != 404:
                        raise


def _slo_etag(entries: list[dict]) -> str:
    """Swift's ETag of an SLO: the md5 of its entries' ETags."""
    return md5_hex("".join(entry["etag"] for entry in entries).encode())


def parse_time(value: str | None) -> datetime | None:
    """A time as Swift states it: ISO in UTC in listings (segments' too), RFC 1123 in headers."""
    if not value:
        return None
    try:
        if "T" in value:  # listings: 2026-11-25T03:21:45.123450, in UTC
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
