"""The bytes of a create-only write, gathered for its one request.

A create-only write (a manifest, an alias entry, a dataset version, a lock) must be ONE request that
the server makes atomic: a PUT with ``If-None-Match: *`` (or its kind), never a conditional multipart
complete, which SeaweedFS and Ceph RGW do not make atomic (two racing completes both won). A single
request states its length and its checksum before its body, so the stream is read into a spool first,
its checksums computed as it is read: in memory up to :data:`IN_MEMORY`, in a temporary file beyond.
The request then streams from the spool (and rewinds it when the retry policy repeats it).
"""

from __future__ import annotations

import tempfile
from typing import BinaryIO

from airflow_datastores.errors import DataStoreError
from airflow_datastores.hashing import new_checksum
from airflow_datastores.stores.base import CHUNK_SIZE
from airflow_datastores.units import human_size

#: Bytes a spool holds in memory before it moves to a temporary file.
IN_MEMORY = 16 * 1024 * 1024


class Spool:
    """``data`` read whole, up to ``limit`` bytes, with the checksums a single request carries.

    :param data: the stream to write (read until it returns ``b""``).
    :param limit: the most the server takes in one request; more is an error, before anything is sent.
    :param url: what is written (named in the error).
    :param checksums: algorithms to compute while spooling (``md5``, ``crc64nvme``, ``crc32c`` ...).

    Use it as a context manager; the temporary file goes when the block ends.
    """

    def __init__(self, data: BinaryIO, *, limit: int, url: str, checksums: tuple[str, ...] = ()) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY, prefix="datastores-create-")
        self.size = 0
        self._checksums = {name: new_checksum(name) for name in checksums}
        try:
            while chunk := data.read(CHUNK_SIZE):
                self.size += len(chunk)
                if self.size > limit:
                    raise DataStoreError(
                        f"{url}: a create-only write is one request, and this store takes at most "
                        f"{human_size(limit)} in one; this one is larger. Nothing was written. Write a "
                        "large object without create_only (under a key unique to the writer), and commit "
                        "it with a small create-only record")
                self.file.write(chunk)
                for checksum in self._checksums.values():
                    checksum.update(chunk)
        except BaseException:
            self.file.close()
            raise
        self.rewind()

    def rewind(self) -> BinaryIO:
        """The spool from its first byte (for the request, and again for each retry)."""
        self.file.seek(0)
        return self.file

    def digest(self, name: str) -> bytes:
        """The checksum ``name`` of the whole spool (one of those asked for)."""
        return self._checksums[name].digest()

    def hexdigest(self, name: str) -> str:
        return self._checksums[name].hexdigest()

    def read_all(self) -> bytes:
        """The whole content, for an SDK that sends a single request only from bytes in memory."""
        return self.rewind().read()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
