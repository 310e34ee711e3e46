"""Example pipeline with classic operators: the same steps as shell commands.

``DatastoreStepOperator`` stages the inputs, runs the command with ``$DATASTORE_INPUTS`` /
``$DATASTORE_OUTPUTS`` (and ``$DATASTORE_INPUT_<NAME>``) set, then commits what the command wrote as a
new version. ``outputs_of(step, "*.csv")`` makes the next step stage exactly that version.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from example_data import data_dir

from airflow_datastores import DatastoreStepOperator, outputs_of

DATA = data_dir()

with DAG(
    dag_id="datastores_example_classic",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["datastores", "example"],
    doc_md=__doc__,
):
    merge = DatastoreStepOperator(
        task_id="merge_readings",
        inputs={"readings": f"file://{DATA}/raw/*.csv"},
        command=[
            'echo "merging $(ls "$DATASTORE_INPUT_READINGS" | wc -l) files"',
            'head -n 1 "$DATASTORE_INPUT_READINGS/station-a.csv" > "$DATASTORE_OUTPUTS/all.csv"',
            'for f in "$DATASTORE_INPUT_READINGS"/*.csv; do tail -n +2 "$f"; done >> "$DATASTORE_OUTPUTS/all.csv"',
        ],
    )
    count = DatastoreStepOperator(
        task_id="count_rows",
        inputs={"merged": outputs_of(merge, "all.csv")},
        command='wc -l < "$DATASTORE_INPUT_MERGED/all.csv" > "$DATASTORE_OUTPUTS/rows.txt"',
        skip_if_unchanged=True,
    )
