"""The Valohai-shaped pipeline in tuning.yaml, as DAGs (the dag-processor reads this airflow DAG file)."""

from airflow_datastores import load_pipelines

dags = load_pipelines("tuning.yaml", namespace=globals())
