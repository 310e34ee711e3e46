"""The dashboard's pages read from the stores (a version's lineage, aliases, datasets) through its FastAPI
app on a real local store: the same answers as the core and the CLI, each edge as the manifests say, and a
user restricted to one DAG sees that a step of another DAG is there, not its names, files or hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi import Depends, HTTPException, Request

from airflow_datastores.plugin import probes
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Producer, aliases, datasets, lineage, load_version, snapshot

CLI = os.path.join(os.path.dirname(sys.executable), "airflow-datastores")
AUTH = {"Authorization": "Bearer ok"}


def authenticated(request: Request) -> str:
    if request.headers.get("Authorization") != "Bearer ok":
        raise HTTPException(401, "Not authenticated")
    return "user"


def _commit(store, tmp_path, dag_id: str, task_id: str, files: dict[str, str], inputs=()):
    out = tmp_path / f"{dag_id}-{task_id}"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    return snapshot(str(out), store=store, producer=Producer(dag_id=dag_id, task_id=task_id, run_id="r1"),
                    inputs=list(inputs))


def _from(version, path: str, name: str) -> dict:
    entry = next(f for f in version.files if f.path == path)
    return {"name": name, "url": version.store + "/" + entry.key, "path": f"{name}/{path}", "size": entry.size,
            "md5": entry.md5, "sha1": entry.sha1, "sha256": entry.sha256, "identity": "i",
            "source": f"datastore://{version.dag_id}/{version.task_id}/{path}", "version_id": version.version_id}


@pytest.fixture
def site(tmp_path, monkeypatch, local_root):
    """A local default store holding: raw input -> ingest (DAG secret_etl) -> prepare -> train (DAG ml),
    an alias on train's model, a dataset version of prepare's features."""
    monkeypatch.setenv("AIRFLOW__DATASTORES__DEFAULT_STORE", local_root)
    monkeypatch.setattr(probes, "reachability", lambda refs, **_: {r.url: None for r in refs})
    store = get_store(local_root)
    raw = {"name": "raw", "url": "https://user:pw@example.com/raw.csv?sig=abc", "path": "raw/raw.csv", "size": 3,
           "md5": "m", "sha1": "s", "sha256": "a" * 64, "identity": "e", "source": "https://example.com/raw.csv",
           "changed": True}
    ingest = _commit(store, tmp_path, "secret_etl", "ingest", {"rows.csv": "1,2\n"}, [raw])
    prepare = _commit(store, tmp_path, "ml", "prepare", {"features.csv": "f\n"}, [_from(ingest, "rows.csv", "rows")])
    train = _commit(store, tmp_path, "ml", "train", {"model.pkl": "w", "notes.txt": "n"},
                    [_from(prepare, "features.csv", "features")])
    aliases.set_alias(store, "best", dag_id="ml", task_id="train", version_id=train.version_id, path="model.pkl",
                      scope="global", set_by="ml.train r1")
    datasets.create_dataset_version(store, "features/v1", versions=[(prepare, prepare.files)])
    from fastapi.testclient import TestClient

    from airflow_datastores.plugin.app import create_app

    db = _empty_xcom_db()
    dags: list = [None]
    app = create_app(authenticated=Depends(authenticated), readable_dags=lambda: dags[0], session=lambda: db,
                     url_prefix="/datastores")
    return {"client": TestClient(app, root_path="/datastores"), "store": store, "dags": dags,
            "versions": {"ingest": ingest, "prepare": prepare, "train": train}, "root": local_root}


def _empty_xcom_db():
    from airflow.models.taskinstance import TaskInstance  # noqa: F401 - the table xcom's foreign key names
    from airflow.models.xcom import XComModel
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    XComModel.__table__.create(engine)
    return Session(engine)


def test_the_trace_page_and_json_match_the_core_and_the_manifests(site):
    client, store, v = site["client"], site["store"], site["versions"]
    query = f"dag_id=ml&task_id=prepare&version={v['prepare'].version_id}"
    assert client.get(f"/api/trace?{query}").status_code == 401
    found = client.get(f"/api/trace?{query}", headers=AUTH).json()
    core = lineage.trace(store, "ml", "prepare", v["prepare"].version_id).to_dict()
    assert [(e["source"], e["target"], e["input"]) for e in found["edges"]] == [
        (e["source"], e["target"], e["input"]) for e in core["edges"]]
    nodes = {n["id"]: n for n in found["nodes"]}
    for edge in found["edges"]:  # each staging is what the target's manifest lists
        target = nodes[edge["target"]]
        if target["kind"] == "version":
            manifest = load_version(store, target["dag_id"], target["task_id"], target["version_id"])
            assert edge["sha256"] in {r["sha256"] for r in manifest.inputs if r["name"] == edge["input"]}
    raw = next(n for n in found["nodes"] if n["kind"] == "input")
    assert raw["url"] == "https://example.com/raw.csv?…" and "pw" not in json.dumps(found)
    assert {n["label"] for n in found["nodes"]} == {"input raw", "secret_etl.ingest", "ml.prepare", "ml.train"}
    page = client.get(f"/trace?{query}", headers=AUTH).text
    assert '<svg class="trace"' in page and "ml.train" in page and "secret_etl.ingest" in page
    assert f"/datastores/trace?dag_id=ml&amp;task_id=train&amp;version={v['train'].version_id}" in page
    assert client.get("/api/trace?dag_id=ml&task_id=prepare&version=nope", headers=AUTH).status_code == 404
    assert client.get(f"/api/trace?{query}&store=https://elsewhere.example", headers=AUTH).status_code == 404


def test_a_user_of_one_dag_sees_that_a_step_is_there_not_its_names_or_hashes(site):
    client, v = site["client"], site["versions"]
    site["dags"][0] = {"ml"}
    found = client.get(f"/api/trace?dag_id=ml&task_id=prepare&version={v['prepare'].version_id}", headers=AUTH).json()
    hidden = [n for n in found["nodes"] if n["kind"] == "hidden"]
    assert len(hidden) == 1 and hidden[0]["label"] == "a step of a DAG you may not read"
    text = json.dumps(found)
    assert "secret_etl" not in text and "ingest" not in text
    assert v["ingest"].files[0].sha256 not in text
    assert not any(n["kind"] == "input" for n in found["nodes"])  # what lies behind it is not followed
    assert client.get(f"/api/trace?dag_id=secret_etl&task_id=ingest&version={v['ingest'].version_id}",
                      headers=AUTH).status_code == 404


def test_aliases_and_datasets_pages_say_what_the_cli_says(site):
    client, root, v = site["client"], site["root"], site["versions"]
    cli_aliases = json.loads(subprocess.run([CLI, "alias", "ls", "--store", root, "--json"], capture_output=True,
                                            text=True, timeout=120, check=True).stdout)
    page_aliases = client.get("/api/aliases", headers=AUTH).json()
    assert [{k: a[k] for k in cli_aliases[0]} for s in page_aliases for a in s["aliases"]] == cli_aliases
    assert page_aliases[0]["aliases"][0]["path"] == "model.pkl"
    assert [m["sequence"] for m in page_aliases[0]["aliases"][0]["history"]] == [1]
    html = client.get("/aliases", headers=AUTH).text
    assert "alias://" in html and "best" in html and "model.pkl" in html and v["train"].version_id in html
    cli_dataset = json.loads(subprocess.run([CLI, "dataset", "show", "features/v1", "--store", root, "--json"],
                                            capture_output=True, text=True, timeout=120, check=True).stdout)
    page_datasets = client.get("/api/datasets", headers=AUTH).json()
    (shown,) = page_datasets[0]["datasets"]
    assert [f["sha256"] for f in shown["files"]] == [f["sha256"] for f in cli_dataset["files"]]
    assert shown["origins"] == [{"dag_id": "ml", "task_id": "prepare", "version_id": v["prepare"].version_id,
                                 "files": 1}]
    assert "dataset://features/v1" in client.get("/datasets", headers=AUTH).text
    site["dags"][0] = {"secret_etl"}  # a user who may not read DAG ml sees neither
    assert client.get("/api/aliases", headers=AUTH).json() == []
    assert client.get("/api/datasets", headers=AUTH).json()[0]["datasets"][0]["origins"][0]["dag_id"] is None
