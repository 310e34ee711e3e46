"""Airflow 3 glue: the plugin registers the FastAPI app and a link under Browse."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_datastores.plugin.app import create_app


class DatastoresPlugin(AirflowPlugin):
    """Serves the dashboard at ``/datastores`` of the API server, linked from Browse."""

    name = "datastores"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/datastores", "name": "Data stores"}]
    external_views = [
        {
            "name": "Data stores",
            "href": "/datastores/",
            "destination": "nav",
            "category": "browse",
            "url_route": "datastores",
        }
    ]
