"""Versioned outputs: immutable versions of a task's outputs, committed by a create-only manifest write.

* :mod:`.layout` -- where a version's files and manifest are below a store's root (built and read back)
* :mod:`.manifest` -- :class:`Version`, :class:`Producer`, listing and reading versions
* :mod:`.references` -- the ``datastore://``, ``alias://``, ``dataset://`` and ``datum://`` syntax
* :mod:`.lookup` -- :func:`resolve_reference`: the files a reference names (``latest`` and aliases resolved)
* :mod:`.commit` -- :func:`snapshot`: upload an outputs directory and commit it
* :mod:`.aliases` -- mutable names for versions (or one file of one), moved by create-only appends
* :mod:`.datasets` -- named versions that list files of committed versions
* :mod:`.datums` -- Valohai ``datum://`` URLs, through ``[datastores] datums`` and aliases
* :mod:`.metadata` -- tags, properties and ``.metadata.json`` sidecars
* :mod:`.lineage` -- what a version was made from and what used it (the index commits keep)
* :mod:`.reuse` -- a step whose inputs, parameters and code match takes the earlier version
* :mod:`.verify` -- :func:`verify_version`, :func:`diff_versions`
* :mod:`.retention` -- :func:`purge`: keep-last, older-than, by id, and leftovers of killed attempts

What is exported here is the API a program uses; the rest is imported from its module.
"""

from __future__ import annotations

from airflow_datastores.versions.commit import snapshot
from airflow_datastores.versions.lookup import resolve_reference
from airflow_datastores.versions.manifest import Producer, Version, latest_version, list_versions, load_version
from airflow_datastores.versions.references import make_reference, parse_reference
from airflow_datastores.versions.retention import PurgeResult, PurgeRule, purge
from airflow_datastores.versions.verify import diff_versions, verify_version

__all__ = [
    "Producer",
    "PurgeResult",
    "PurgeRule",
    "Version",
    "diff_versions",
    "latest_version",
    "list_versions",
    "load_version",
    "make_reference",
    "parse_reference",
    "purge",
    "resolve_reference",
    "snapshot",
    "verify_version",
]
