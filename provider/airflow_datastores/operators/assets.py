"""What a DAG author uses to wire steps together: the asset a step publishes its versions as, and
:func:`outputs_of`, the input that stages what an earlier step commits in the same run."""

from __future__ import annotations

from typing import Any

from airflow_datastores.records import XCOM_OUTPUTS


def datastore_asset(dag_id: str, task_id: str):
    """The Airflow asset a step's versions are published as (one per DAG and task)."""
    from airflow.sdk import Asset

    # The URI's "x-" scheme is one Airflow leaves alone: any other makes it load every provider's URI
    # handlers (and with them boto3, the Google and Azure SDKs) while the DAG is parsed.
    return Asset(uri=f"x-datastore://{dag_id}/{task_id}", name=f"datastore://{dag_id}/{task_id}")


def outputs_of(task: Any, path: str = "") -> dict:
    """An input that stages exactly the version ``task`` commits in the same DAG run.

    :param task: the upstream step: an operator, or what calling a ``@task.datastore`` function
        returned.
    :param path: a file or wildcard inside the version (default: all of it).

    Passing it as an input also makes ``task`` an upstream of the consuming step.
    """
    from airflow.sdk import XComArg

    operator = getattr(task, "operator", task)
    return {"version": XComArg(operator, key=XCOM_OUTPUTS), "path": path}
