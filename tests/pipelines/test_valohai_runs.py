"""What the loader defers to run time works when the pipeline runs under real Airflow (dag.test):
several edges into one input, an input given at trigger, {parameter:NAME} in a URL, Valohai datum://
URLs (through [datastores] datums and through an alias a sidecar set), a pipeline with a deployment
node, and the documented two-line DAG file under safe-mode discovery."""

from __future__ import annotations

import json
import os
import textwrap
import uuid

import pytest

from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from ..core.dagfiles import dags_folder, load_dag
from ..core.test_dag_runs import task_state, xcom


def yaml_dag(text: str, dag_id: str):
    """``text`` as a YAML file in the dags folder, loaded by a DAG file written as the README says."""
    folder = os.path.join(dags_folder(), f"valohai_runs_{uuid.uuid4().hex[:8]}")
    os.makedirs(folder)
    with open(os.path.join(folder, "valohai.yaml"), "w") as handle:
        handle.write(textwrap.dedent(text))
    return load_dag(f"""
        from airflow_datastores import load_pipelines
        dags = load_pipelines("{os.path.basename(folder)}/valohai.yaml", namespace=globals())
    """, dag_id)


def version_files(dag_id: str, task_id: str, record: dict) -> dict[str, bytes]:
    store = get_store()
    version = load_version(store, dag_id, task_id, record["version_id"])
    return {f.path: store.read_bytes(f.key) for f in version.files}


FAN_IN = """\
    - step:
        name: split
        command: echo "$PART" > "$DATASTORE_OUTPUTS/$FILE"
        environment-variables:
          - {name: PART, default: none}
          - {name: FILE, default: part.csv}
    - step:
        name: combine
        command: cat "$DATASTORE_INPUT_PARTS"/*.csv | sort > "$DATASTORE_OUTPUTS/all.txt"
        inputs:
          - name: parts
    - pipeline:
        name: DAG_ID
        nodes:
          - name: left
            step: split
            override:
              environment-variables:
                - {name: PART, default: left}
                - {name: FILE, default: LEFT_FILE}
          - name: right
            step: split
            override:
              environment-variables:
                - {name: PART, default: right}
                - {name: FILE, default: right.csv}
          - {name: combine, step: combine}
        edges:
          - [left.output.*.csv, combine.input.parts]
          - [right.output.*.csv, combine.input.parts]
"""


def test_several_edges_feed_one_input_with_all_their_files(airflow_db):
    dag_id = f"fan_in_{uuid.uuid4().hex[:6]}"
    run = yaml_dag(FAN_IN.replace("DAG_ID", dag_id).replace("LEFT_FILE", "left.csv"), dag_id).test()
    assert task_state(run, "combine") == "success"
    staged = sorted(r["path"].rsplit("/", 1)[-1] for r in xcom(run, "combine", "datastore_inputs"))
    assert staged == ["left.csv", "right.csv"]
    assert version_files(dag_id, "combine", xcom(run, "combine", "datastore_outputs")) == {"all.txt": b"left\nright\n"}


def test_two_edges_that_bring_files_of_one_name_fail_naming_both(airflow_db, capfd):
    dag_id = f"fan_in_clash_{uuid.uuid4().hex[:6]}"
    run = yaml_dag(FAN_IN.replace("DAG_ID", dag_id).replace("LEFT_FILE", "right.csv"), dag_id).test()
    assert task_state(run, "combine") == "failed"
    out = capfd.readouterr()
    message = next(line for line in (out.out + out.err).splitlines() if "would both land at parts/right.csv" in line)
    assert f"/{dag_id}/left/" in message and f"/{dag_id}/right/" in message, message


def test_an_input_nothing_feeds_is_given_at_trigger_or_fails_naming_its_field(airflow_db, tmp_path, capfd):
    (tmp_path / "a.png").write_text("pixels")
    dag_id = f"trigger_input_{uuid.uuid4().hex[:6]}"
    dag = yaml_dag(f"""\
        - step:
            name: label
            command: ls "$DATASTORE_INPUT_IMAGES" > "$DATASTORE_OUTPUTS/labels.txt"
            inputs:
              - name: images
        - pipeline:
            name: {dag_id}
            nodes:
              - {{name: label, step: label}}
        """, dag_id)
    failed = dag.test()
    assert task_state(failed, "label") == "failed"
    out = capfd.readouterr()
    assert "Input 'images' of step label has no URL: give its URLs when triggering the run (the field " \
           "'label.input.images')" in out.out + out.err
    run = dag.test(run_conf={"label.input.images": [f"file://{tmp_path}/*.png"]})
    assert task_state(run, "label") == "success"
    assert version_files(dag_id, "label", xcom(run, "label", "datastore_outputs")) == {"labels.txt": b"a.png\n"}


def test_a_parameter_in_an_input_url_is_rendered_from_the_runs_values(airflow_db, tmp_path):
    for name in ("north", "south"):
        (tmp_path / f"{name}_readings.csv").write_text(f"{name}\n")
    dag_id = f"url_parameter_{uuid.uuid4().hex[:6]}"
    dag = yaml_dag(f"""\
        - step:
            name: read
            command: cp "$DATASTORE_INPUT_DATA"/*.csv "$DATASTORE_OUTPUTS/"
            parameters:
              - {{name: region, type: string, default: north}}
            inputs:
              - name: data
                default: file://{tmp_path}/{{parameter:region}}_readings.csv
        - pipeline:
            name: {dag_id}
            nodes:
              - {{name: read, step: read}}
        """, dag_id)
    run = dag.test(run_conf={"read.region": "south"})
    assert task_state(run, "read") == "success"
    assert version_files(dag_id, "read", xcom(run, "read", "datastore_outputs")) == {"south_readings.csv": b"south\n"}


def test_datum_urls_resolve_through_the_table_and_through_a_sidecars_alias(airflow_db, tmp_path, monkeypatch,
                                                                          capfd):
    (tmp_path / "copied.csv").write_text("from the table\n")
    alias = f"model-best-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("AIRFLOW__DATASTORES__DATUMS", json.dumps({"0195d1c0-aaaa": f"file://{tmp_path}/copied.csv"}))
    producer = f"datum_producer_{uuid.uuid4().hex[:6]}"
    sidecar = json.dumps(json.dumps({"valohai.alias": alias, "accuracy": 0.9}))  # a YAML string of the JSON
    run = yaml_dag(f"""\
        - step:
            name: train
            command:
              - echo weights > "$DATASTORE_OUTPUTS/model.pkl"
              - echo notes > "$DATASTORE_OUTPUTS/notes.txt"
              - printf '%s' "$SIDECAR" > "$DATASTORE_OUTPUTS/model.pkl.metadata.json"
            environment-variables:
              - {{name: SIDECAR, default: {sidecar}}}
        - pipeline:
            name: {producer}
            nodes:
              - {{name: train, step: train}}
        """, producer).test()
    assert task_state(run, "train") == "success"
    consumer = f"datum_consumer_{uuid.uuid4().hex[:6]}"
    dag = yaml_dag(f"""\
        - step:
            name: score
            command: cat "$DATASTORE_INPUT_MODEL"/* "$DATASTORE_INPUT_TABLE"/* > "$DATASTORE_OUTPUTS/seen.txt"
            inputs:
              - {{name: model, default: "datum://{alias}"}}
              - {{name: table, default: "datum://0195d1c0-aaaa"}}
        - pipeline:
            name: {consumer}
            nodes:
              - {{name: score, step: score}}
        """, consumer)
    run = dag.test()
    assert task_state(run, "score") == "success"
    staged = {r["name"]: r["path"].rsplit("/", 1)[-1] for r in xcom(run, "score", "datastore_inputs")}
    assert staged == {"model": "model.pkl", "table": "copied.csv"}  # the alias names one file, not notes.txt
    seen = version_files(consumer, "score", xcom(run, "score", "datastore_outputs"))["seen.txt"]
    assert seen == b"weights\nfrom the table\n"
    capfd.readouterr()
    failed = dag.test(run_conf={"score.input.model": ["datum://nobody-set-this"]})
    assert task_state(failed, "score") == "failed"
    out = capfd.readouterr()
    text = out.out + out.err
    assert "Input 'model': datum://nobody-set-this is a Valohai datum that nothing here resolves" in text
    assert "[datastores] datums" in text and "alias set DAG TASK nobody-set-this VERSION --path FILE" in text


def test_a_pipeline_with_a_deployment_node_runs_the_rest(airflow_db):
    dag_id = f"with_deployment_{uuid.uuid4().hex[:6]}"
    run = yaml_dag(f"""\
        - step:
            name: train
            command: echo w > "$DATASTORE_OUTPUTS/model.pkl"
        - step:
            name: report
            command: ls "$DATASTORE_INPUT_MODEL" > "$DATASTORE_OUTPUTS/report.txt"
            inputs:
              - name: model
        - pipeline:
            name: {dag_id}
            nodes:
              - {{name: train, step: train, type: execution}}
              - {{name: deploy, type: deployment, deployment: prod, endpoints: [predict]}}
              - {{name: report, step: report, type: execution}}
            edges:
              - [train.output.model*, deploy.file.predict.model]
              - [train.output.model*, report.input.model]
        """, dag_id).test()
    assert task_state(run, "train") == task_state(run, "report") == "success"
    assert version_files(dag_id, "report", xcom(run, "report", "datastore_outputs")) == {"report.txt": b"model.pkl\n"}


@pytest.mark.parametrize(("source", "found"), [
    ('from airflow_datastores import load_pipelines\ndags = load_pipelines("p.yaml", namespace=globals())\n', True),
    ('from airflow_datastores import load_pipelines\nload_pipelines("p.yaml", namespace=globals())\n', False),
])
def test_the_documented_dag_file_is_found_by_safe_mode_discovery(tmp_path, source, found, caplog):
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "p.yaml").write_text("- step:\n    name: hello\n    command: echo hi\n")
    (tmp_path / "pipelines.py").write_text(source)
    bag = DagBag(dag_folder=str(tmp_path), safe_mode=True)
    assert bag.import_errors == {}
    assert ("hello" in bag.dag_ids) is found
    if not found:  # run by hand, the file says why Airflow will never see it
        import runpy

        runpy.run_path(str(tmp_path / "pipelines.py"))
        assert "safe-mode DAG discovery skips it" in caplog.text
