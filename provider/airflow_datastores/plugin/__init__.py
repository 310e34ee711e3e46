"""The dashboard: a page inside the Airflow UI for stores, versions and changed inputs."""

from airflow_datastores.plugin.airflow3 import DatastoresPlugin

__all__ = ["DatastoresPlugin"]
