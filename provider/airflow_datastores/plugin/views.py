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
    env.globals.update(trace_graph=trace_graph)
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


_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 240, 58, 90, 22


def trace_graph(found: dict, link) -> Markup:
    """The trace as an SVG a person reads at a glance: one column per step away from the traced version
    (made from on the left, used by on the right), a box per version, dataset version or input, a line
    per staging labelled with the input's name. ``link(node)`` is a box's trace page (or None)."""
    nodes = {n["id"]: n for n in found["nodes"]}
    levels = sorted({n["level"] for n in nodes.values()})
    columns = {level: sorted((n for n in nodes.values() if n["level"] == level), key=lambda n: n["label"])
               for level in levels}
    place = {}
    for column, level in enumerate(levels):
        for row, node in enumerate(columns[level]):
            place[node["id"]] = (20 + column * (_BOX_W + _GAP_X), 20 + row * (_BOX_H + _GAP_Y))
    width = 40 + len(levels) * (_BOX_W + _GAP_X) - _GAP_X
    height = 40 + max(len(c) for c in columns.values()) * (_BOX_H + _GAP_Y) - _GAP_Y
    parts = [f'<svg class="trace" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
             f"<title>Lineage of {escape(nodes[found['root']]['label'])}</title>"]
    for edge in found["edges"]:
        (x1, y1), (x2, y2) = place[edge["source"]], place[edge["target"]]
        x1, y1, y2 = x1 + _BOX_W, y1 + _BOX_H / 2, y2 + _BOX_H / 2
        middle = (x1 + x2) / 2
        label = edge["input"] + (f" ({edge['files']} files)" if edge["files"] > 1 else "")
        changed = " changed" if edge.get("changed") else ""
        parts.append(f'<path class="edge{changed}" d="M{x1:.0f},{y1:.0f} C{middle:.0f},{y1:.0f} {middle:.0f},{y2:.0f} '
                     f'{x2:.0f},{y2:.0f}"><title>{escape(_edge_title(edge))}</title></path>')
        if label:
            parts.append(f'<text class="edge-label" x="{middle:.0f}" y="{(y1 + y2) / 2 - 4:.0f}">{escape(label)}</text>')
    for node_id, node in nodes.items():
        x, y = place[node_id]
        lines = _node_lines(node)
        box = (f'<rect class="node {node["kind"]}{" root" if node_id == found["root"] else ""}" x="{x}" y="{y}" '
               f'width="{_BOX_W}" height="{_BOX_H}" rx="6"/>'
               + "".join(f'<text class="{"title" if i == 0 else "sub"}" x="{x + 10}" y="{y + 18 + i * 16}">'
                         f"{escape(text)}</text>" for i, text in enumerate(lines)))
        href = link(node)
        parts.append(f'<a href="{escape(href)}">{box}</a>' if href else box)
        more = [m for m in found.get("more", []) if m["node"] == node_id]
        for m in more:
            side = x - 4 if m["direction"] == "from" else x + _BOX_W + 4
            anchor = "end" if m["direction"] == "from" else "start"
            parts.append(f'<text class="more" x="{side}" y="{y + _BOX_H + 14}" text-anchor="{anchor}">'
                         f"+{m['count']} more</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _node_lines(node: dict) -> list[str]:
    def cut(text: str, n: int = 34) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    if node["kind"] == "hidden":
        return ["a step", "of a DAG you may not read"]
    if node["kind"] == "input":
        return [cut(node["label"]), cut(node.get("url") or ""), f"{plural(node['files'], 'file')}, {human_size(node['size'])}"]
    if node["kind"] == "dataset":
        return [cut(node["label"]), "dataset version", f"{plural(node['files'], 'file')} staged"]
    run = f"run {node['run_id']}" if node.get("run_id") else ""
    facts = f"{plural(node['files'], 'file')}, {human_size(node['size'])}" if node.get("files") else run
    return [cut(node["label"]), cut(node.get("version_id") or ""), cut(facts)]


def _edge_title(edge: dict) -> str:
    text = f"input {edge['input']}: {plural(edge['files'], 'file')}"
    if edge.get("sha256"):
        text += f", sha256 {edge['sha256']}"
    if edge.get("changed"):
        text += ", changed since the previous run"
    return text


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

    def link(page: str = "", /, **params) -> str:
        query = urlencode({k: v for k, v in params.items()
                           if v not in (None, "") and not (k == "page" and v == 1)})
        return f"{base}/{page}" + (f"?{query}" if query else "")

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
