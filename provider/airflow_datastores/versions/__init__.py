"""Versioned outputs: immutable versions of a task's outputs, committed by a create-only manifest write.

* :mod:`.manifest` -- :class:`Version`, :class:`Producer`, listing and reading versions, and looking
  them up by reference
* :mod:`.references` -- the ``datastore://`` reference syntax
* :mod:`.commit` -- :func:`snapshot`: upload an outputs directory and commit it
* :mod:`.verify` -- :func:`verify_version`, :func:`diff_versions`
* :mod:`.retention` -- :func:`purge`: keep-last, older-than, by id, and leftovers of killed attempts
"""

from __future__ import annotations

from airflow_datastores.versions.commit import collect_outputs, snapshot
from airflow_datastores.versions.manifest import (
    MANIFESTS,
    Producer,
    Selection,
    Version,
    VersionSummary,
    latest_version,
    list_versions,
    load_version,
    manifest_key,
    resolve_reference,
    slug,
)
from airflow_datastores.versions.references import REFERENCE_SCHEME, Reference, make_reference, parse_reference
from airflow_datastores.versions.retention import PurgeItem, PurgeResult, PurgeRule, purge
from airflow_datastores.versions.verify import VerifyReport, VersionDiff, diff_versions, verify_version

__all__ = [
    "MANIFESTS",
    "REFERENCE_SCHEME",
    "Producer",
    "PurgeItem",
    "PurgeResult",
    "PurgeRule",
    "Reference",
    "Selection",
    "VerifyReport",
    "Version",
    "VersionDiff",
    "VersionSummary",
    "collect_outputs",
    "diff_versions",
    "latest_version",
    "list_versions",
    "load_version",
    "make_reference",
    "manifest_key",
    "parse_reference",
    "purge",
    "resolve_reference",
    "slug",
    "snapshot",
    "verify_version",
]
