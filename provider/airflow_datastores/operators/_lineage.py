"""OpenLineage for the operators: what a task staged and what it committed, as datasets.

Names follow the OpenLineage dataset naming spec: ``s3://<bucket>`` + key, ``gs://<bucket>`` + object,
``wasbs://<container>@<account>`` + blob, ``file`` + absolute path; Swift (not in the spec) as
``swift://<container>`` + object, HTTP(S) as ``<scheme>://<host[:port]>`` + path. User info and
query strings never reach a dataset name. The core modules know nothing of this; the operators keep
the URLs they staged and committed and hand them to :func:`operator_lineage`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_datastores.redaction import split_userinfo

log = logging.getLogger(__name__)


@dataclass
class TaskLineage:
    """What one run of a task read and wrote: plain URLs and the identities that go with them.

    :param inputs: ``(url, sha256)`` of each staged file.
    :param outputs: ``(url, version_id)`` of each committed file.
    :param conn_id: the connection of the output store (used to name an Azure account).
    """

    inputs: list[tuple[str, str | None]] = field(default_factory=list)
    outputs: list[tuple[str, str | None]] = field(default_factory=list)
    conn_id: str | None = None


def dataset_name(url: str, *, azure_account: Callable[[], str | None] = lambda: None) -> tuple[str, str]:
    """``(namespace, name)`` of the object at ``url`` under the OpenLineage naming spec.

    :param url: an object URL as staged or committed (``s3://b/k``, ``az://c/k``, ``file:///p``, ...).
    :param azure_account: returns the storage account name for ``az://`` URLs (None when unknown:
        the namespace is then ``wasbs://<container>``).
    :raises ValueError: a URL with no scheme this provider stages from.
    """
    url, _ = split_userinfo(url)
    parts = urlsplit(url)
    scheme, host, path = parts.scheme.lower(), parts.hostname or "", unquote(parts.path)
    key = path.lstrip("/")
    if scheme in ("s3", "s3a"):
        return f"s3://{host}", key
    if scheme in ("gs", "gcs"):
        return f"gs://{host}", key
    if scheme in ("az", "abfs", "wasb", "wasbs"):
        account = azure_account()
        return (f"wasbs://{host}@{account}" if account else f"wasbs://{host}"), key
    if scheme == "swift":
        return f"swift://{host}", key
    if scheme == "file":
        return "file", path
    if scheme in ("http", "https"):
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return f"{scheme}://{netloc}", path or "/"
    raise ValueError(f"{url}: no OpenLineage dataset naming for the scheme {scheme!r}")


@functools.lru_cache(maxsize=16)
def _azure_account(conn_id: str | None) -> str | None:
    try:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        return WasbHook(wasb_conn_id=conn_id or "wasb_default").get_conn().account_name
    except Exception:  # no provider or no connection: name the container alone
        log.debug("No Azure account name for connection %s", conn_id, exc_info=True)
        return None


def _datasets(pairs: Sequence[tuple[str, str | None]], *, kind: str, conn_id: str | None) -> list:
    from airflow.providers.common.compat.openlineage.facet import InputDataset, OutputDataset
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    cls = InputDataset if kind == "input" else OutputDataset
    seen: dict[tuple[str, str], Any] = {}
    for url, version in pairs:
        try:
            namespace, name = dataset_name(url, azure_account=lambda: _azure_account(conn_id))
        except ValueError as err:
            log.warning("Not reported to OpenLineage: %s", err)
            continue
        facets = {"version": DatasetVersionDatasetFacet(datasetVersion=version)} if version else {}
        seen.setdefault((namespace, name), cls(namespace=namespace, name=name, facets=facets))
    return list(seen.values())


def operator_lineage(lineage: TaskLineage | None):
    """The ``OperatorLineage`` of one task run (empty when it staged and committed nothing).

    Inputs carry their sha256 and outputs their version id as the dataset version facet.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    if lineage is None:
        return OperatorLineage()
    return OperatorLineage(
        inputs=_datasets(lineage.inputs, kind="input", conn_id=None),
        outputs=_datasets(lineage.outputs, kind="output", conn_id=lineage.conn_id),
    )


def input_pairs(records: Sequence[Mapping]) -> list[tuple[str, str | None]]:
    """``(url, sha256)`` of each input record."""
    return [(r["url"], r.get("sha256")) for r in records if r.get("url")]


def output_pairs(version: Any) -> list[tuple[str, str | None]]:
    """``(url, version_id)`` of each file of a committed ``Version``."""
    root = str(version.store or "").rstrip("/")
    return [(f"{root}/{f.key}", version.version_id) for f in version.files if f.key]


class LineageMixin:
    """``get_openlineage_facets_on_complete`` for operators that set ``_lineage`` in ``execute``."""

    _lineage: TaskLineage | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any):
        """What this run staged and committed, for the OpenLineage provider (called after execute)."""
        return operator_lineage(self._lineage)
