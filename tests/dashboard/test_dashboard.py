"""The dashboard end to end: its own Airflow home, a DAG run twice with `dag.test()` (an input changed in
between), a real `airflow api-server`, and Debian's Chromium driven headless through the login page."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib.metadata import entry_points

import pytest

from tests.servers.base import free_port, http_ok, stop_process_groups

# Screenshots go to a temporary directory; `make screenshots` sends them to docs/images for the README.
SHOTS = os.environ.get("DATASTORES_SCREENSHOTS") or os.path.join(tempfile.gettempdir(),
                                                                 f"datastores-screenshots-{os.getuid()}")
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "dashboard-test-password"
# Credentials of a configured store that does not answer: they must never reach a page or a JSON body.
S3_KEY_ID, S3_SECRET = "AKIADASHBOARDTEST", "s3-secret-never-shown"
PRICES_BEFORE, PRICES_AFTER = "sku,price\nb,3\na,1\n", "sku,price\nb,3\na,2\n"
METRICS_SCRIPT = 'for i in 1 2 3 4 5 6; do echo "{\\"epoch\\": $i, \\"loss\\": 0.$((10 - i))}"; done\n'
LOSSES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]

DAG_FILE = '''
import pendulum
from airflow.sdk import DAG
from airflow_datastores.operators import DatastoreStepOperator, outputs_of

with DAG(dag_id="dashboard_demo", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    report = DatastoreStepOperator(
        task_id="price_report",
        inputs={{"prices": "file://{data}/prices.csv", "notes": "file://{data}/notes.txt"}},
        command='sort "$DATASTORE_INPUT_PRICES/prices.csv" > "$DATASTORE_OUTPUTS/report.csv" && sh {data}/metrics.sh',
    )
    rows = DatastoreStepOperator(
        task_id="count_rows",
        inputs={{"report": outputs_of(report, "report.csv")}},
        command='wc -l < "$DATASTORE_INPUT_REPORT/report.csv" > "$DATASTORE_OUTPUTS/rows.txt"',
        promote="prod",
    )
    DatastoreStepOperator(
        task_id="summarize",
        inputs={{"rows": outputs_of(rows, "rows.txt")}},
        command='echo "rows: $(cat "$DATASTORE_INPUT_ROWS/rows.txt")" > "$DATASTORE_OUTPUTS/summary.txt"',
    )
'''

# One Python process (Airflow imports slowly) migrates the database, says so, then runs the DAG twice.
RUNNER = '''
import importlib.util, sys
from airflow.utils import db

db.upgradedb()
open(sys.argv[1], "w").close()  # the API server may start now
spec = importlib.util.spec_from_file_location("dashboard_demo", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert module.dag.test().state == "success"
with open(sys.argv[3], "w") as handle:  # the prices change between the runs
    handle.write(sys.argv[4])
assert module.dag.test().state == "success"
from airflow_datastores.cli import main  # a dataset version of the newest row count, as a person makes one
assert main(["dataset", "create", "reports/v1", "--from", "dashboard_demo/count_rows/latest"]) == 0
'''


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def airflow_site():
    """Airflow home, metadata database, two DAG runs and a running API server; yields its facts."""
    assert "datastores" in {e.name for e in entry_points(group="airflow.plugins")}, (
        "the airflow.plugins entry point of airflow-provider-datastores is not installed")
    os.makedirs(SHOTS, exist_ok=True)
    root = pathlib.Path(tempfile.mkdtemp(prefix="dashboard-"))  # short paths read better on screenshots
    home, data = root / "airflow", root / "data"
    (home / "dags").mkdir(parents=True)
    data.mkdir()
    (data / "prices.csv").write_text(PRICES_BEFORE)
    (data / "notes.txt").write_text("prices in EUR\n")
    # What a training script prints: one JSON object a line (Valohai's execution metadata).
    (data / "metrics.sh").write_text(METRICS_SCRIPT)
    (home / "dags" / "dashboard_demo.py").write_text(DAG_FILE.format(data=data))
    (root / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}  # nothing of the session's Airflow
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(root / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "dashboard-test-jwt-secret",
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__DATASTORES__STORES": json.dumps({"archive": {"url": "s3://archive/runs", "conn_id": "archive_s3"}}),
        "AIRFLOW_CONN_ARCHIVE_S3": json.dumps({
            "conn_type": "aws", "login": S3_KEY_ID, "password": S3_SECRET,
            "extra": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "region_name": "us-east-1"}}),
    })
    (root / "run.py").write_text(RUNNER)
    migrated = root / "migrated"
    started = time.monotonic()
    with open(root / "api-server.log", "wb") as log, open(root / "runs.log", "wb") as runs_log:
        runs = subprocess.Popen([sys.executable, str(root / "run.py"), str(migrated),
                                 str(home / "dags" / "dashboard_demo.py"), str(data / "prices.csv"), PRICES_AFTER],
                                env=env, stdout=runs_log, stderr=subprocess.STDOUT, start_new_session=True)
        server = None
        try:
            while not migrated.exists():
                assert runs.poll() is None and time.monotonic() - started < 600, (root / "runs.log").read_text()[-4000:]
                time.sleep(0.2)
            server = subprocess.Popen([AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port),
                                       "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            assert runs.wait(timeout=600) == 0, (root / "runs.log").read_text()[-4000:]
            while not http_ok(f"{base}/api/v2/monitor/health", expect=lambda status, _body: status == 200):
                assert server.poll() is None and time.monotonic() - started < 900, \
                    (root / "api-server.log").read_text()[-3000:]
                time.sleep(0.3)
            print(f"Airflow home, two DAG runs and the API server ready in {time.monotonic() - started:.1f} s")
            yield {"base": base, "home": home, "data": data}
        finally:
            stop_process_groups((runs, server), grace=15)
            shutil.rmtree(root, ignore_errors=True)


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


ROUTES = ("/datastores/", "/datastores/versions", "/datastores/changes", "/datastores/api/stores",
          "/datastores/api/versions", "/datastores/api/changes", "/datastores/api/openapi.json")


#: How long a page may take to show what a test waits for (the playwright default is 5 s).
WAIT_MS = 120_000


@pytest.mark.slow
def test_dashboard_in_a_browser(airflow_site):
    from playwright.sync_api import expect, sync_playwright

    base = airflow_site["base"]
    for route in ROUTES:  # nobody gets in without logging in
        assert _get(base + route)[0] == 401, route
        assert _get(base + route, {"Accept": "text/html"})[0] == 401, route
        assert _get(base + route, {"Cookie": "_token=forged"})[0] in (401, 403), route

    manifests = sorted(glob.glob(f"{airflow_site['home']}/datastores/_manifests/dashboard_demo/price_report/*.json"))
    assert len(manifests) == 2
    versions = [os.path.basename(m)[: -len(".json")] for m in manifests]
    report_sha = _sha256("".join(sorted(PRICES_AFTER.splitlines(keepends=True))))
    old_prices, new_prices = _sha256(PRICES_BEFORE), _sha256(PRICES_AFTER)
    secrets = (S3_SECRET, S3_KEY_ID, PASSWORD)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # A loaded machine answers slowly: every wait follows readiness, bounded generously.
        page.set_default_timeout(WAIT_MS)
        page.set_default_navigation_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)

        # Log in through Airflow's own login page; the dashboard is framed by the Airflow UI, under Browse.
        page.goto(f"{base}/plugin/datastores")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/plugin/datastores**")
        framed = page.frame_locator("iframe[title='Data stores']")
        expect(framed.locator("body")).to_contain_text("archive")
        expect(framed.locator("body")).to_contain_text("reachable")
        page.screenshot(path=os.path.join(SHOTS, "dashboard-in-airflow.png"))
        page.get_by_role("button", name="Browse").click()
        expect(page.get_by_role("menuitem", name="Data stores")).to_be_visible()

        # Each page on its own, as it is framed: what a person sees.
        page.goto(f"{base}/datastores/")
        # A page waits 3 s for a store; on a cold, loaded machine the probe of the dead endpoint may still
        # be importing the S3 SDK then. Reload until its own answer is there (probes run on in the server).
        deadline = time.monotonic() + WAIT_MS / 1000
        while "cannot reach S3" not in page.inner_text("body") and time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            page.reload()
        text = page.inner_text("body")
        assert "default" in text and "Local directory" in text
        assert "archive" in text and "s3://archive/runs" in text and "archive_s3" in text
        assert "unreachable" in text and "cannot reach S3" in text  # the archive's endpoint is down
        assert "prices" in text and new_prices in text  # the latest change is on the overview
        page.screenshot(path=os.path.join(SHOTS, "dashboard-overview.png"), full_page=True)
        _no_secrets(page.content(), secrets)

        page.goto(f"{base}/datastores/versions")
        page.select_option("select[name=dag_id]", "dashboard_demo")  # filters apply on change
        page.wait_for_url("**dag_id=dashboard_demo**")
        page.select_option("select[name=task_id]", "price_report")
        page.wait_for_url("**task_id=price_report**")
        text = page.inner_text("body")
        assert all(v in text for v in versions) and report_sha in text and "report.csv" in text
        assert "rows.txt" not in text  # count_rows is filtered out
        assert "2 versions" in text
        page.screenshot(path=os.path.join(SHOTS, "dashboard-versions.png"), full_page=True)
        _no_secrets(page.content(), secrets)

        page.goto(f"{base}/datastores/changes?dag_id=dashboard_demo")
        rows = page.locator("table.grid tbody tr")
        expect(rows).to_have_count(2)  # prices, and the report count_rows read; not the unchanged notes
        text = page.inner_text("table.grid")
        assert "prices" in text and old_prices in text and new_prices in text
        assert "report" in text and "notes" not in text
        page.screenshot(path=os.path.join(SHOTS, "dashboard-changes.png"), full_page=True)
        _no_secrets(page.content(), secrets)

        # The JSON behind the pages, with the browser's login cookie.
        stores = page.request.get(f"{base}/datastores/api/stores")
        assert stores.ok
        by_name = {s["name"]: s for s in stores.json()}
        assert by_name["default"]["reachable"] and by_name["default"]["versions"] == 6  # 3 tasks, 2 runs
        assert not by_name["archive"]["reachable"] and by_name["archive"]["error"]
        listed = page.request.get(f"{base}/datastores/api/versions?dag_id=dashboard_demo&task_id=price_report").json()
        assert listed["total"] == 2 and listed["versions"][0]["version_id"] == versions[-1]
        assert listed["versions"][0]["files"][0]["sha256"] == report_sha
        changes = page.request.get(f"{base}/datastores/api/changes?dag_id=dashboard_demo").json()
        prices = next(c for c in changes["changes"] if c["input"] == "prices")
        assert (prices["old_sha256"], prices["new_sha256"]) == (old_prices, new_prices)
        for response in (stores, *(page.request.get(base + r) for r in ROUTES)):
            _no_secrets(response.text(), secrets)

        _catalog_pages(page, base, airflow_site["home"], secrets)

        # From the framed versions page, a task run opens its task instance page in the Airflow UI.
        page.goto(f"{base}/plugin/datastores")
        framed = page.frame_locator("iframe[title='Data stores']")
        framed.get_by_role("link", name="Versions").click()
        framed.locator("select[name=dag_id]").select_option("dashboard_demo")
        framed.locator("select[name=task_id]").select_option("price_report")
        framed.locator("a[data-airflow]").first.click()
        page.wait_for_url("**/dags/dashboard_demo/runs/**/tasks/price_report")
        expect(page.locator("body")).to_contain_text("DatastoreStepOperator")

        # Admin -> Connections -> add: the Swift type brings its own form (from get_provider_info()).
        _swift_connection_form(page)
        browser.close()


def _manifest(home, task_id: str, version_id: str) -> dict:
    with open(f"{home}/datastores/_manifests/dashboard_demo/{task_id}/{version_id}.json") as handle:
        return json.load(handle)


def _newest(home, task_id: str) -> str:
    found = sorted(glob.glob(f"{home}/datastores/_manifests/dashboard_demo/{task_id}/*.json"))
    return os.path.basename(found[-1])[: -len(".json")]


def _oldest(home, task_id: str) -> str:
    found = sorted(glob.glob(f"{home}/datastores/_manifests/dashboard_demo/{task_id}/*.json"))
    return os.path.basename(found[0])[: -len(".json")]


def _cli(*argv: str):
    """What ``airflow-datastores ... -o json`` answers (the installed command, as a person runs it)."""
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "airflow-datastores"), *argv, "-o", "json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _texts(locator) -> list[str]:
    """The text of each element (SVG elements have no rendered inner text)."""
    return locator.evaluate_all("elements => elements.map(e => e.textContent)")


def _catalog_pages(page, base: str, home, secrets) -> None:
    """Metrics, lineage, aliases and datasets, each as a person sees it, checked against the manifests."""
    from playwright.sync_api import expect

    # Metrics: the last values of what price_report printed, and each number as a line over the run.
    page.goto(f"{base}/datastores/metadata?dag_id=dashboard_demo&task_id=price_report")
    expect(page.locator("table.metrics-across tbody tr")).to_have_count(2)  # one row a run
    across = page.inner_text("table.metrics-across")
    assert "epoch" in across and "loss" in across and "0.4" in across
    expect(page.locator("table.metrics svg.spark")).to_have_count(4)  # epoch and loss, in each of 2 runs
    title = _texts(page.locator("table.metrics svg.spark title"))
    assert f"6 points, from {LOSSES[0]} to {LOSSES[-1]} (min {LOSSES[-1]}, max {LOSSES[0]})" in title
    page.screenshot(path=os.path.join(SHOTS, "dashboard-metrics.png"), full_page=True)
    _no_secrets(page.content(), secrets)

    # Lineage of the newest row count: made from price_report (made from two files), used by summarize.
    report, rows, summary = (_newest(home, t) for t in ("price_report", "count_rows", "summarize"))
    expected = set()  # (input name, the version that staged it), as the manifests of the chain say
    for task_id, version_id in (("price_report", report), ("count_rows", rows), ("summarize", summary)):
        expected |= {(i["name"], version_id) for i in _manifest(home, task_id, version_id)["inputs"]}
    assert expected == {("prices", report), ("notes", report), ("report", rows), ("rows", summary)}
    page.goto(f"{base}/datastores/versions?dag_id=dashboard_demo&task_id=count_rows")
    page.get_by_role("link", name=rows, exact=True).first.click()  # a version id opens its lineage
    page.wait_for_url("**/datastores/trace?**")
    graph = page.locator("svg.trace")
    expect(graph.locator("path.edge")).to_have_count(len(expected))
    expect(graph.locator("path.edge.changed")).to_have_count(2)  # prices changed, so the report did
    labels = set(_texts(graph.locator("text.edge-label")))
    assert labels == {"prices", "notes", "report", "rows"}
    shown = page.request.get(f"{base}/datastores/api/trace?dag_id=dashboard_demo&task_id=count_rows"
                             f"&version={rows}").json()
    versions_of = {n["id"]: n.get("version_id") for n in shown["nodes"]}
    assert {(e["input"], versions_of[e["target"]]) for e in shown["edges"]} == expected
    page.screenshot(path=os.path.join(SHOTS, "dashboard-trace.png"), full_page=True)
    _no_secrets(page.content(), secrets)
    graph.locator("a", has=page.locator("rect.node.version")).filter(has_text="price_report").click()
    page.wait_for_url(f"**version={report}**")  # a box traces from there
    expect(page.locator("h2")).to_contain_text(f"price_report {report}")

    # Aliases: prod moved by count_rows' two runs, newest where it points now; the CLI says the same.
    store = f"file://{home}/datastores"
    history = _cli("alias", "history", "dashboard_demo", "count_rows", "prod", "--store", store)
    assert [e["version_id"] for e in history] == [_oldest(home, "count_rows"), rows]
    page.goto(f"{base}/datastores/aliases")
    expect(page.locator("main")).to_contain_text("prod")
    text = page.inner_text("main")
    assert "2 moves" in text and all(e["version_id"] in text and e["set_by"] in text for e in history)
    assert page.request.get(f"{base}/datastores/api/aliases").json()[0]["aliases"][0]["history"] == history[::-1]
    page.screenshot(path=os.path.join(SHOTS, "dashboard-aliases.png"), full_page=True)

    # Datasets: the dataset version the run made with the CLI, its file and where it came from.
    page.goto(f"{base}/datastores/datasets")
    expect(page.locator("main")).to_contain_text("dataset://reports/v1")
    text = page.inner_text("main")
    rows_file = next(f for f in _manifest(home, "count_rows", rows)["files"] if f["path"] == "rows.txt")
    assert "rows.txt" in text and rows_file["sha256"] in text and f"dashboard_demo.count_rows {rows}" in text
    shown = _cli("dataset", "show", "reports/v1", "--store", store)
    assert [(f["path"], f["sha256"]) for f in shown["files"]] == [("rows.txt", rows_file["sha256"])]
    page.screenshot(path=os.path.join(SHOTS, "dashboard-datasets.png"), full_page=True)
    _no_secrets(page.content(), secrets)


def _swift_connection_form(page) -> None:
    from playwright.sync_api import expect

    wait = 120_000  # ms; a loaded machine answers slowly, the waits follow readiness
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    page.wait_for_url("**/connections", timeout=wait)
    page.get_by_role("button", name="Add Connection").click(timeout=wait)
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox").fill("Swift", timeout=wait)
    page.get_by_role("option", name="OpenStack Swift").click(timeout=wait)
    labels = dialog.locator("label")
    for label in ("Auth URL", "User name", "Password or key"):  # the standard fields, relabelled
        expect(labels.filter(has_text=label)).to_be_visible(timeout=wait)
    expect(labels.filter(has_text="Port")).to_have_count(0)  # hidden: the auth URL carries it
    page.screenshot(path=os.path.join(SHOTS, "swift-connection-form.png"))
    dialog.get_by_role("button", name="Extra Fields", exact=True).click(timeout=wait)
    for label in ("Auth version", "Project name", "User domain", "Project domain", "Region", "CA bundle",
                  "Skip TLS verification"):
        expect(labels.filter(has_text=label)).to_be_visible(timeout=wait)


def _no_secrets(body: str, secrets) -> None:
    for secret in secrets:
        assert secret not in body
