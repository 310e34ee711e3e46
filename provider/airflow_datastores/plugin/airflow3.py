"""Airflow 3 glue: the plugin (a FastAPI app under ``/datastores`` and a Browse link rendered inside the
Airflow UI) and the API server's security and session dependencies the app is built with."""

# No `from __future__ import annotations`: FastAPI reads the dependency annotations, which name locals.

import functools

from airflow.sdk.plugins_manager import AirflowPlugin

URL_PREFIX = "/datastores"
NAME = "Data stores"


@functools.cache
def _app():
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.common.db.common import SessionDep
    from airflow.api_fastapi.core_api.security import GetUserDep, get_user
    from fastapi import Depends
    from sqlalchemy.orm import Session

    from airflow_datastores.plugin.app import create_app

    def readable_dags(user: GetUserDep) -> set[str]:
        """DAGs this user may read: the dashboard shows versions and inputs of those only."""
        return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")

    def session(db: SessionDep) -> Session:
        return db

    return create_app(authenticated=Depends(get_user), readable_dags=readable_dags, session=session,
                      url_prefix=URL_PREFIX)


class DatastoresPlugin(AirflowPlugin):
    """Registered through the ``airflow.plugins`` entry point of ``airflow-provider-datastores``."""

    name = "datastores"
    external_views = [
        {
            "name": NAME,
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "datastores",
        }
    ]

    @property
    def fastapi_apps(self) -> list[dict]:  # built on first use: schedulers and workers never need it
        return [{"app": _app(), "url_prefix": URL_PREFIX, "name": NAME}]
