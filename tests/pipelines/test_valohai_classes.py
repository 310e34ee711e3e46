"""Each construct that stopped real valohai.yaml files now loads (fixtures written for these tests from
the shapes public files use): the DAG's tasks and dependencies match the pipeline's nodes and edges, and
what Airflow does differently is noted once, naming its line."""

from __future__ import annotations

import os

import pytest

from airflow_datastores.pipelines import load_pipelines
from airflow_datastores.pipelines.parse import read_file
from airflow_datastores.pipelines.reader import Reader

CLASSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "valohai_classes")


def fixture(name: str) -> str:
    return os.path.join(CLASSES, f"{name}.yaml")


def line_of(name: str, text: str) -> int:
    with open(fixture(name)) as handle:
        lines = [n for n, line in enumerate(handle, 1) if text in line]
    assert len(lines) == 1, (text, lines)
    return lines[0]


def shape(dag) -> dict[str, set[str]]:
    """task id -> its upstream task ids."""
    return {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}


# fixture -> (DAG id -> {task: upstream tasks}, [(text on the noted line, words of the note)])
EXPECTED = {
    "datum_inputs": ({"score": {"score": set()}}, [
        ("datum://0195d1c0", "'datum://0195d1c0-1b7a-4e55-9f0e-3c3b0d6a7e21' is a Valohai datum; it is looked up "
                             "when the step runs"),
        ("datum://encoder-current-best", "'datum://encoder-current-best' is a Valohai datum"),
        ("datum://lookup-table", "'datum://lookup-table' is a Valohai datum")]),
    "deployment_nodes": ({"train-and-deploy": {"train": set(), "report": {"train"}}}, [
        ("- endpoint:", "endpoint: Airflow does not deploy Valohai endpoints"),
        ("name: deploy", "node 'deploy' of pipeline 'train-and-deploy' is a deployment node"),
        ("name: check-deployment", "node 'check-deployment' of pipeline 'train-and-deploy' is fed only by skipped "
                                   "deployment nodes, so it is skipped too")]),
    "metadata_edges": ({"measure-then-tune": {"measure": set(), "tune": {"measure"}}}, []),
    "fan_in": ({"split-and-combine": {"left": set(), "right": set(), "combine": {"left", "right"}}}, []),
    "required_input": ({"labelling": {"label": set()}}, [
        ("name: images", "input 'images' of node 'label' of pipeline 'labelling' has no default and no edge feeds "
                         "it: a run gives its URLs in 'label.input.images', else the node fails")]),
    "plural_targets": ({"fit-twice": {"first": set(), "second": {"first"}}}, []),
    "float_exponents": ({"optimise": {"optimise": set()}}, []),
    "parameter_in_url": ({"train-on-a-dataset": {"train": set()}}, []),
    "empty_and_relative_defaults": ({"run-script": {"run-script": set()}}, []),
    "repeated_keys": ({"prepare": {"prepare": set()}}, [
        ("    inputs:\n", None)]),  # replaced below: two lines hold `inputs:`
    "unknown_mount_option": ({"preprocess": {"preprocess": set()}}, [
        ("- source: 10.0.0.7", "option 'hot' is not one we know; it is given to the kernel's mount as written")]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_class_loads_with_the_pipelines_shape_and_its_notes(name):
    dags_shape, notes = EXPECTED[name]
    reader = Reader(fixture(name))
    read_file(reader)
    dags = load_pipelines(fixture(name))
    assert {dag_id: shape(dag) for dag_id, dag in dags.items()} == dags_shape
    if name == "repeated_keys":
        notes = [(None, "key 'inputs' is written twice in one mapping (also on line 6); the last one is used")]
        expected_lines = [8]
    else:
        expected_lines = [line_of(name, text) for text, _ in notes]
    for line, (_, words) in zip(expected_lines, notes, strict=True):
        assert [n for n in reader.notes if n.startswith(f"{name}.yaml:{line}: ") and words in n], reader.notes
    # nothing else is noted but the images every step names (noted once for the file)
    others = [n for n in reader.notes if "'image' of step" not in n]
    assert len(others) == len(notes), reader.notes
    assert sum("'image' of step" in n for n in reader.notes) == 1


def test_datum_inputs_become_trigger_fields_that_keep_their_datum_urls():
    dag = load_pipelines(fixture("datum_inputs"))["score"]
    assert dag.params["input.weights"] == ["datum://0195d1c0-1b7a-4e55-9f0e-3c3b0d6a7e21"]
    assert dag.params["input.lookup"] == ["datum://lookup-table", "https://example.com/extra.csv"]
    assert dag.get_task("score").input_params == {"weights": "input.weights", "encoder": "input.encoder",
                                                  "lookup": "input.lookup"}


def test_a_required_input_nothing_feeds_is_a_trigger_field_that_may_be_empty():
    dag = load_pipelines(fixture("required_input"))["labelling"]
    param = dag.params.get_param("label.input.images")
    assert param.value == [] and param.schema == {"type": "array", "items": {"type": "string"}}
    assert param.description == "Images to label"
    assert dag.get_task("label").input_params == {"images": "label.input.images", "guide": "label.input.guide"}


def test_plural_targets_floats_urls_defaults_keys_and_mounts_read_as_valohai_reads_them():
    fit = load_pipelines(fixture("plural_targets"))["fit-twice"]
    assert fit.params["epochs"] == 7 and "first.epochs" not in fit.params
    assert fit.get_task("first").parameter_sources == fit.get_task("second").parameter_sources == {"epochs": "epochs"}
    steps, _ = read_file(Reader(fixture("float_exponents")))
    assert steps["optimise"].parameters["learning-rate"].default == 0.0001
    assert steps["optimise"].parameters["epsilon"].default == 1e-08
    train = load_pipelines(fixture("parameter_in_url"))["train-on-a-dataset"].get_task("train")
    assert train.inputs["dataset"]["urls"] == ["dataset://{parameter:dataset_name}_{parameter-value:split}/latest"]
    steps, _ = read_file(Reader(fixture("empty_and_relative_defaults")))
    assert steps["run-script"].inputs["config"].default == []
    assert steps["run-script"].inputs["script"].default == [f"file://{CLASSES}/scripts/helper.py"]
    steps, _ = read_file(Reader(fixture("repeated_keys")))
    assert list(steps["prepare"].inputs) == ["raw"]
    mounts = load_pipelines(fixture("unknown_mount_option"))["preprocess"].get_task("preprocess").mounts
    assert [(m.options, m.strict_options) for m in mounts] == [({"vers": "4.1", "hot": True}, False)]


def test_fan_in_feeds_one_input_from_every_edge():
    combine = load_pipelines(fixture("fan_in"))["split-and-combine"].get_task("combine")
    fed = combine.inputs["parts"]["fed"]
    assert [f["path"] for f in fed] == ["*.csv", "*.csv"]
    assert [f["version"].operator.task_id for f in fed] == ["left", "right"]
