"""The records a task leaves behind, read by XCom, manifests, the CLI and the dashboard.

:class:`FileRecord` is the one value type of a file with content: where it is, how big, and its
md5, sha1 and sha256. :class:`InputRecord` (a staged input) and :class:`FileEntry` (a file of a
version) extend it, so a field added here reaches every layer. Their JSON form is ``to_dict()``.
Nothing here imports Airflow, a cloud SDK or a store: the dashboard may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

#: XCom key of a task's input records (a list of :class:`InputRecord` dicts).
XCOM_INPUTS = "datastore_inputs"
#: XCom key of a step's committed version (``Version.to_record()``).
XCOM_OUTPUTS = "datastore_outputs"
#: The execution metadata a step printed (:mod:`airflow_datastores.execution_metadata`): last values, series.
XCOM_METADATA = "datastore_metadata"


@dataclass(kw_only=True)
class FileRecord:
    """A file with content.

    :param path: where the file is: relative to the inputs directory (a staged input) or to the
        version (a file of a version).
    :param size: size in bytes.
    :param md5: lower-case hex digest, as are ``sha1`` and ``sha256``.
    """

    path: str
    size: int
    md5: str
    sha1: str
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping):
        """The record of ``data``, ignoring keys this version of the provider does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(kw_only=True)
class InputRecord(FileRecord):
    """What one staged file was: the JSON record pushed to XCom as ``datastore_inputs``.

    :param name: the input's name.
    :param url: where the bytes came from (never carries credentials).
    :param identity: the store's identity of the object (ETag, generation, ...).
    :param source: what stays the same across runs for change detection: the URL, or for a file of
        an upstream version ``datastore://<dag>/<task>/<path>``.
    :param verified: what the bytes were checked against when downloaded: ``"s3:crc64nvme"``,
        ``"gcs:md5"``, ``"swift:segments"``, ``"manifest:sha256"``, or ``"size"`` when the store
        vouches for nothing more.
    :param changed: ``None`` on first use, then whether the sha256 differs from the previous run's
        record of the same source (see :mod:`airflow_datastores.inputs.changes`).
    :param version_id: for a file of a committed version, that version (a reference's ``latest`` or
        alias resolved when the task started); ``alias`` the alias the input named, if any.
    :param tags: for a file of a committed version, its tags; ``properties`` its JSON properties (from
        the sidecar it was committed with).
    """

    name: str
    url: str
    identity: str
    source: str = ""
    verified: str = "size"
    cached: bool = False
    changed: bool | None = None
    previous_sha256: str | None = None
    previous_run_id: str | None = None
    run_id: str | None = None
    version_id: str | None = None
    alias: str | None = None
    tags: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)


@dataclass(kw_only=True)
class FileEntry(FileRecord):
    """One file of a version; ``key`` is where its bytes are below the store's root; ``tags`` and
    ``properties`` come from its ``<file>.metadata.json`` sidecar."""

    key: str = ""
    tags: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)
