"""The catalog example DAG (dags/example_catalog.py) run twice: the second run reuses ``fit``, ``serve``
reads the model by alias, ``report`` the newest dataset version, and the tags reach the CLI."""

from __future__ import annotations

import json
import os

from airflow_datastores.cli import main
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import aliases

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom

DAGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "dags")


def test_the_catalog_example_reuses_reads_by_alias_and_by_dataset(airflow_db, monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(DAGS)  # for example_data, as the dags folder gives it
    monkeypatch.setenv("DATASTORES_EXAMPLE_DATA", str(tmp_path / "data"))
    with open(os.path.join(DAGS, "example_catalog.py")) as handle:
        dag = load_dag(handle.read(), "datastores_example_catalog")
    from example_data import make_example_data

    make_example_data(str(tmp_path / "data"))
    first = dag.test()
    assert {t: task_state(first, t) for t in ("fit", "serve", "report")} == dict.fromkeys(("fit", "serve", "report"),
                                                                                         "success")
    fitted = xcom(first, "fit", "datastore_outputs")
    assert fitted["tags"] == ["example"] and fitted["files"][0]["tags"] == ["fitted"]
    assert [f["path"] for f in fitted["files"]] == ["model.json"]  # the sidecar is not a file
    served = xcom(first, "serve", "datastore_inputs")
    assert [(r["alias"], r["version_id"]) for r in served] == [("candidate", fitted["version_id"])]
    reported = xcom(first, "report", "datastore_inputs")
    assert [r["source"] for r in reported] == ["dataset://models/model.json"]

    second = dag.test()
    assert xcom(second, "fit", "datastore_outputs")["version_id"] == fitted["version_id"]  # reused
    store = get_store()
    assert [e.version_id for e in aliases.history(store, "candidate", dag_id="datastores_example_catalog",
                                                  task_id="fit")] == [fitted["version_id"]] * 2
    capsys.readouterr()  # what the runs printed
    assert main(["versions", "datastores_example_catalog", "fit", "--tag", "fitted", "--where", "accuracy=0.93",
                 "--json"]) == 0
    assert [v["version_id"] for v in json.loads(capsys.readouterr().out)] == [fitted["version_id"]]
