"""Example: aliases, tags and properties, datasets and reuse, in three steps.

``fit`` reuses its earlier version when its inputs, parameters and command are the same (``reuse``),
labels what it writes (``tags=``, and a ``model.json.metadata.json`` sidecar with a tag and an
accuracy), adds the model to the dataset version ``models/<run>`` and moves its ``candidate`` alias to
the new version. ``serve`` reads the model by alias (``datastore://…/fit/@candidate``), and ``report``
reads the newest dataset version (``dataset://models/latest``). Look at the result with
``airflow-datastores alias ls``, ``airflow-datastores versions --tag example``,
``airflow-datastores dataset ls``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from example_data import data_dir

from airflow_datastores import DatastoreStepOperator

DATA = data_dir()
SIDECAR = '{"valohai.tags": ["fitted"], "accuracy": 0.93}'

with DAG(
    dag_id="datastores_example_catalog",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["datastores", "example"],
    doc_md=__doc__,
) as catalog:
    fit = DatastoreStepOperator(
        task_id="fit",
        inputs={"readings": f"file://{DATA}/raw/*.csv"},
        command=[
            'cat "$DATASTORE_INPUT_READINGS"/*.csv | wc -l | xargs printf \'{"rows": %s}\' > "$DATASTORE_OUTPUTS/model.json"',
            f"echo '{SIDECAR}' > \"$DATASTORE_OUTPUTS/model.json.metadata.json\"",
        ],
        reuse=True,
        tags=["example"],
        properties={"owner": "data-team"},
        dataset_version="models/{{ logical_date.strftime('%Y%m%dT%H%M%S.%f') }}",
        promote="candidate",
    )
    serve = DatastoreStepOperator(
        task_id="serve",
        inputs={"model": "datastore://datastores_example_catalog/fit/@candidate/model.json"},
        command='cat "$DATASTORE_INPUT_MODEL/model.json"',
    )
    report = DatastoreStepOperator(
        task_id="report",
        inputs={"models": "dataset://models/latest"},
        command='ls -R "$DATASTORE_INPUT_MODELS" > "$DATASTORE_OUTPUTS/models.txt"',
    )
    fit >> [serve, report]
