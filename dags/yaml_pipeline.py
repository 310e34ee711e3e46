"""The YAML pipelines in pipelines/weather.yaml, as DAGs (the dag-processor reads this file)."""

from airflow_datastores import load_pipelines

dags = load_pipelines("pipelines/weather.yaml", namespace=globals())
