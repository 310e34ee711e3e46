"""The dashboard end to end: a real `airflow api-server`, real DAG runs, a real headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.servers.base import free_port, http_ok

from ..core.dagfiles import load_dag
from ..core.test_dag_runs import xcom

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "dashboard-test-password"


@pytest.fixture
def two_runs(airflow_db, tmp_path):
    """A DAG run twice with one input changed in between: versions and a change to show."""
    (tmp_path / "prices.csv").write_text("sku,price\na,1\n")
    (tmp_path / "notes.txt").write_text("notes")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_datastores.operators import DatastoreStepOperator
        with DAG(dag_id="dashboard_demo", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as the_dag:
            DatastoreStepOperator(task_id="price_report",
                inputs={{"prices": "file://{tmp_path}/prices.csv", "notes": "file://{tmp_path}/notes.txt"}},
                command='sort "$DATASTORE_INPUT_PRICES/prices.csv" > "$DATASTORE_OUTPUTS/report.csv"')
        """, "dashboard_demo")
    dag.test()
    (tmp_path / "prices.csv").write_text("sku,price\na,2\n")
    run = dag.test()
    return xcom(run, "price_report", "datastore_outputs"), xcom(run, "price_report", "datastore_inputs")


@pytest.fixture
def api_server(airflow_db, tmp_path):
    port = free_port()
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    log = open(tmp_path / "api-server.log", "wb")
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "airflow"), "api-server", "--host",
                                "127.0.0.1", "--port", str(port), "--workers", "1"],
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not http_ok(f"{base}/api/v2/monitor/health", expect=lambda status, _body: status == 200):
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "api-server.log").read_text()[-3000:]
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _status(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.slow
def test_dashboard_pages_in_a_browser(two_runs, api_server):
    from playwright.sync_api import sync_playwright

    version, inputs = two_runs
    changed = next(r for r in inputs if r["changed"])
    for path in ("/datastores/", "/datastores/versions", "/datastores/api/versions", "/datastores/api/changes"):
        assert _status(api_server + path)[0] == 401  # anonymous: refused

    request = urllib.request.Request(f"{api_server}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        token = json.loads(response.read())["access_token"]
    status, body = _status(f"{api_server}/datastores/api/versions?dag_id=dashboard_demo", token)
    assert status == 200 and json.loads(body)["versions"][0]["version_id"] == version["version_id"]
    assert PASSWORD.encode() not in body

    shots = os.path.join(REPO, "docs", "images")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "_token", "value": token, "url": api_server}])
        page = context.new_page()

        page.goto(f"{api_server}/datastores/")
        text = page.inner_text("body")
        assert "default" in text and "reachable" in text and "unreachable" not in text
        assert changed["name"] in text  # the latest change is on the overview
        page.screenshot(path=os.path.join(shots, "dashboard-overview.png"), full_page=True)

        page.goto(f"{api_server}/datastores/versions?dag_id=dashboard_demo")
        text = page.inner_text("body")
        assert version["version_id"] in text and version["files"][0]["sha256"] in text
        page.screenshot(path=os.path.join(shots, "dashboard-versions.png"), full_page=True)

        page.goto(f"{api_server}/datastores/changes?dag_id=dashboard_demo")
        text = page.inner_text("body")
        assert changed["name"] in text and changed["sha256"] in text and changed["previous_sha256"] in text
        assert "notes" not in text.split("Run", 1)[1]  # the unchanged input is not listed
        page.screenshot(path=os.path.join(shots, "dashboard-changes.png"), full_page=True)
        browser.close()
