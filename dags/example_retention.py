"""Retention: every day, keep the last 10 versions of every task and remove crashed attempts' files.

Versions are never overwritten and stay until purged; this DAG is how they get purged on a schedule.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_datastores import PurgeVersionsOperator

with DAG(
    dag_id="datastores_retention",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["datastores", "example"],
    doc_md=__doc__,
):
    PurgeVersionsOperator(
        task_id="purge_old_versions",
        keep_last=10,
        orphans_older_than=timedelta(hours=24),
    )
