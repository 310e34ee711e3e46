"""The dashboard's FastAPI app: three pages and the JSON behind them. Every route needs a logged-in
Airflow user (the API server's JWT cookie or a bearer token)."""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse

from airflow_datastores.plugin import data
from airflow_datastores.units import human_size

PREFIX = "/datastores"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f7f9fb}
header{background:#017cee;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none;opacity:.85}header a.on{opacity:1;font-weight:600;border-bottom:2px solid #fff}
header h1{font-size:17px;margin:0 16px 0 0}main{padding:20px 24px}
h2{font-size:16px;margin:22px 0 8px}table{border-collapse:collapse;width:100%;background:#fff;
box-shadow:0 1px 2px #0001;margin-bottom:12px}th,td{padding:7px 10px;border-bottom:1px solid #e4e7eb;
text-align:left;vertical-align:top}th{background:#eef2f6;font-weight:600;font-size:13px}
td.num{text-align:right;white-space:nowrap}code{font:12px ui-monospace,Menlo,monospace;word-break:break-all}
.ok{color:#0a7d32;font-weight:600}.bad{color:#c62828;font-weight:600}.muted{color:#6b7785}
form{margin:0 0 12px}input{padding:4px 8px;border:1px solid #cbd2d9;border-radius:4px}
button{padding:4px 12px;border:0;border-radius:4px;background:#017cee;color:#fff}
details summary{cursor:pointer;color:#017cee}.pager a{margin-right:12px}
"""


def _page(title: str, active: str, body: str) -> HTMLResponse:
    nav = "".join(
        f'<a href="{PREFIX}/{path}" class="{"on" if path == active else ""}">{label}</a>'
        for path, label in (("", "Overview"), ("versions", "Versions"), ("changes", "Input changes"))
    )
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} - Data stores</title>"
        f"<style>{_CSS}</style></head><body><header><h1>Data stores</h1>{nav}</header>"
        f"<main>{body}</main></body></html>"
    )


def _short(sha: str | None) -> str:
    return f'<code title="{escape(sha or "")}">{escape(sha or "-")}</code>'


def _ti_link(dag_id: str, run_id: str, task_id: str) -> str:
    href = f"/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}"
    return f'<a href="{href}" target="_top">{escape(run_id)}</a>'


def _pager(path: str, page: int, total: int, **params: str | None) -> str:
    pages = max(1, -(-total // data.PAGE_SIZE))
    links = []
    for label, target in (("&larr; newer", page - 1), ("older &rarr;", page + 1)):
        if 1 <= target <= pages:
            query = urlencode({**{k: v for k, v in params.items() if v}, "page": target})
            links.append(f'<a href="{PREFIX}/{path}?{query}">{label}</a>')
    return f'<p class="pager muted">page {page} of {pages} ({total} in all) {" ".join(links)}</p>'


def _changes_table(items: list[dict]) -> str:
    if not items:
        return '<p class="muted">No input has changed between runs.</p>'
    rows = "".join(
        f"<tr><td>{escape(c['when'] or '-')}</td><td>{escape(c['dag_id'])}</td><td>{escape(c['task_id'])}</td>"
        f"<td><b>{escape(c['input'] or '')}</b></td><td><code>{escape(c['url'] or '')}</code></td>"
        f"<td>{_short(c['old_sha256'])}</td><td>{_short(c['new_sha256'])}</td>"
        f"<td>{_ti_link(c['dag_id'], c['run_id'], c['task_id'])}</td></tr>"
        for c in items
    )
    return ("<table><tr><th>When</th><th>DAG</th><th>Task</th><th>Input</th><th>URL</th><th>Old sha256</th>"
            f"<th>New sha256</th><th>Run</th></tr>{rows}</table>")


def create_app() -> FastAPI:
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(title="airflow-datastores dashboard", dependencies=[Depends(get_user)],
                  docs_url=None, redoc_url=None)

    @app.get("/api/stores")
    def api_stores() -> list[dict]:
        return [asdict(s) for s in data.stores()]

    @app.get("/api/versions")
    def api_versions(dag_id: str | None = None, task_id: str | None = None, page: int = Query(1, ge=1)) -> dict:
        return data.versions(dag_id=dag_id, task_id=task_id, page=page)

    @app.get("/api/changes")
    def api_changes(dag_id: str | None = None, page: int = Query(1, ge=1)) -> dict:
        return data.changes(dag_id=dag_id, page=page)

    @app.get("/", response_class=HTMLResponse)
    def overview() -> HTMLResponse:
        rows = "".join(
            f"<tr><td><b>{escape(s.name)}</b></td><td>{escape(s.kind)}</td><td><code>{escape(s.location)}</code></td>"
            f"<td>{'<span class=ok>reachable</span>' if s.reachable else '<span class=bad>unreachable</span>'}"
            f"{'' if s.reachable else '<br><span class=muted>' + escape(s.error or '') + '</span>'}</td>"
            f"<td class=num>{s.versions}</td><td class=num>{human_size(s.bytes)}</td></tr>"
            for s in data.stores()
        )
        latest = data.changes(page=1)["changes"][:10]
        body = ("<h2>Stores</h2><table><tr><th>Store</th><th>Type</th><th>Location</th><th>Status</th>"
                f"<th>Versions</th><th>Size</th></tr>{rows}</table>"
                f"<h2>Latest input changes</h2>{_changes_table(latest)}")
        return _page("Overview", "", body)

    @app.get("/versions", response_class=HTMLResponse)
    def versions_page(dag_id: str | None = None, task_id: str | None = None,
                      page: int = Query(1, ge=1)) -> HTMLResponse:
        result = data.versions(dag_id=dag_id, task_id=task_id, page=page)
        form = (f'<form><input name="dag_id" placeholder="DAG" value="{escape(dag_id or "")}"> '
                f'<input name="task_id" placeholder="Task" value="{escape(task_id or "")}"> <button>Filter</button></form>')
        rows = []
        for v in result["versions"]:
            files = "".join(f"<tr><td><code>{escape(f['path'])}</code></td><td class=num>{human_size(f['size'])}</td>"
                            f"<td>{_short(f['sha256'])}</td></tr>" for f in v["files"])
            rows.append(
                f"<tr><td><b>{escape(v['dag_id'])}.{escape(v['task_id'])}</b><br><code>{escape(v['version_id'])}</code></td>"
                f"<td>{_ti_link(v['dag_id'], v['run_id'], v['task_id'])}</td><td>{escape(v['committed_at'] or '-')}</td>"
                f"<td class=num>{human_size(v['total_size'] or 0)}</td><td class=num>{v['file_count']}</td>"
                f"<td><details open><summary>files</summary><table><tr><th>Path</th><th>Size</th><th>sha256</th></tr>"
                f"{files}</table></details></td></tr>")
        table = ("<table><tr><th>Version</th><th>Run</th><th>Committed</th><th>Size</th><th>Files</th><th></th></tr>"
                 + "".join(rows) + "</table>") if rows else '<p class="muted">No versions yet.</p>'
        return _page("Versions", "versions", form + table + _pager("versions", page, result["total"],
                                                                    dag_id=dag_id, task_id=task_id))

    @app.get("/changes", response_class=HTMLResponse)
    def changes_page(dag_id: str | None = None, page: int = Query(1, ge=1)) -> HTMLResponse:
        result = data.changes(dag_id=dag_id, page=page)
        form = (f'<form><input name="dag_id" placeholder="DAG" value="{escape(dag_id or "")}"> '
                "<button>Filter</button></form>")
        return _page("Input changes", "changes", form + _changes_table(result["changes"])
                     + _pager("changes", page, result["total"], dag_id=dag_id))

    return app
