"""HTML for the dashboard: Jinja templates (autoescaped) in ``templates/``, and the helpers they use."""

from __future__ import annotations

import functools
from datetime import datetime
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from airflow_datastores.plugin.data import PAGE_SIZE
from airflow_datastores.units import human_size, plural


@functools.cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("airflow_datastores.plugin", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(size=lambda n: human_size(n or 0), when=when, count=lambda n: f"{n or 0:,}",
                       plural=lambda n, noun: plural(n, noun), sparkline=sparkline, number=number)
    env.globals.update(PAGE_SIZE=PAGE_SIZE)
    return env


def sparkline(points: list, *, width: int = 160, height: int = 36) -> Markup:
    """A small SVG line of ``[[line number, value], ...]`` (numbers only), with its first and last value."""
    if not points:
        return Markup("")
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    def x(v: float) -> float:
        return 2 + (v - x0) / ((x1 - x0) or 1) * (width - 4)
    def y(v: float) -> float:
        return height - 2 - (v - y0) / ((y1 - y0) or 1) * (height - 4)
    path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys, strict=True))
    title = f"{len(points)} points, from {number(ys[0])} to {number(ys[-1])} (min {number(y0)}, max {number(y1)})"
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
                  f"<title>{escape(title)}</title><polyline points=\"{path}\"/>"
                  f'<circle cx="{x(xs[-1]):.1f}" cy="{y(ys[-1]):.1f}" r="2"/></svg>')


def number(value) -> str:
    """A metadata value as a person reads it: 4 significant digits for a float."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def when(iso: str | None) -> str:
    """``2026-11-25 04:01:14 UTC`` from an ISO time (as recorded, UTC); ``-`` for none."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = moment.strftime("%Z") or "UTC"
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + ("UTC" if zone in ("UTC", "UTC+00:00") else zone)


def render(request: Request, template: str, *, url_prefix: str, active: str | None, api: str | None,
           status_code: int = 200, **context) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/")  # where the app is mounted, e.g. /datastores
    airflow = base[: -len(url_prefix)] if base.endswith(url_prefix) else ""

    def link(path: str = "", **params) -> str:
        query = urlencode({k: v for k, v in params.items()
                           if v not in (None, "") and not (k == "page" and v == 1)})
        return f"{base}/{path}" + (f"?{query}" if query else "")

    def task_instance(item: dict) -> str:
        """The task instance page of the Airflow UI."""
        url = (f"{airflow}/dags/{quote(item['dag_id'], safe='')}/runs/{quote(item['run_id'], safe='')}"
               f"/tasks/{quote(item['task_id'], safe='')}")
        map_index = item.get("map_index")
        return url + (f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else "")

    api_url = None
    if api:
        api_url = f"{base}/{api}" + (f"?{request.url.query}" if request.url.query else "")
    html = _env().get_template(template).render(
        link=link, task_instance=task_instance, active=active, api_url=api_url, airflow=airflow,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""), **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
