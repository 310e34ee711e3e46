"""The dashboard's FastAPI app: its pages and the JSON behind each.

Every route needs an authenticated Airflow user (the app-wide ``authenticated`` dependency: the API
server's JWT cookie or a bearer token), and shows only DAGs the user may read. The app gets the API
server's security and session dependencies from :mod:`airflow_datastores.plugin.airflow3`.
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations, which name locals.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response

from airflow_datastores.errors import NotFound
from airflow_datastores.plugin import catalog, data, probes, views
from airflow_datastores.records import XCOM_INPUTS, XCOM_METADATA

OVERVIEW_CHANGES = 10  # latest changes on the overview


def _stores(db, dags) -> list[dict]:
    """Each known store with its reachability and the versions and bytes the database knows of."""
    totals = data.store_totals(db, dags=dags)
    refs, config_error = probes.known_stores(totals)
    errors = probes.reachability(refs)
    result = []
    for ref in refs:
        total = totals.get(ref.url, {})
        result.append({**probes.describe(ref), "reachable": errors[ref.url] is None, "error": errors[ref.url],
                       "versions": total.get("versions", 0), "bytes": total.get("bytes", 0),
                       "latest_version_at": total.get("latest")})
    if config_error:
        result.append({"name": "[datastores] stores", "kind": "configuration", "location": None,
                       "conn_id": None, "default": False, "configured": True, "reachable": False,
                       "error": config_error, "versions": 0, "bytes": 0, "latest_version_at": None})
    return result

def _store_names() -> dict[str, str]:
    refs, _ = probes.known_stores()
    return {ref.url: ref.name for ref in refs}

def _versions(db, dags, dag_id, task_id, page) -> dict:
    result = data.versions(db, dags=dags, dag_id=dag_id, task_id=task_id, page=page)
    names = _store_names()
    badges = catalog.alias_badges({v["store"] for v in result["versions"] if v["store"]})
    for version in result["versions"]:
        version["store_name"] = names.get(version["store"])
        version["aliases"] = badges.get((version["store"], version["dag_id"], version["task_id"],
                                         version["version_id"]), [])
    return result


def _trace(db, dags, store, dag_id, task_id, version, path, depth, width) -> dict:
    try:
        ref = catalog.find_store(store, recorded=list(data.store_totals(db, dags=dags)))
        return catalog.trace(ref, dag_id=dag_id, task_id=task_id, version_id=version, path=path, dags=dags,
                             depth=depth, width=width)
    except NotFound as err:
        raise HTTPException(404, str(err)) from None


def create_app(*, authenticated: Any, readable_dags: Callable[..., set[str] | None],
               session: Callable[..., Any], url_prefix: str) -> FastAPI:
    """:param authenticated: ``Depends(...)`` that fails with 401 unless a user is logged in."""
    app = FastAPI(title="airflow-datastores dashboard", dependencies=[authenticated],
                  docs_url=None, redoc_url=None, openapi_url=None)  # no route is left open
    Dags = Annotated[set[str] | None, Depends(readable_dags)]
    Db = Annotated[Any, Depends(session)]
    Page = Annotated[int, Query(ge=1, le=1_000_000)]

    @app.get("/api/stores", summary="Each store: where, whether it answers, versions and bytes")
    def api_stores(db: Db, dags: Dags) -> list[dict]:
        return _stores(db, dags)

    @app.get("/api/versions", summary="Versions, newest first, with their files")
    def api_versions(db: Db, dags: Dags, dag_id: str | None = None, task_id: str | None = None,
                     page: Page = 1) -> dict:
        return _versions(db, dags, dag_id, task_id, page)

    @app.get("/api/changes", summary="Inputs that changed between runs, newest first")
    def api_changes(db: Db, dags: Dags, dag_id: str | None = None, page: Page = 1) -> dict:
        return data.changes(db, dags=dags, dag_id=dag_id, page=page)

    @app.get("/api/metadata", summary="Task runs that printed execution metadata: last values and series")
    def api_metadata(db: Db, dags: Dags, dag_id: str | None = None, task_id: str | None = None,
                     page: Page = 1) -> dict:
        return data.metadata(db, dags=dags, dag_id=dag_id, task_id=task_id, page=page)

    @app.get("/api/openapi.json", include_in_schema=False)
    def api_schema() -> dict:
        return app.openapi()

    @app.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, db: Db, dags: Dags) -> Response:
        latest = data.changes(db, dags=dags, page=1, page_size=OVERVIEW_CHANGES)
        return views.render(request, "overview.html", url_prefix=url_prefix, active="overview",
                            api="api/stores", stores=_stores(db, dags),
                            changes=latest["changes"][:OVERVIEW_CHANGES],
                            changed_runs=data.count_changed_runs(db, dags=dags))

    @app.get("/versions", response_class=HTMLResponse)
    def versions_page(request: Request, db: Db, dags: Dags, dag_id: str | None = None,
                      task_id: str | None = None, page: Page = 1) -> Response:
        dag_id, task_id = dag_id or None, task_id or None
        return views.render(request, "versions.html", url_prefix=url_prefix, active="versions",
                            api="api/versions", result=_versions(db, dags, dag_id, task_id, page),
                            dag_id=dag_id, task_id=task_id, dag_ids=data.dag_ids(db, dags=dags),
                            task_ids=data.task_ids(db, dags=dags, dag_id=dag_id) if dag_id else [])

    @app.get("/changes", response_class=HTMLResponse)
    def changes_page(request: Request, db: Db, dags: Dags, dag_id: str | None = None,
                     page: Page = 1) -> Response:
        dag_id = dag_id or None
        return views.render(request, "changes.html", url_prefix=url_prefix, active="changes",
                            api="api/changes", result=data.changes(db, dags=dags, dag_id=dag_id, page=page),
                            dag_id=dag_id, dag_ids=data.dag_ids(db, dags=dags, key=XCOM_INPUTS))

    @app.get("/metadata", response_class=HTMLResponse)
    def metadata_page(request: Request, db: Db, dags: Dags, dag_id: str | None = None,
                      task_id: str | None = None, page: Page = 1) -> Response:
        dag_id, task_id = dag_id or None, task_id or None
        return views.render(request, "metadata.html", url_prefix=url_prefix, active="metadata",
                            api="api/metadata",
                            result=data.metadata(db, dags=dags, dag_id=dag_id, task_id=task_id, page=page),
                            dag_id=dag_id, task_id=task_id, dag_ids=data.metadata_dag_ids(db, dags=dags),
                            task_ids=data.task_ids(db, dags=dags, dag_id=dag_id, key=XCOM_METADATA) if dag_id
                            else [])

    _add_catalog_routes(app, Db=Db, Dags=Dags, url_prefix=url_prefix)

    @app.exception_handler(HTTPException)
    def not_logged_in(request: Request, exc: HTTPException) -> Response:
        """A person who is not logged in gets a page that says so and links to the login (still 401)."""
        wants_html = "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path
        if exc.status_code in (401, 403) and wants_html:
            return views.render(request, "login.html", url_prefix=url_prefix, active=None, api=None,
                                status_code=exc.status_code, detail=exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app


def _add_catalog_routes(app: FastAPI, *, Db: Any, Dags: Any, url_prefix: str) -> None:  # noqa: N803 - types
    """The pages and JSON read from the stores themselves: a version's lineage, aliases, datasets."""
    @app.get("/api/trace", summary="Where a version (or a file of it) came from, and what used it")
    def api_trace(db: Db, dags: Dags, dag_id: str, task_id: str, version: str, store: str | None = None,
                  path: str = "", depth: Annotated[int, Query(ge=1, le=10)] = 3,
                  width: Annotated[int, Query(ge=1, le=100)] = 12) -> dict:
        return _trace(db, dags, store, dag_id, task_id, version, path, depth, width)

    @app.get("/api/aliases", summary="Per store, every alias: what it names now, and its history")
    def api_aliases(db: Db, dags: Dags) -> list[dict]:
        return catalog.alias_list(dags=dags, recorded=list(data.store_totals(db, dags=dags)))

    @app.get("/api/datasets", summary="Per store, every dataset version: its files and where they came from")
    def api_datasets(db: Db, dags: Dags) -> list[dict]:
        return catalog.dataset_list(dags=dags, recorded=list(data.store_totals(db, dags=dags)))

    @app.get("/trace", response_class=HTMLResponse)
    def trace_page(request: Request, db: Db, dags: Dags, dag_id: str, task_id: str, version: str,
                   store: str | None = None, path: str = "", depth: Annotated[int, Query(ge=1, le=10)] = 3,
                   width: Annotated[int, Query(ge=1, le=100)] = 12) -> Response:
        found = _trace(db, dags, store, dag_id, task_id, version, path, depth, width)
        return views.render(request, "trace.html", url_prefix=url_prefix, active="versions", api="api/trace",
                            trace=found, store=store, path=path, depth=depth, width=width)

    @app.get("/aliases", response_class=HTMLResponse)
    def aliases_page(request: Request, db: Db, dags: Dags) -> Response:
        found = catalog.alias_list(dags=dags, recorded=list(data.store_totals(db, dags=dags)))
        return views.render(request, "aliases.html", url_prefix=url_prefix, active="aliases", api="api/aliases",
                            stores=found)

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request, db: Db, dags: Dags) -> Response:
        found = catalog.dataset_list(dags=dags, recorded=list(data.store_totals(db, dags=dags)))
        return views.render(request, "datasets.html", url_prefix=url_prefix, active="datasets",
                            api="api/datasets", stores=found)
