"""The dashboard's queries and pages with 10,000 versions, on a real SQLite database holding Airflow's
own ``xcom`` table; its URL and text hygiene; and the store checks' timeout against a silent server."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException, Request

from airflow_datastores.plugin import data, probes
from airflow_datastores.plugin.redact import safe_text, safe_url

DAGS, TASKS, RUNS = 20, 5, 100  # 10,000 versions
STORES = ("file:///data/store", "s3://bucket/prefix")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _version(dag: int, task: int, run: int) -> dict:
    files = [{"path": f"part-{i}.csv", "size": 10 * (i + 1), "md5": "m", "sha1": "s",
              "sha256": f"{dag:02d}{task}{run:03d}{i}", "tags": ["validated"] if i else [],
              "properties": {"rows": i} if i else {}} for i in range(2)]
    return {"version_id": f"v-{run:03d}", "dag_id": f"dag_{dag:02d}", "task_id": f"task_{task}",
            "run_id": f"run_{run:03d}", "store": STORES[dag % 2], "manifest_url": "x", "reference": "x",
            "committed_at": (T0 + timedelta(minutes=run)).isoformat(), "total_size": 30, "files": files,
            "tags": ["nightly"] if run % 2 else [], "properties": {"accuracy": 0.9}, "reused": run == 99}


def _inputs(run: int) -> list[dict]:
    changed = run % 10 == 9  # one run in ten saw its "prices" change
    return [{"name": "prices", "url": "https://host/prices.csv?X-Amz-Signature=secret", "size": 1,
             "sha256": f"new{run}", "changed": changed if run else None,
             "previous_sha256": f"old{run}" if run else None},
            {"name": "notes", "url": "file:///notes.txt", "size": 1, "sha256": "same",
             "changed": False if run else None, "previous_sha256": "same"}]


def _metadata(run: int) -> dict:
    """What a collector keeps of a run that printed 5 epochs (and once a URL with a password)."""
    series = [{"seq": e, "time": "t", "values": {"epoch": e, "loss": round(1 / e, 3), "stage": "fit"}}
              for e in range(1, 6)]
    last = {"epoch": 5, "loss": 0.2, "stage": "fit", "accuracy": 0.5 + run / 200,
            "source": "https://user:hunter2@host/data.csv"}
    return {"count": 5, "last": last, "series": series, "stride": 1, "keys_dropped": 0, "lines_too_long": 0}


@pytest.fixture(scope="module")
def db():
    """A SQLite database with Airflow's xcom table and 10,000 versions (+ one inputs row per task run)."""
    from airflow.models.taskinstance import TaskInstance  # noqa: F401 - the table xcom's foreign key names
    from airflow.models.xcom import XComModel
    from sqlalchemy import create_engine, insert
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    # one in-memory database, shared with the threads the FastAPI test client runs routes in
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    XComModel.__table__.create(engine)  # alone: SQLite does not check foreign keys unless asked
    rows = []
    for dag in range(DAGS):
        for task in range(TASKS):
            for run in range(RUNS):
                common = {"dag_run_id": dag * RUNS + run, "task_id": f"task_{task}", "map_index": -1,
                          "dag_id": f"dag_{dag:02d}", "run_id": f"run_{run:03d}"}
                moment = T0 + timedelta(minutes=run, seconds=dag * TASKS + task)
                rows.append({**common, "key": "datastore_outputs", "value": _version(dag, task, run),
                             "timestamp": moment})
                rows.append({**common, "key": "datastore_inputs", "value": _inputs(run), "timestamp": moment})
                if task == 0:  # the training task prints execution metadata
                    rows.append({**common, "key": "datastore_metadata", "value": _metadata(run), "timestamp": moment})
    with Session(engine) as session:
        session.execute(insert(XComModel.__table__), rows)
        session.commit()
        yield session


@pytest.fixture
def decoded(monkeypatch):
    """Counts the XCom values decoded: only a page's rows may be."""
    from airflow.models.xcom import XComModel

    count = [0]
    original = XComModel.deserialize_value

    def counting(result):
        count[0] += 1
        return original(result)

    monkeypatch.setattr(XComModel, "deserialize_value", staticmethod(counting))
    return count


def test_versions_are_paginated_in_sql(db, decoded):
    first = data.versions(db, page=1)
    assert first["total"] == DAGS * TASKS * RUNS == 10_000 and len(first["versions"]) == data.PAGE_SIZE
    assert decoded[0] == data.PAGE_SIZE  # nothing else was read
    newest = first["versions"][0]
    assert (newest["dag_id"], newest["task_id"], newest["run_id"]) == ("dag_19", "task_4", "run_099")
    assert newest["file_count"] == 2 and newest["files"][1]["sha256"] == "1940991"
    assert newest["reused_from"] == "run_099"  # a reused version: made by that run, output of this one
    last = data.versions(db, page=200)
    assert [v["run_id"] for v in last["versions"]][-1] == "run_000" and len(last["versions"]) == 50
    assert last["versions"][-1]["reused_from"] is None
    assert data.versions(db, page=201)["versions"] == []
    seen = {(v["dag_id"], v["task_id"], v["run_id"]) for p in (1, 2, 3) for v in data.versions(db, page=p)["versions"]}
    assert len(seen) == 150  # pages neither overlap nor skip


def test_versions_filter_by_dag_task_and_permission(db):
    one = data.versions(db, dag_id="dag_03", task_id="task_2", page=2, page_size=30)
    assert one["total"] == RUNS and len(one["versions"]) == 30
    assert {(v["dag_id"], v["task_id"]) for v in one["versions"]} == {("dag_03", "task_2")}
    assert [v["run_id"] for v in one["versions"]][:2] == ["run_069", "run_068"]
    allowed = data.versions(db, dags={"dag_01", "dag_02"})
    assert allowed["total"] == 2 * TASKS * RUNS and {v["dag_id"] for v in allowed["versions"]} <= {"dag_01", "dag_02"}
    assert data.versions(db, dags=set())["total"] == 0  # a user who may read no DAG sees nothing
    assert data.versions(db, dags={"dag_01"}, dag_id="dag_02")["total"] == 0


def test_changes_list_only_changed_inputs_newest_first(db, decoded):
    result = data.changes(db, page=1)
    assert result["total"] == DAGS * TASKS * RUNS // 10  # task runs with a changed input
    assert decoded[0] == data.PAGE_SIZE
    changes = result["changes"]
    assert len(changes) == data.PAGE_SIZE and {c["input"] for c in changes} == {"prices"}
    assert changes[0]["run_id"] == "run_099" and changes[0]["dag_id"] == "dag_19"
    assert (changes[0]["old_sha256"], changes[0]["new_sha256"]) == ("old99", "new99")
    assert changes[0]["url"] == "https://host/prices.csv?…"  # a presigned query string is never shown
    assert [c["when"] for c in changes] == sorted((c["when"] for c in changes), reverse=True)
    only = data.changes(db, dag_id="dag_07", page=2, page_size=20)
    assert only["total"] == TASKS * RUNS // 10 and len(only["changes"]) == 20
    assert {c["dag_id"] for c in only["changes"]} == {"dag_07"}
    assert data.count_changed_runs(db, dags={"dag_07"}) == TASKS * RUNS // 10


def test_store_totals_and_filters(db):
    totals = data.store_totals(db)
    # run 99 of each task reused an earlier run's version: one version, its bytes counted once
    assert totals[STORES[0]]["versions"] == totals[STORES[1]]["versions"] == 5000 - 50
    assert totals[STORES[0]]["bytes"] == (5000 - 50) * 30
    assert totals[STORES[0]]["latest"] == "2026-01-01T01:39:34+00:00"  # run 98 of dag_18.task_4 (99 reused)
    assert data.store_totals(db, dags={"dag_01"}).keys() == {STORES[1]}
    assert data.dag_ids(db)[:2] == ["dag_00", "dag_01"] and len(data.dag_ids(db)) == DAGS
    assert data.dag_ids(db, dags={"dag_05"}) == ["dag_05"]
    assert data.task_ids(db, dag_id="dag_05") == [f"task_{t}" for t in range(TASKS)]


def test_pages_render_a_page_of_many(db, monkeypatch):
    """The HTML pages, through the FastAPI app with stand-in auth: pager, filters, links, no secrets."""
    from fastapi import Depends
    from fastapi.testclient import TestClient

    from airflow_datastores.plugin.app import create_app

    monkeypatch.setenv("AIRFLOW__DATASTORES__STORES", json.dumps({"lake": STORES[1]}))
    monkeypatch.setattr(probes, "reachability", lambda refs, **_: {r.url: None for r in refs})
    app = create_app(authenticated=Depends(authenticated), readable_dags=lambda: None, session=lambda: db,
                     url_prefix="/datastores")
    client = TestClient(app, root_path="/datastores")
    assert client.get("/versions").status_code == 401
    page = client.get("/versions?dag_id=&page=2", headers={"Authorization": "Bearer ok", "Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert "Page 2 of 200" in html and "10,000 versions" in html
    assert 'href="/datastores/versions?page=1"' not in html and 'href="/datastores/versions"' in html
    assert 'href="/datastores/versions?page=3"' in html
    assert "/dags/dag_09/runs/run_099/tasks/task_4" in html  # the task instance page of the Airflow UI
    changes = client.get("/changes?dag_id=dag_07", headers={"Authorization": "Bearer ok"}).text
    assert "old99" in changes and "secret" not in changes and 'value="dag_07" selected' in changes
    assert 'name="task_id"' in html and 'name="task_id"' not in changes  # one filter form, two shapes
    assert '<span class="tag">validated</span>' in html and '<span class="prop">rows=1</span>' in html
    assert '<span class="tag">nightly</span>' in html and '<span class="prop">accuracy=0.9</span>' in html
    assert "Naming versions: aliases, tags, datasets, reuse" in html
    assert 'href="/datastores/changes">Clear</a>' in changes
    overview = client.get("/", headers={"Authorization": "Bearer ok"}).text
    assert "lake" in overview and "4,950" in overview
    stores = client.get("/api/stores", headers={"Authorization": "Bearer ok"}).json()
    assert {s["name"]: s["versions"] for s in stores} == {"default": 0, "lake": 4950, None: 4950}


def test_metadata_pages_show_last_values_across_runs_and_each_number_over_a_run(db, decoded, monkeypatch):
    from fastapi import Depends
    from fastapi.testclient import TestClient

    from airflow_datastores.plugin.app import create_app

    result = data.metadata(db, dag_id="dag_02", task_id="task_0")
    assert result["total"] == RUNS and decoded[0] == data.PAGE_SIZE
    newest = result["runs"][0]
    assert newest["run_id"] == "run_099" and newest["last"]["accuracy"] == 0.5 + 99 / 200
    assert newest["series"] == {"epoch": [[e, e] for e in range(1, 6)], "loss": [[e, round(1 / e, 3)] for e in range(1, 6)]}
    assert newest["last"]["source"] == "https://host/data.csv" and "hunter2" not in json.dumps(result)
    assert result["columns"] == ["accuracy", "epoch", "loss", "source", "stage"]
    assert data.metadata(db, dags={"dag_01"})["total"] == RUNS
    assert data.metadata_dag_ids(db, dags={"dag_01", "dag_02"}) == ["dag_01", "dag_02"]
    app = create_app(authenticated=Depends(authenticated), readable_dags=lambda: None, session=lambda: db,
                     url_prefix="/datastores")
    client = TestClient(app, root_path="/datastores")
    assert client.get("/metadata").status_code == 401
    html = client.get("/metadata?dag_id=dag_02&task_id=task_0", headers={"Authorization": "Bearer ok"}).text
    assert "dag_02.task_0: the last values across runs" in html and "<th class=\"num\">accuracy</th>" in html
    assert html.count('<svg class="spark"') == 2 * data.PAGE_SIZE  # epoch and loss of each run; text is not charted
    assert "from 1 to 0.2" in html and "hunter2" not in html and "Page 1 of 2" in html
    api = client.get("/api/metadata?dag_id=dag_02", headers={"Authorization": "Bearer ok"}).json()
    assert api["total"] == RUNS and api["runs"][0]["last"]["epoch"] == 5


def test_safe_urls_and_texts():
    assert safe_url("https://user:pw@host/a/b.csv?sig=abc#x") == "https://host/a/b.csv?…"
    assert safe_url("file:///data/x.csv") == "file:///data/x.csv"
    assert safe_url("s3://bucket/key") == "s3://bucket/key"
    text = safe_text("GET http://u:pw@h:1/k?X-Amz-Signature=zz: refused (see https://x/y?token=t).\nline two")
    assert text == "GET http://h:1/k?…: refused (see https://x/y?…)."
    assert len(safe_text("x" * 1000)) == 300


def authenticated(request: Request) -> str:
    """Stands in for the API server's JWT check."""
    if request.headers.get("Authorization") != "Bearer ok":
        raise HTTPException(401, "Not authenticated")
    return "user"


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_store_costs_a_page_at_most_the_timeout(silent_server, tmp_path):
    silent = probes.StoreRef("silent", silent_server)
    local = probes.StoreRef("local", f"file://{tmp_path}")
    started = time.monotonic()
    result = probes.reachability([silent, local], timeout=0.5)
    assert time.monotonic() - started < 2
    assert result == {silent_server: "no answer within 0.5 s", f"file://{tmp_path}": None}
    started = time.monotonic()
    assert probes.reachability([silent], timeout=0.5)[silent_server].startswith("no answer")
    assert time.monotonic() - started < 0.2  # a probe still hanging is not waited for again


def test_known_stores_from_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATASTORES__STORES", json.dumps({"raw": "s3://raw/", "lake": {"url": "gs://lake"}}))
    refs, error = probes.known_stores(["s3://raw", "az://elsewhere"])
    assert error is None
    assert [(r.name, r.url, r.configured) for r in refs][1:] == [
        ("lake", "gs://lake", True), ("raw", "s3://raw", True), ("", "az://elsewhere", False)]
    assert refs[0].default and refs[0].kind == "Local directory"
    monkeypatch.setenv("AIRFLOW__DATASTORES__STORES", "{not json")
    refs, error = probes.known_stores()
    assert "not valid JSON" in error and [r.name for r in refs] == ["default"]
