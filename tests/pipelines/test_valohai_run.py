"""A Valohai-shaped pipeline (parameters, a sweep node, every edge form) runs under real Airflow."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import uuid

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


PARAMS_DAG = "valohai_parameters"


@pytest.fixture(scope="module")
def params_dag(airflow_db):
    target = os.path.join(dags_folder(), "valohai_parameters")
    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "valohai_parameters.yaml"),
                target)
    return load_dag(textwrap.dedent("""
        # DAGs from YAML (safe mode parses files that mention "airflow" and "dag")
        from airflow_datastores.pipelines import load_pipelines
        load_pipelines("valohai_parameters/valohai_parameters.yaml", namespace=globals())
    """), PARAMS_DAG)


def text_file(dag_id: str, task_id: str, record: dict, name: str) -> str:
    store = get_store()
    version = load_version(store, dag_id, task_id, record["version_id"])
    return store.read_bytes(next(f.key for f in version.files if f.path == name)).decode()


@pytest.fixture(scope="module")
def first_run(params_dag):
    """One run with the integer and the flag given at trigger, the sweep's values not: (run, tag)."""
    tag = uuid.uuid4().hex[:8]  # this run's versions are new, whatever ran before in the store
    run = params_dag.test(run_conf={"steps.workers": 7, "steps.dry-run": True, "tag": tag})
    return run, tag


def test_a_wrong_integer_or_flag_on_trigger_is_refused_naming_the_parameter(params_dag):
    from airflow.sdk.exceptions import ParamValidationError

    for conf, words in (({"steps.workers": "ten"}, "'ten' is not of type 'integer'"),
                        ({"steps.workers": 2.5}, "2.5 is not of type 'integer'"),
                        ({"steps.workers": 17}, "17 is greater than the maximum of 16"),
                        ({"steps.dry-run": "yes"}, "'yes' is not of type 'boolean'")):
        with pytest.raises(ParamValidationError) as err:
            params_dag.test(run_conf=conf)
        (name,) = conf
        assert f"Invalid input for param {name}: {words}" in str(err.value), str(err.value)


def test_parameters_reach_the_command_as_environment_variables(first_run):
    run, tag = first_run
    assert task_state(run, "steps") == "success"
    record = xcom(run, "steps", "datastore_outputs")
    assert text_file(PARAMS_DAG, "steps", record, "env.txt") == f"workers=7 dry=true tag={tag}\n"
    assert text_file(PARAMS_DAG, "steps", record, "args.txt") == f"--workers=7 --dry-run --run-tag={tag}\n"


def test_a_sweep_given_no_values_at_trigger_runs_over_its_default_list(first_run):
    run, tag = first_run
    fits = mapped_xcoms(run, "fit", "datastore_outputs")
    assert sorted(fits) == [0, 1, 2]  # one mapped task per value of the default [0.25, 0.5, 0.75]
    assert sorted(text_file(PARAMS_DAG, "fit", r, "rate.txt") for r in fits.values()) == [
        f"rate={rate} tag={tag}\n" for rate in (0.25, 0.5, 0.75)]


def test_reuse_executions_reuses_what_an_earlier_run_made_from_the_same_parameters(params_dag, first_run, capfd):
    run, tag = first_run
    first_steps = xcom(run, "steps", "datastore_outputs")["version_id"]
    first_fits = {i: r["version_id"] for i, r in mapped_xcoms(run, "fit", "datastore_outputs").items()}
    capfd.readouterr()
    again = params_dag.test(run_conf={"steps.workers": 7, "steps.dry-run": True, "tag": tag})
    out = capfd.readouterr().out
    assert xcom(again, "steps", "datastore_outputs")["version_id"] == first_steps
    assert {i: r["version_id"] for i, r in mapped_xcoms(again, "fit", "datastore_outputs").items()} == first_fits
    assert f"Reusing version {first_steps} of {PARAMS_DAG}.steps" in out, out[-3000:]
    # one changed parameter value runs the step that takes it; the sweep (same values) is reused
    changed = params_dag.test(run_conf={"steps.workers": 8, "steps.dry-run": True, "tag": tag})
    record = xcom(changed, "steps", "datastore_outputs")
    assert record["version_id"] != first_steps
    assert text_file(PARAMS_DAG, "steps", record, "env.txt") == f"workers=8 dry=true tag={tag}\n"
    assert {i: r["version_id"] for i, r in mapped_xcoms(changed, "fit", "datastore_outputs").items()} == first_fits
