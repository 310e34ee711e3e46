"""What the dashboard shows, read from what the product records: XCom rows and store config.

The API server may read the metadata database (tasks may not). Queries are paginated in SQL so pages
stay fast with many thousands of versions; no page lists a bucket.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Any

from airflow_datastores.operators._runtime import XCOM_INPUTS, XCOM_OUTPUTS
from airflow_datastores.stores.registry import default_store_url, named_stores, open_store

PAGE_SIZE = 50


@dataclass(frozen=True)
class StoreStatus:
    name: str
    kind: str
    location: str
    reachable: bool
    error: str | None
    versions: int
    bytes: int


def _rows(key: str, *, dag_id: str | None = None, task_id: str | None = None, limit: int | None = None,
          offset: int = 0) -> tuple[list[tuple[Any, Any]], int]:
    """``([(xcom row, value)], total)`` newest first."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    query = select(XComModel).where(XComModel.key == key)
    if dag_id:
        query = query.where(XComModel.dag_id == dag_id)
    if task_id:
        query = query.where(XComModel.task_id == task_id)
    with create_session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        query = query.order_by(XComModel.timestamp.desc()).offset(offset)
        if limit:
            query = query.limit(limit)
        rows = [(row, XComModel.deserialize_value(row)) for row in session.scalars(query)]
    return rows, total or 0


def versions(*, dag_id: str | None = None, task_id: str | None = None, page: int = 1) -> dict:
    rows, total = _rows(XCOM_OUTPUTS, dag_id=dag_id, task_id=task_id, limit=PAGE_SIZE,
                        offset=(max(page, 1) - 1) * PAGE_SIZE)
    items = []
    for row, value in rows:
        if not isinstance(value, dict):
            continue
        items.append({**{k: value.get(k) for k in ("version_id", "dag_id", "task_id", "run_id", "store",
                                                    "committed_at", "total_size", "reference")},
                      "file_count": len(value.get("files", [])), "files": value.get("files", []),
                      "map_index": row.map_index})
    return {"page": page, "page_size": PAGE_SIZE, "total": total, "versions": items}


def changes(*, dag_id: str | None = None, page: int = 1) -> dict:
    """Inputs whose sha256 differed from the previous run, newest first."""
    items = []
    rows, _ = _rows(XCOM_INPUTS, dag_id=dag_id)
    for row, value in rows:
        for record in value if isinstance(value, list) else []:
            if isinstance(record, dict) and record.get("changed") is True:
                items.append({"dag_id": row.dag_id, "task_id": row.task_id, "run_id": row.run_id,
                              "when": row.timestamp.isoformat() if row.timestamp else None,
                              "input": record.get("name"), "url": record.get("source") or record.get("url"),
                              "old_sha256": record.get("previous_sha256"), "new_sha256": record.get("sha256")})
    start = (max(page, 1) - 1) * PAGE_SIZE
    return {"page": page, "page_size": PAGE_SIZE, "total": len(items), "changes": items[start:start + PAGE_SIZE]}


def stores(*, timeout: float = 3.0) -> list[StoreStatus]:
    """Each configured store, whether it answers (a one-key listing), and its versions and bytes."""
    configured = [("default", default_store_url(), None)]
    configured += [(s.name, s.url, s.conn_id) for s in named_stores().values()]
    totals: dict[str, list[int]] = {}
    for _row, value in _rows(XCOM_OUTPUTS)[0]:
        if isinstance(value, dict):
            entry = totals.setdefault(value.get("store", ""), [0, 0])
            entry[0] += 1
            entry[1] += int(value.get("total_size") or 0)

    def probe(url: str, conn_id: str | None) -> str | None:
        store = open_store(url, conn_id=conn_id)
        next(iter(store.list("_manifests/")), None)
        return None

    result = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(probe, url, conn) for name, url, conn in configured}
        for name, url, _conn in configured:
            try:
                error = futures[name].result(timeout=timeout)
            except concurrent.futures.TimeoutError:
                error = f"no answer within {timeout:.0f} s"
            except Exception as err:  # noqa: BLE001 - shown on the page, without secrets
                error = str(err).splitlines()[0][:300]
            versions_count, size = totals.get(url, [0, 0])
            result.append(StoreStatus(name=name, kind=url.split("://")[0], location=url, reachable=error is None,
                                      error=error, versions=versions_count, bytes=size))
    return result
