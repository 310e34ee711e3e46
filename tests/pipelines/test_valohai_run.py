"""A Valohai-shaped pipeline (parameters, a sweep node, every edge form) runs under real Airflow."""

from __future__ import annotations

import json
import os
import shutil
import textwrap

import pytest

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from ..core.dagfiles import dags_folder, load_dag
from ..core.test_dag_runs import task_state, xcom

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAG_ID = "weather_smoothing_sweep"


def mapped_xcoms(run, task_id: str, key: str) -> dict[int, object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(XComModel).where(
            XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id, XComModel.task_id == task_id,
            XComModel.key == key)).all()
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def version_json(dag_id: str, task_id: str, record: dict, name: str) -> dict:
    store = get_store()
    version = load_version(store, dag_id, task_id, record["version_id"])
    return json.loads(store.read_bytes(next(f.key for f in version.files if f.path.endswith(name))))


@pytest.fixture(scope="module")
def sweep_dag(airflow_db):
    target = os.path.join(dags_folder(), "valohai_example")
    shutil.copytree(os.path.join(REPO, "dags", "pipelines"), target, dirs_exist_ok=True)
    return load_dag(textwrap.dedent("""
        # DAGs from YAML (safe mode parses files that mention "airflow" and "dag")
        from airflow_datastores.pipelines import load_pipelines
        load_pipelines("valohai_example/tuning.yaml", namespace=globals())
    """), DAG_ID)


def test_parameters_sweep_and_every_edge_form_reach_the_commands(sweep_dag, capfd):
    run = sweep_dag.test(run_conf={"smoothing": [0.3, 0.6], "prepare.verbose": True, "prepare.hours": [0, 1, 3]})
    out = capfd.readouterr().out
    assert task_state(run, "prepare") == task_state(run, "report") == "success", out[-3000:]
    # {parameters}: every parameter by its pass-as; the flag's pass-true-as; multiple: separate
    assert "label=weather min=-40.0 hours=[0, 1, 3] verbose=True" in out
    # the sweep: one mapped task per value given at trigger
    fits = mapped_xcoms(run, "fit", "datastore_outputs")
    assert sorted(fits) == [0, 1]
    results = sorted((version_json(DAG_ID, "fit", r, "fit.json") for r in fits.values()),
                     key=lambda f: f["smoothing"])
    assert [f["smoothing"] for f in results] == [0.3, 0.6]
    for fit in results:
        assert fit["label"] == "weather"          # parameter -> parameter edge, {parameter:label} pass-as
        assert fit["units"] == "kelvin"           # environment-variable edge
        assert fit["raw_staged"] is True          # input -> input edge (mapping form)
    raw = [r for r in mapped_xcoms(run, "fit", "datastore_inputs")[0] if r["name"] == "raw"]
    prepared = [r for r in xcom(run, "prepare", "datastore_inputs") if r["name"] == "readings"]
    assert [r["sha256"] for r in raw] == [r["sha256"] for r in prepared]  # the same files
    # the clean.csv of prepare (list-form output edge) has only hours 0, 1, 3 (2 is below -40)
    clean = xcom(run, "prepare", "datastore_outputs")
    assert [f["path"] for f in clean["files"]] == ["clean.csv"]
    # mapping-form output edge from the mapped node: report sees both fits; override of its parameter
    report = version_json(DAG_ID, "report", xcom(run, "report", "datastore_outputs"), "report.json")
    assert report["fits"] == 2 and report["title"] == "Weather smoothing"
    assert report["manual"] == "https://example.com/manual.pdf"  # on-demand: URLs, not staged
    assert xcom(run, "report", "datastore_on_demand") == [{"name": "manual",
                                                          "urls": ["https://example.com/manual.pdf"]}]


def test_a_wrong_typed_parameter_on_trigger_is_refused(sweep_dag):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as err:
        sweep_dag.test(run_conf={"prepare.min-celsius": "cold"})
    assert "prepare.min-celsius" in str(err.value) and "'cold' is not of type 'number'" in str(err.value)
    with pytest.raises(ParamValidationError) as err:
        sweep_dag.test(run_conf={"smoothing": [0.5, 2]})
    assert "smoothing" in str(err.value) and "2 is greater than the maximum of 1" in str(err.value)


def test_a_steps_only_file_runs_one_step_with_inputs_and_parameters_from_the_trigger(airflow_db, tmp_path):
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    folder = os.path.join(dags_folder(), "valohai_steps")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "steps.yaml"), "w") as handle:
        handle.write(textwrap.dedent("""\
            - step:
                name: Copy Table
                image: busybox
                command:
                  - cp "$DATASTORE_INPUT_DATA/renamed.csv" "$DATASTORE_OUTPUTS/copy.csv"
                  - echo {parameters} > "$DATASTORE_OUTPUTS/args.txt"
                parameters:
                  - {name: rows, type: integer, default: 1}
                  - {name: sep, type: string, pass-as: "-s {v}", default: ";"}
                inputs:
                  - {name: data, filename: renamed.csv}
            """))
    dag = load_dag(textwrap.dedent("""
        # DAGs from YAML (safe mode parses files that mention "airflow" and "dag")
        from airflow_datastores.pipelines import load_pipelines
        load_pipelines("valohai_steps/steps.yaml", namespace=globals())
    """), "copy_table")
    assert dag.schedule is None
    run = dag.test(run_conf={"input.data": [f"file://{data}"], "rows": 7})
    assert task_state(run, "copy_table") == "success"
    record = xcom(run, "copy_table", "datastore_outputs")
    store = get_store()
    version = load_version(store, "copy_table", "copy_table", record["version_id"])
    files = {f.path: store.read_bytes(f.key) for f in version.files}
    assert files == {"copy.csv": b"a,b\n1,2\n", "args.txt": b"--rows=7 -s ;\n"}
