"""What the dashboard shows, read from what tasks already record: the XCom rows ``datastore_outputs``
(one per version), ``datastore_inputs`` (one per task run, a list of input records) and
``datastore_metadata`` (the execution metadata a task run printed, already bounded in size).

Only the API server calls this (it may read the metadata database; tasks never do). Every list is
paginated in SQL and only the rows of one page are decoded, so pages stay fast with many thousands of
versions; no request lists a bucket. ``dags`` is the set of DAG ids the user may read (``None``: all).
Every value that leaves this module is whitelisted field by field and has its URLs made safe.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from airflow_datastores.execution_metadata import numeric_series
from airflow_datastores.plugin.redact import safe_text, safe_url
from airflow_datastores.records import XCOM_INPUTS, XCOM_METADATA, XCOM_OUTPUTS
from airflow_datastores.versions import make_reference

PAGE_SIZE = 50
#: files listed per version on a page (a version may hold many thousands; file_count says how many)
MAX_FILES = 100
_FILE_FIELDS = ("path", "size", "md5", "sha1", "sha256", "tags", "properties")


def _xcom():
    from airflow.models.xcom import XComModel  # the API server's model of the xcom table

    return XComModel


def _scope(query, xcom, *, key: str, dags: Collection[str] | None, dag_id: str | None = None,
           task_id: str | None = None):
    query = query.where(xcom.key == key)
    if key == XCOM_OUTPUTS:  # a run that wrote nothing records that no version was committed
        text = cast(xcom.value, Text)
        query = query.where(~text.like('%"committed": false%'), ~text.like('%"committed":false%'))
    if dags is not None:
        query = query.where(xcom.dag_id.in_(sorted(dags)))
    if dag_id:
        query = query.where(xcom.dag_id == dag_id)
    if task_id:
        query = query.where(xcom.task_id == task_id)
    return query


def _columns(xcom):
    """The columns a page needs (selecting the model would also join each row's DAG run)."""
    return select(xcom.dag_id, xcom.task_id, xcom.run_id, xcom.map_index, xcom.timestamp, xcom.value)


def _page(session: Session, query, xcom, *, page: int, page_size: int) -> tuple[list[tuple[Any, Any]], int]:
    """``([(row, decoded value)], total)`` of one page, newest first."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    query = query.order_by(xcom.timestamp.desc(), xcom.dag_id, xcom.task_id, xcom.run_id, xcom.map_index)
    rows = session.execute(query.offset((max(page, 1) - 1) * page_size).limit(page_size)).all()
    return [(row, xcom.deserialize_value(row)) for row in rows], total


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def versions(session: Session, *, dags: Collection[str] | None = None, dag_id: str | None = None,
             task_id: str | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> dict:
    """One page of versions, newest first: ``{page, page_size, total, versions}``."""
    xcom = _xcom()
    query = _scope(_columns(xcom), xcom, key=XCOM_OUTPUTS, dags=dags, dag_id=dag_id, task_id=task_id)
    rows, total = _page(session, query, xcom, page=page, page_size=page_size)
    return {"page": page, "page_size": page_size, "total": total,
            "versions": [_version(row, value) for row, value in rows]}


def _version(row, value: Any) -> dict:
    value = value if isinstance(value, dict) else {}
    files = [f for f in value.get("files") or [] if isinstance(f, dict)]
    store = safe_url(value.get("store"))
    version_id = value.get("version_id")
    return {
        "version_id": version_id,
        "dag_id": row.dag_id,
        "task_id": row.task_id,
        "run_id": row.run_id,
        "map_index": row.map_index,
        "store": store,
        "manifest_url": safe_url(value.get("manifest_url")),
        "reference": make_reference(dag_id=row.dag_id, task_id=row.task_id, version=version_id, store=store)
        if version_id else None,
        "committed_at": value.get("committed_at") or _iso(row.timestamp),
        "total_size": int(value.get("total_size") or sum(int(f.get("size") or 0) for f in files)),
        "file_count": len(files),
        "files": [{k: f.get(k) for k in _FILE_FIELDS} for f in files[:MAX_FILES]],
        "tags": [str(t) for t in value.get("tags") or []],
        "reused_from": value.get("run_id") if value.get("reused") else None,
        "properties": value.get("properties") if isinstance(value.get("properties"), dict) else {},
    }


def metadata(session: Session, *, dags: Collection[str] | None = None, dag_id: str | None = None,
             task_id: str | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> dict:
    """One page of task runs that printed execution metadata, newest first: each with its last values and
    the numeric series a chart draws; ``columns``: every key on the page (the columns of a task's table)."""
    xcom = _xcom()
    query = _scope(_columns(xcom), xcom, key=XCOM_METADATA, dags=dags, dag_id=dag_id, task_id=task_id)
    rows, total = _page(session, query, xcom, page=page, page_size=page_size)
    runs = [_metadata_run(row, value) for row, value in rows]
    columns = sorted({key for run in runs for key in run["last"]})
    return {"page": page, "page_size": page_size, "total": total, "columns": columns, "runs": runs}


def _metadata_run(row, value: Any) -> dict:
    value = value if isinstance(value, dict) else {}
    last = value.get("last") if isinstance(value.get("last"), dict) else {}
    return {
        "dag_id": row.dag_id,
        "task_id": row.task_id,
        "run_id": row.run_id,
        "map_index": row.map_index,
        "when": _iso(row.timestamp),
        "count": int(value.get("count") or 0),
        "last": {str(k): _shown(v) for k, v in last.items()},
        "series": {k: [[seq, v] for seq, v in points] for k, points in numeric_series(value).items()},
    }


def _shown(value: Any) -> Any:
    """A metadata value for a page: numbers and booleans as they are, text made safe (no secrets)."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return safe_text(value if isinstance(value, str) else str(value), limit=120)


def metadata_dag_ids(session: Session, *, dags: Collection[str] | None = None) -> list[str]:
    return dag_ids(session, dags=dags, key=XCOM_METADATA)


def _changed_rows(query, xcom):
    """Only rows whose JSON says ``"changed": true`` somewhere (a cheap text match in SQL; the records
    are then checked one by one, so a false match costs nothing but a shorter page)."""
    text = cast(xcom.value, Text)
    return query.where(or_(text.like('%"changed": true%'), text.like('%"changed":true%')))


def changes(session: Session, *, dags: Collection[str] | None = None, dag_id: str | None = None,
            page: int = 1, page_size: int = PAGE_SIZE) -> dict:
    """Inputs whose sha256 differed from the previous run's, newest first.

    A page holds the changes of ``page_size`` task runs; ``total`` counts task runs with a change.
    """
    xcom = _xcom()
    query = _changed_rows(_scope(_columns(xcom), xcom, key=XCOM_INPUTS, dags=dags, dag_id=dag_id), xcom)
    rows, total = _page(session, query, xcom, page=page, page_size=page_size)
    items = [change for row, value in rows for change in _changes(row, value)]
    return {"page": page, "page_size": page_size, "total": total, "changes": items}


def _changes(row, value: Any) -> list[dict]:
    records = value if isinstance(value, list) else []
    return [
        {
            "dag_id": row.dag_id,
            "task_id": row.task_id,
            "run_id": row.run_id,
            "map_index": row.map_index,
            "when": _iso(row.timestamp),
            "input": record.get("name"),
            "url": safe_url(record.get("url")),
            "source": safe_url(record.get("source") or record.get("url")),
            "size": record.get("size"),
            "old_sha256": record.get("previous_sha256"),
            "new_sha256": record.get("sha256"),
            "previous_run_id": record.get("previous_run_id"),
        }
        for record in records
        if isinstance(record, dict) and record.get("changed") is True
    ]


def store_totals(session: Session, *, dags: Collection[str] | None = None) -> dict[str, dict]:
    """Versions, bytes and the newest version's time per store URL, summed in SQL. A reused version is the
    output of later runs too (a row each, marked ``reused``): it is one version and its bytes count once."""
    xcom = _xcom()
    store = xcom.value["store"].as_string()
    size = xcom.value["total_size"].as_integer()
    text = cast(xcom.value, Text)
    query = _scope(select(store, func.count(), func.sum(size), func.max(xcom.timestamp)), xcom,
                   key=XCOM_OUTPUTS, dags=dags).where(~text.like('%"reused": true%'),
                                                      ~text.like('%"reused":true%')).group_by(store)
    totals: dict[str, dict] = {}
    for url, count, size_sum, latest in session.execute(query):
        entry = totals.setdefault(safe_url(url) or "", {"versions": 0, "bytes": 0, "latest": None})
        entry["versions"] += count
        entry["bytes"] += int(size_sum or 0)
        entry["latest"] = max(filter(None, (entry["latest"], _iso(latest))), default=None)
    return totals


def count_changed_runs(session: Session, *, dags: Collection[str] | None = None) -> int:
    xcom = _xcom()
    query = _changed_rows(_scope(select(func.count()).select_from(xcom), xcom, key=XCOM_INPUTS, dags=dags), xcom)
    return session.scalar(query) or 0


def dag_ids(session: Session, *, dags: Collection[str] | None = None, key: str = XCOM_OUTPUTS) -> list[str]:
    """DAGs that recorded versions (or inputs, with ``key=XCOM_INPUTS``), for the filters."""
    xcom = _xcom()
    query = _scope(select(xcom.dag_id).distinct(), xcom, key=key, dags=dags)
    return sorted(session.scalars(query))


def task_ids(session: Session, *, dag_id: str, dags: Collection[str] | None = None,
             key: str = XCOM_OUTPUTS) -> list[str]:
    xcom = _xcom()
    query = _scope(select(xcom.task_id).distinct(), xcom, key=key, dags=dags, dag_id=dag_id)
    return sorted(session.scalars(query))
