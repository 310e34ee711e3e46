"""Airflow operators: thin shells over the staging, versioning and retention modules."""

from airflow_datastores.operators.assets import outputs_of
from airflow_datastores.operators.purge import PurgeVersionsOperator
from airflow_datastores.operators.snapshot import SnapshotOutputsOperator
from airflow_datastores.operators.stage import StageInputsOperator
from airflow_datastores.operators.step import DatastoreStepOperator
from airflow_datastores.records import XCOM_INPUTS, XCOM_METADATA, XCOM_OUTPUTS

__all__ = [
    "XCOM_INPUTS",
    "XCOM_METADATA",
    "XCOM_OUTPUTS",
    "DatastoreStepOperator",
    "PurgeVersionsOperator",
    "SnapshotOutputsOperator",
    "StageInputsOperator",
    "outputs_of",
]
