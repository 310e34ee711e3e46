"""Inputs: named inputs staged into a task's inputs directory, hashed, verified and change-checked.

* :mod:`.spec` -- :class:`Input`, :func:`parse_inputs`: the input-spec language
* :mod:`.resolve` -- :func:`resolve_inputs`: URLs, wildcards and references -> :class:`SourceFile`
* :mod:`.transfer` -- one object read (resumed, pinned), hashed and verified in one pass
* :mod:`.stage` -- :func:`stage_inputs`, :func:`stage_files`: the cache first, then transfers
* :mod:`.cache` -- :class:`InputCache`: a worker-local cache keyed by the store's identity
* :mod:`.changes` -- change detection against the previous run's records; warn, fail or skip
"""

from __future__ import annotations

from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.changes import POLICIES, ChangeReport, apply_policy, compare
from airflow_datastores.inputs.resolve import SourceFile, resolve_inputs
from airflow_datastores.inputs.spec import KEEP_DIRECTORIES, Input, parse_inputs
from airflow_datastores.inputs.stage import StagingResult, stage_files, stage_inputs
from airflow_datastores.records import InputRecord

__all__ = [
    "KEEP_DIRECTORIES",
    "POLICIES",
    "ChangeReport",
    "Input",
    "InputCache",
    "InputRecord",
    "SourceFile",
    "StagingResult",
    "apply_policy",
    "compare",
    "parse_inputs",
    "resolve_inputs",
    "stage_files",
    "stage_inputs",
]
