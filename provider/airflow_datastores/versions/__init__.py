"""Versioned outputs: immutable versions of a task's outputs, committed by a create-only manifest write.

* :mod:`.manifest` -- :class:`Version`, :class:`Producer`, listing and reading versions
* :mod:`.references` -- the ``datastore://`` and ``alias://`` syntax
* :mod:`.lookup` -- :func:`resolve_reference`: the files a reference names (``latest`` and aliases resolved)
* :mod:`.aliases` -- mutable names for versions, moved by create-only appends to their history
* :mod:`.commit` -- :func:`snapshot`: upload an outputs directory and commit it
* :mod:`.verify` -- :func:`verify_version`, :func:`diff_versions`
* :mod:`.retention` -- :func:`purge`: keep-last, older-than, by id, and leftovers of killed attempts
"""

from __future__ import annotations

from airflow_datastores.versions.aliases import AliasEntry, history, list_aliases, set_alias
from airflow_datastores.versions.commit import collect_outputs, snapshot
from airflow_datastores.versions.lookup import Selection, resolve_reference
from airflow_datastores.versions.manifest import (
    MANIFESTS,
    Producer,
    Version,
    VersionSummary,
    latest_version,
    list_versions,
    load_version,
    manifest_key,
    slug,
)
from airflow_datastores.versions.references import REFERENCE_SCHEME, Reference, make_reference, parse_reference
from airflow_datastores.versions.retention import PurgeItem, PurgeResult, PurgeRule, purge
from airflow_datastores.versions.verify import VerifyReport, VersionDiff, diff_versions, verify_version

__all__ = [
    "AliasEntry",
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
    "history",
    "latest_version",
    "list_aliases",
    "list_versions",
    "load_version",
    "make_reference",
    "manifest_key",
    "parse_reference",
    "purge",
    "resolve_reference",
    "set_alias",
    "slug",
    "snapshot",
    "verify_version",
]
