"""YAML pipelines: the example runs as a DAG; every mistake names the file and the line."""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest

from airflow_datastores.pipelines import PipelineError, load_pipelines, read_pipelines
from airflow_datastores.pipelines.parse import read_file
from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import load_version

from ..core.dagfiles import dags_folder, load_dag
from ..core.test_dag_runs import task_state, xcom

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GOOD_STEPS = """\
- step:
    name: prep
    command: echo hi > $DATASTORE_OUTPUTS/a.txt
    inputs:
      - name: raw
        default: file:///tmp/raw.csv
- step:
    name: train
    command: [ls $DATASTORE_INPUT_DATA]
    inputs:
      - name: data
"""

# Refused, as Valohai's parser refuses them (or as our own checks do): (YAML, line, words the message must contain)
BAD = {
    "syntax": ("- step:\n    name: a\n    command: [unclosed\n", 4, "not valid YAML"),
    "not_a_list": ("step:\n  name: a\n", 1, "must be a list"),
    "unknown_step_key": ("- step:\n    name: a\n    command: x\n    comand: y\n", 4,
                         "unknown key 'comand' in step 'a' (did you mean 'command'?)"),
    "missing_name": ("- step:\n    command: x\n", 1, "a step needs 'name'"),
    "missing_command": ("- step:\n    name: a\n", 1, "step 'a' needs 'command'"),
    "bad_policy": ("- step:\n    name: a\n    command: x\n    on-input-change: shout\n", 4,
                   "'on-input-change' of step 'a' is 'shout'; use one of warn, fail, ignore"),
    "unknown_node_step": (GOOD_STEPS + "- pipeline:\n    name: p\n    nodes:\n      - {name: n, step: trian}\n", 15,
                          "names step 'trian', which is not defined (did you mean 'train'?)"),
    "edge_to_missing_node": (GOOD_STEPS + "- pipeline:\n    name: p\n    nodes:\n      - {name: prep, step: prep}\n"
                             "      - {name: train, step: train}\n    edges:\n      - [prep.output.*, tran.input.data]\n",
                             18, "edge names node 'tran', which is not a node of pipeline 'p' (did you mean 'train'?)"),
    "cycle": (GOOD_STEPS.replace("      - name: raw\n        default: file:///tmp/raw.csv\n",
                                 "      - name: raw\n") + "- pipeline:\n    name: p\n    nodes:\n"
              "      - {name: prep, step: prep}\n      - {name: train, step: train}\n    edges:\n"
              "      - [prep.output.*, train.input.data]\n      - [train.output.*, prep.input.raw]\n",
              17, "make a cycle: prep -> train -> prep"),
    "wrong_type": ("- step:\n    name: a\n    command: x\n    skip-if-unchanged: sometimes\n", 4,
                   "'skip-if-unchanged' of step 'a' must be true or false, not 'sometimes'"),
}

# Loaded, as Valohai loads them, with a note on the line (the step that needs it fails when it runs):
# (YAML, line, words the note must contain)
NOTED = {
    "unknown_item": ("- stpe:\n    name: a\n", 1, "none of step, task, endpoint, pipeline (it has 'stpe' (did you "
                                                   "mean 'step'?)); it is skipped, as Valohai skips it"),
    "bad_url": ("- step:\n    name: a\n    command: x\n    inputs:\n      - name: i\n        default: ftp://x/y\n",
                6, "input 'i' of step 'a': 'ftp://x/y' is not a store URL"),
    "edge_to_missing_input": (GOOD_STEPS + "- pipeline:\n    name: p\n    nodes:\n      - {name: prep, step: prep}\n"
                              "      - {name: train, step: train}\n    edges:\n      - [prep.output.*, train.input.dta]\n",
                              18, "step 'train' has no such input (did you mean 'data'?); it carries nothing"),
    "unfed_input": (GOOD_STEPS + "- pipeline:\n    name: p\n    nodes:\n      - {name: train, step: train}\n", 11,
                    "input 'data' of node 'train' of pipeline 'p' has no default and no edge feeds it: a run gives "
                    "its URLs in 'train.input.data'"),
    "duplicate_step": ("- step:\n    name: a\n    command: x\n- step:\n    name: a\n    command: y\n", 4,
                       "a step named 'a' is already defined on line 1; the last one is used"),
    "bad_mount": ("- step:\n    name: a\n    command: x\n    mounts:\n      - {source: data, destination: /mnt/x, "
                  "type: bind}\n", 5, "mount of step 'a': mounts[0].source: 'data' is relative"),
    "repeated_key": ("- step:\n    name: a\n    command: x\n    inputs: []\n    inputs:\n      - {name: i}\n", 5,
                     "key 'inputs' is written twice in one mapping (also on line 4); the last one is used"),
}


def assert_mistake(tmp_path, case: str, text: str, line: int, words: str) -> None:
    """Reading ``text`` as ``<case>.yaml`` fails with a message that starts with ``<case>.yaml:<line>:``
    and says ``words``."""
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(PipelineError) as err:
        read_pipelines(str(path))
    message = str(err.value)
    assert message.startswith(f"{case}.yaml:{line}: "), message
    assert words in message, message
    assert "Traceback" not in message


def assert_noted(tmp_path, case: str, text: str, line: int, words: str) -> list[str]:
    """``text`` as ``<case>.yaml`` loads (its DAGs build), with a note on ``line`` that says ``words``; in
    strict mode the same words are an error. Returns the notes."""
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    reader = Reader(str(path))
    read_file(reader)
    load_pipelines(str(path))
    notes = [n for n in reader.notes if n.startswith(f"{case}.yaml:{line}: ")]
    assert any(words in n for n in notes), reader.notes
    with pytest.raises(PipelineError, match="strict mode"):
        read_pipelines(str(path), strict=True)
    return reader.notes


@pytest.mark.parametrize("case", sorted(BAD))
def test_mistakes_name_the_file_and_line(case, tmp_path):
    assert_mistake(tmp_path, case, *BAD[case])


@pytest.mark.parametrize("case", sorted(NOTED))
def test_what_valohai_takes_loads_with_a_note_on_its_line(case, tmp_path):
    assert_noted(tmp_path, case, *NOTED[case])


def test_relative_file_urls_and_the_dag_shape(tmp_path):
    shutil.copytree(os.path.join(REPO, "dags", "pipelines"), tmp_path / "p")
    steps, pipelines = read_pipelines(str(tmp_path / "p" / "weather.yaml"))
    assert steps["clean"].inputs["readings"].default == [f"file://{tmp_path}/p/data/readings.csv"]
    dag = load_pipelines(str(tmp_path / "p" / "weather.yaml"))["datastores_yaml_weather"]
    assert [t.task_id for t in dag.topological_sort()] == ["clean", "summarize"]
    assert dag.get_task("summarize").upstream_task_ids == {"clean"}
    assert dag.get_task("clean").cwd == str(tmp_path / "p")


def test_yaml_pipeline_runs_end_to_end(airflow_db):
    target = os.path.join(dags_folder(), "yaml_example")
    shutil.copytree(os.path.join(REPO, "dags", "pipelines"), target, dirs_exist_ok=True)
    dag = load_dag(textwrap.dedent("""
        # DAGs from YAML (safe mode parses files that mention "airflow" and "dag")
        from airflow_datastores.pipelines import load_pipelines
        load_pipelines("yaml_example/weather.yaml", namespace=globals())
    """), "datastores_yaml_weather")
    run = dag.test()
    assert task_state(run, "clean") == task_state(run, "summarize") == "success"
    clean = xcom(run, "clean", "datastore_outputs")
    staged = xcom(run, "summarize", "datastore_inputs")
    assert [r["sha256"] for r in staged] == [f["sha256"] for f in clean["files"]]
    summary = xcom(run, "summarize", "datastore_outputs")
    store = get_store()
    version = load_version(store, "datastores_yaml_weather", "summarize", summary["version_id"])
    assert store.read_bytes(version.files[0].key) == b'{\n  "readings": 4,\n  "mean_kelvin": 284.4\n}'


def test_every_example_dag_imports_cleanly(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.syspath_prepend(os.path.join(REPO, "dags"))
    bag = DagBag(dag_folder=os.path.join(REPO, "dags"))
    assert bag.import_errors == {}
    assert {"datastores_example_pipeline", "datastores_example_classic", "datastores_retention",
            "datastores_yaml_weather", "weather_smoothing_sweep"} <= set(bag.dag_ids)
