"""Data stores for Apache Airflow tasks: staged, hashed and change-checked inputs, versioned outputs.

What DAG authors use is importable from here::

    from airflow_datastores import DatastoreStepOperator, Input, Mount, outputs_of

The names load lazily: importing the package imports neither Airflow's Task SDK nor a cloud SDK, so
Airflow can read the provider's info cheaply. See docs/architecture.md for where each part lives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from airflow_datastores.provider_info import get_provider_info

__version__ = "0.1.0"

#: public name -> the module that defines it: the one table of the public surface (``__all__`` is read
#: from it; the imports under TYPE_CHECKING, for type checkers, must name the same, which a test checks)
_PUBLIC = {
    "DatastoreStepOperator": "airflow_datastores.operators.step",
    "StageInputsOperator": "airflow_datastores.operators.stage",
    "SnapshotOutputsOperator": "airflow_datastores.operators.snapshot",
    "PurgeVersionsOperator": "airflow_datastores.operators.purge",
    "outputs_of": "airflow_datastores.operators.assets",
    "datastore_asset": "airflow_datastores.operators.assets",
    "datastore_task": "airflow_datastores.decorators",
    "Input": "airflow_datastores.inputs.spec",
    "Mount": "airflow_datastores.mounts.spec",
    "load_pipelines": "airflow_datastores.pipelines",
    "make_reference": "airflow_datastores.versions.references",
    "get_store": "airflow_datastores.stores.registry",
    "XCOM_INPUTS": "airflow_datastores.records",
    "XCOM_OUTPUTS": "airflow_datastores.records",
    "XCOM_METADATA": "airflow_datastores.records",
    "log_metadata": "airflow_datastores.operators.metadata",
    "DataStoreError": "airflow_datastores.errors",
    "InvalidSpec": "airflow_datastores.errors",
    "InputChanged": "airflow_datastores.errors",
    "IntegrityError": "airflow_datastores.errors",
    "NotFound": "airflow_datastores.errors",
}

__all__ = ["__version__", "get_provider_info", *_PUBLIC]

if TYPE_CHECKING:  # the same names, for type checkers (re-exported: `name as name`)
    from airflow_datastores.decorators import datastore_task as datastore_task
    from airflow_datastores.errors import (
        DataStoreError as DataStoreError,
        InputChanged as InputChanged,
        IntegrityError as IntegrityError,
        InvalidSpec as InvalidSpec,
        NotFound as NotFound,
    )
    from airflow_datastores.inputs.spec import Input as Input
    from airflow_datastores.mounts.spec import Mount as Mount
    from airflow_datastores.operators.assets import datastore_asset as datastore_asset, outputs_of as outputs_of
    from airflow_datastores.operators.metadata import log_metadata as log_metadata
    from airflow_datastores.operators.purge import PurgeVersionsOperator as PurgeVersionsOperator
    from airflow_datastores.operators.snapshot import SnapshotOutputsOperator as SnapshotOutputsOperator
    from airflow_datastores.operators.stage import StageInputsOperator as StageInputsOperator
    from airflow_datastores.operators.step import DatastoreStepOperator as DatastoreStepOperator
    from airflow_datastores.pipelines import load_pipelines as load_pipelines
    from airflow_datastores.records import (
        XCOM_INPUTS as XCOM_INPUTS,
        XCOM_METADATA as XCOM_METADATA,
        XCOM_OUTPUTS as XCOM_OUTPUTS,
    )
    from airflow_datastores.stores.registry import get_store as get_store
    from airflow_datastores.versions.references import make_reference as make_reference


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_datastores' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
