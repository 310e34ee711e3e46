"""Valohai step scripts run unchanged: a three-step YAML pipeline whose scripts use valohai-utils (the real
client: prepare, inputs().path()/paths(), parameters().value, outputs().path(), metadata.logger(),
output_properties()) and literal /valohai/... paths runs under `airflow dags test`; its metadata is
kept and feeds the next step; a node action stops the pipeline when its condition holds; a
require-approval node waits for an approval given through Airflow's REST API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import types
import urllib.error
import urllib.request
import uuid

import pytest

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from ..core.dagfiles import dags_folder, load_dag
from ..core.test_dag_runs import task_state, xcom
from ..servers.base import free_port, http_ok, stop_process_groups

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "valohai_utils")
BIN = os.path.dirname(sys.executable)
DAG_ID = "valohai-utils-pipeline"


def cli_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}  # `python` has valohai-utils


def latest_run(dag_id: str):
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
        return types.SimpleNamespace(dag_id=run.dag_id, run_id=run.run_id, state=run.state)


def files_of(dag_id: str, task_id: str, run) -> tuple[dict[str, bytes], object]:
    store = get_store()
    version = load_version(store, dag_id, task_id, xcom(run, task_id, "datastore_outputs")["version_id"])
    return {f.path: store.read_bytes(f.key) for f in version.files}, version


@pytest.fixture(scope="module")
def dag_file(airflow_db):
    folder = os.path.join(dags_folder(), "valohai_utils")
    shutil.copytree(FIXTURE, folder, dirs_exist_ok=True)
    path = os.path.join(dags_folder(), "valohai_utils_dags.py")
    with open(path, "w") as handle:
        handle.write('from airflow_datastores import load_pipelines\n'
                     'dags = load_pipelines("valohai_utils/valohai.yaml", namespace=globals())\n')
    return path


def dags_test(dag_file: str, conf: dict, *, dag_id: str = DAG_ID) -> tuple[object, str]:
    """``airflow dags test`` as a person runs it; the run it made, and what it printed."""
    done = subprocess.run([os.path.join(BIN, "airflow"), "dags", "test", dag_id, "-f", dag_file, "-c",
                           json.dumps(conf)], env=cli_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return latest_run(dag_id), done.stdout + done.stderr


@pytest.fixture(scope="module")
def good_run(dag_file):
    return dags_test(dag_file, {"train.quality": 0.95})


def test_scripts_find_their_inputs_parameters_and_paths_unchanged(good_run):
    run, output = good_run
    assert [task_state(run, t) for t in ("prepare", "train", "train__actions", "report")] == ["success"] * 4, \
        output[-4000:]
    prepared, version = files_of(DAG_ID, "prepare", run)
    seen = json.loads(prepared["seen.json"])
    assert seen["raw"].endswith("/inputs/raw/raw.csv") and seen["scale"] == 2.0  # staged, not the script's default
    assert prepared["features.csv"] == b"x,y\n2.0,2\n6.0,5\n16.0,13\n"
    # output_properties() (valohai.metadata.jsonl) is read like a sidecar, not committed as a file
    assert sorted(prepared) == ["features.csv", "seen.json"]
    features = next(f for f in version.files if f.path == "features.csv")
    assert features.properties == {"rows": 3} and features.tags == ["prepared"]
    trained, _ = files_of(DAG_ID, "train", run)
    model = json.loads(trained["model.txt"])  # written to the literal /valohai/outputs/model.txt
    assert model["features"] == prepared["features.csv"].decode()  # edge-fed input
    assert model["images"] == ["png-a", "png-b"]  # a wildcard default
    assert model["extra"] == "a note\n"  # an input only the YAML declares
    assert model["threshold"] == 0.42  # the metadata edge: what prepare printed last
    assert model["epochs"] == 3
    execution = model["execution"]
    assert execution["counter"] >= 1 and execution["id"] and execution["title"] == f"{DAG_ID}.train"
    reported, _ = files_of(DAG_ID, "report", run)
    assert reported == {"report.txt": b"/valohai/inputs/model: model.txt\n"}  # paths given as arguments


def test_the_metadata_a_step_prints_is_kept_with_its_version_and_in_xcom(good_run):
    run, _ = good_run
    metadata = xcom(run, "train", "datastore_metadata")
    assert metadata["count"] == 3 and metadata["last"] == {"epoch": 3, "loss": 0.333, "accuracy": 0.95}
    assert [p["values"]["epoch"] for p in metadata["series"]] == [1, 2, 3]
    _, version = files_of(DAG_ID, "train", run)
    assert version.execution_metadata["last"] == metadata["last"]
    assert xcom(run, "prepare", "datastore_metadata")["last"] == {"rows": 3, "best_threshold": 0.42}


def test_a_node_action_stops_the_pipeline_when_its_condition_holds(dag_file, good_run):
    run, output = dags_test(dag_file, {"train.quality": 0.5})
    assert task_state(run, "train") == "success" and task_state(run, "train__actions") == "success"
    assert task_state(run, "report") == "skipped", output[-4000:]
    assert "'metadata.accuracy < 0.9' holds (metadata.accuracy=0.5" in output
    good, _ = good_run  # and with accuracy 0.95 it did not stop (the run above)
    assert task_state(good, "report") == "success"


def test_without_mount_privilege_the_commands_valohai_paths_are_rewritten(airflow_db, tmp_path, monkeypatch, capfd):
    from airflow_datastores.mounts import namespace

    monkeypatch.setattr(namespace, "has_mount_privilege", lambda: False)
    folder = os.path.join(dags_folder(), f"valohai_paths_{uuid.uuid4().hex[:6]}")
    os.makedirs(folder)
    (tmp_path / "in.txt").write_text("data\n")
    dag_id = f"valohai_paths_{uuid.uuid4().hex[:6]}"
    with open(os.path.join(folder, "valohai.yaml"), "w") as handle:
        handle.write(textwrap.dedent(f"""\
            - step:
                name: copy
                command: cp /valohai/inputs/data/in.txt /valohai/outputs/out.txt
                inputs:
                  - {{name: data, default: "file://{tmp_path}/in.txt"}}
            - pipeline:
                name: {dag_id}
                nodes:
                  - {{name: copy, step: copy}}
            """))
    dag = load_dag(f"""
        from airflow_datastores import load_pipelines
        dags = load_pipelines("{os.path.basename(folder)}/valohai.yaml", namespace=globals())
    """, dag_id)
    run = dag.test()
    assert task_state(run, "copy") == "success"
    assert files_of(dag_id, "copy", run)[0] == {"out.txt": b"data\n"}
    out = capfd.readouterr()
    assert "the /valohai/... paths of the command were rewritten" in out.out + out.err


APPROVAL = """\
- step:
    name: publish
    command: echo published > "$DATASTORE_OUTPUTS/published.txt"
- pipeline:
    name: DAG_ID
    nodes:
      - name: publish
        step: publish
        actions:
          - {when: node-starting, then: require-approval}
"""


@pytest.fixture(scope="module")
def api_server(airflow_db, tmp_path_factory):
    """An Airflow api-server on the session's metadata database, with one admin user."""
    root = tmp_path_factory.mktemp("api")
    (root / "passwords.json").write_text(json.dumps({"admin": "approval-test"}))
    port = free_port()
    env = {**cli_env(), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(root / "passwords.json"),
           "AIRFLOW__API_AUTH__JWT_SECRET": "approval-test-jwt-secret",
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    with open(root / "api-server.log", "wb") as log:
        server = subprocess.Popen([os.path.join(BIN, "airflow"), "api-server", "--host", "127.0.0.1", "--port",
                                   str(port), "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while not http_ok(f"{base}/api/v2/monitor/health", expect=lambda status, _body: status == 200):
            assert server.poll() is None and time.monotonic() - started < 600, \
                (root / "api-server.log").read_text()[-3000:]
            time.sleep(0.5)
        request = urllib.request.Request(f"{base}/auth/token", method="POST", headers={
            "Content-Type": "application/json"}, data=json.dumps({"username": "admin",
                                                                   "password": "approval-test"}).encode())
        with urllib.request.urlopen(request, timeout=60) as response:
            token = json.load(response)["access_token"]
        yield {"base": base, "token": token}
    finally:
        stop_process_groups([server], grace=15)


def api(server: dict, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{server['base']}/api/v2{path}", method=method, headers={
        "Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_require_approval_waits_for_an_approval_given_through_the_api(dag_file, api_server, tmp_path):
    dag_id = f"approval_{uuid.uuid4().hex[:6]}"
    folder = os.path.join(dags_folder(), dag_id)
    os.makedirs(folder)
    with open(os.path.join(folder, "valohai.yaml"), "w") as handle:
        handle.write(APPROVAL.replace("DAG_ID", dag_id))
    path = os.path.join(folder, "approval_dags.py")
    with open(path, "w") as handle:
        handle.write('from airflow_datastores import load_pipelines\n'
                     'dags = load_pipelines("valohai.yaml", namespace=globals())\n')
    with open(tmp_path / "dags-test.log", "wb") as log:
        runner = subprocess.Popen([os.path.join(BIN, "airflow"), "dags", "test", dag_id, "-f", path], env=cli_env(),
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started, waiting = time.monotonic(), None
        while waiting is None:  # the approval task parks in AWAITING_INPUT; publish has not run
            assert runner.poll() is None and time.monotonic() - started < 600, \
                (tmp_path / "dags-test.log").read_text()[-4000:]
            time.sleep(1)
            try:
                runs = api(api_server, "GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
            except urllib.error.HTTPError as err:  # the DAG is not in the database yet
                assert err.code == 404, err
                continue
            if runs:
                details = api(api_server, "GET", f"/dags/{dag_id}/dagRuns/{runs[0]['dag_run_id']}/hitlDetails")
                waiting = next(iter(details.get("hitl_details", [])), None) and runs[0]["dag_run_id"]
        run = types.SimpleNamespace(dag_id=dag_id, run_id=waiting)
        while task_state(run, "publish__approval") != "awaiting_input":  # parked: a response now resumes it
            assert runner.poll() is None and time.monotonic() - started < 600, \
                (tmp_path / "dags-test.log").read_text()[-4000:]
            time.sleep(1)
        assert task_state(run, "publish") in (None, "scheduled", "queued")
        api(api_server, "PATCH", f"/dags/{dag_id}/dagRuns/{waiting}/taskInstances/publish__approval/-1/hitlDetails",
            {"chosen_options": ["Approve"]})
        assert runner.wait(timeout=600) == 0, (tmp_path / "dags-test.log").read_text()[-4000:]
    finally:
        stop_process_groups([runner], grace=10)
    assert task_state(run, "publish__approval") == task_state(run, "publish") == "success"
    assert files_of(dag_id, "publish", run)[0] == {"published.txt": b"published\n"}


def test_the_cli_shows_what_a_step_printed(good_run):
    run, _ = good_run
    version_id = xcom(run, "train", "datastore_outputs")["version_id"]
    cli = os.path.join(BIN, "airflow-datastores")
    shown = subprocess.run([cli, "show", DAG_ID, "train", version_id, "--json"], env=cli_env(), capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["execution_metadata"]["last"] == {"epoch": 3, "loss": 0.333, "accuracy": 0.95}
    table = subprocess.run([cli, "show", DAG_ID, "train", version_id], env=cli_env(), capture_output=True,
                           text=True, timeout=120).stdout
    assert "metadata   3 lines printed" in table
    assert [line.split()[:2] for line in table.splitlines() if line.startswith(("accuracy", "loss"))] == [
        ["accuracy", "0.95"], ["loss", "0.333"]]
    assert "3 points, 1.0 -> 0.333" in table
