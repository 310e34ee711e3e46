"""valohai.yaml constructs load: parameters, edges, overrides, sweeps, names, input forms and notes."""

from __future__ import annotations

import logging
import os

import pytest
from valohai_yaml.objs.parameter import Parameter

from airflow_datastores.pipelines import PipelineError, load_pipelines, parameters as P, read_pipelines
from airflow_datastores.pipelines.parse import read_file
from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.pipelines.variants import grid, style_values
from tests.pipelines.test_yaml_pipelines import assert_mistake, assert_noted

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
CONSTRUCTS = os.path.join(FIXTURES, "valohai_constructs.yaml")


@pytest.fixture(scope="module")
def dags():
    return load_pipelines(CONSTRUCTS)


def line_of(text: str) -> int:
    """The line of the constructs fixture that holds ``text`` (which must be on exactly one line)."""
    with open(CONSTRUCTS) as handle:
        lines = [n for n, line in enumerate(handle, 1) if text in line]
    assert len(lines) == 1, (text, lines)
    return lines[0]


def test_names_become_ids_and_keep_their_display_names(dags):
    dag = dags["training_pipeline"]
    assert dag.dag_display_name == "Training Pipeline"
    assert {t.task_id for t in dag.tasks} == {"extract", "extract__actions", "train", "sweep-list__variants",
                                               "sweep-list", "sweep-blueprint__variants", "sweep-blueprint",
                                               "train_model"}
    assert dag.get_task("train_model").task_display_name == "Train Model"
    assert dag.get_task("train_model").upstream_task_ids == {"train"}  # dependency edge


def test_parameters_become_validated_params(dags):
    params = dags["training_pipeline"].params
    assert params["extract.ratio"] == 1.5
    assert params.get_param("extract.ratio").schema == {"type": "number", "minimum": 0, "maximum": 4}
    assert params.get_param("extract.ratio").description == "Aspect ratio"
    assert params.get_param("extract.tag").schema == {"type": "array", "items": {"type": "string",
                                                                                 "enum": ["a", "b", "c"]}}
    assert params.get_param("extract.mode").schema == {"type": ["string", "null"], "enum": ["x", "y", None]}
    assert params["extract.id"] == "123"  # a string parameter, whatever YAML read
    assert params.get_param("extract.layers").schema == {"type": "array", "items": {"type": "integer"}}
    # pipeline parameters replace their targets' own; a list for a task node is a sweep
    assert params["epochs"] == 4 and "train.epochs" not in params and "sweep-list.epochs" not in params
    assert params["rates"] == [0.5, 0.25]
    assert params.get_param("rates").schema["type"] == "array"
    # a parameter edge: train.ratio reads extract.ratio; an override's default
    assert "train.ratio" not in params and params["train.learning-rate"] == 0.05
    train = dags["training_pipeline"].get_task("train")
    assert train.parameter_sources == {"learning-rate": "train.learning-rate", "epochs": "epochs",
                                       "ratio": "extract.ratio"}


def test_overrides_env_edges_inputs_and_queues(dags):
    dag = dags["training_pipeline"]
    train, extract = dag.get_task("train"), dag.get_task("extract")
    assert train.environment == {"MODE": "fast", "EXTRA": "1"}  # env edge + override
    assert train.inputs["labels"]["urls"] == ["file:///data/override-labels.csv"]
    assert train.inputs["features"]["fed"][0]["path"] == "*.npz" and train.inputs["features"]["urls"] == []
    assert extract.inputs["images"] == {"urls": ["file:///data/a/*.png", "file:///data/b/*.png"],
                                        "optional": False, "keep_directories": "full"}
    assert "big" not in extract.inputs and extract.on_demand == {"big": ["https://example.com/big.tar"]}
    assert extract.filenames == {"labels": "labels.csv"}
    assert extract.execution_timeout.total_seconds() == 5400
    assert dag.get_task("sweep-list").partial_kwargs["inputs"]["labels"]["urls"] == ["file:///data/labels.csv"]


def test_integer_and_flag_parameters_give_their_param_schemas(dags):
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    params = dags["training_pipeline"].params
    workers, fast = params.get_param("extract.workers"), params.get_param("extract.fast")
    assert workers.schema == {"type": "integer", "minimum": 1, "maximum": 16}
    assert workers.value == 4 and workers.description == "Worker processes"
    assert fast.schema == {"type": "boolean"} and fast.value is True
    # the schemas refuse what the trigger form would refuse
    for value, words in (("ten", "'ten' is not of type 'integer'"), (2.5, "2.5 is not of type 'integer'"),
                         (0, "0 is less than the minimum of 1"), (17, "17 is greater than the maximum of 16")):
        with pytest.raises(ParamValidationError, match=words):
            Param(4, **workers.schema).resolve(value)
    with pytest.raises(ParamValidationError, match="'yes' is not of type 'boolean'"):
        Param(True, **fast.schema).resolve("yes")
    assert Param(4, **workers.schema).resolve(16) == 16 and Param(True, **fast.schema).resolve(False) is False
    # a flag with no default is false, and optional (it is never missing)
    other = load_pipelines(os.path.join(FIXTURES, "valohai_parameters.yaml"))["valohai_parameters"]
    assert other.params.get_param("steps.dry-run").schema == {"type": "boolean"}
    assert other.params["steps.dry-run"] is False


def test_descriptions_become_the_dag_description_task_docs_and_param_help(dags):
    dag = dags["training_pipeline"]
    assert dag.description == "Features, training and two sweeps"
    assert dag.params.get_param("epochs").description == "Epochs for every training node"
    extract, train = dag.get_task("extract"), dag.get_task("train")
    assert "- `images`: Training images" in extract.doc_md
    assert "- `TOKEN`: API token of the feature service" in extract.doc_md
    assert train.doc_md == ("Fits the model on the extracted features\n\nInputs:\n\n- `features`: Feature arrays "
                            "(.npz)\n\nEnvironment variables:\n\n- `MODE`: fast or exact")
    assert dag.get_task("sweep-list").partial_kwargs["doc_md"] == train.doc_md
    assert dag.get_task("sweep-blueprint__variants").doc_md == "Grid over learning rate and epochs"
    assert dag.get_task("train_model").doc_md is None


def test_reuse_executions_makes_every_step_reuse_and_datasets_are_inputs(dags, tmp_path):
    # reuse-executions: true -> reuse=True on every step of the pipeline, the sweeps' mapped tasks included
    dag = dags["training_pipeline"]
    steps = [t for t in dag.tasks if not t.task_id.endswith(("__variants", "__actions"))]
    assert len(steps) == 5
    assert all((t.partial_kwargs["reuse"] if hasattr(t, "partial_kwargs") else t.reuse) is True for t in steps)
    path = tmp_path / "valohai.yaml"
    path.write_text("- step:\n    name: s\n    command: x\n    inputs:\n      - name: i\n        default:\n"
                    "          - dataset://images/latest/*.png\n          - alias://best\n")
    step = load_pipelines(str(path))["s"].get_task("s")
    assert step.reuse is False and step.inputs["i"]["urls"] == ["dataset://images/latest/*.png", "alias://best"]


def test_sweeps_are_mapped_over_their_variants(dags):
    dag = dags["training_pipeline"]
    blueprint = dag.get_task("sweep-blueprint__variants")
    assert blueprint.variants == [{"learning-rate": lr, "epochs": e} for lr in (0.1, 0.01) for e in (1, 2, 3)]
    assert dag.get_task("sweep-blueprint").partial_kwargs["max_active_tis_per_dag"] == 2
    assert dag.get_task("sweep-list__variants").swept == {"learning-rate": "rates"}
    assert blueprint.execute({"params": {}}) == blueprint.variants
    assert dag.get_task("sweep-list__variants").execute({"params": {"rates": [1, 2]}}) == [
        {"learning-rate": 1}, {"learning-rate": 2}]


# Each note the constructs fixture gives: (text on the line it names, how the note starts).
NOTES = [
    ("image: busybox", "'image' of step 'Batch feature extraction': steps run in the Airflow worker's environment"),
    ("category: features", "'category' of step 'Batch feature extraction'"),
    ("icon:", "'icon' of step 'Batch feature extraction'"),
    ("source-path: extract.py", "'source-path' of step 'Batch feature extraction'"),
    ("upload-store:", "'upload-store' of step 'Batch feature extraction'"),
    ("no-output-timeout:", "'no-output-timeout' of step 'Batch feature extraction'"),
    ("environment: aws-eu", "'environment' of step 'Batch feature extraction': Valohai environment"),
    ("name: TOKEN", "environment variable 'TOKEN' of step 'Batch feature extraction' has no default"),
    ("category: ids", "'category' of parameter 'id' of step 'Batch feature extraction'"),
    ("widget: text", "'widget' of parameter 'id' of step 'Batch feature extraction'"),
    ("outputs:", "'outputs' of step 'Batch feature extraction'"),
    ("source-path: train.py", "'source-path' of step 'Train model'"),  # read again for node train's override
    ("on-child-error:", "'on-child-error' of task 'lr-sweep'"),
    ("distribution: log-uniform", "'distribution' of parameter 'learning-rate' of task 'random-rates': values "
                                  "are drawn uniformly"),
    ("a blueprint no node uses", "task 'random-rates' is used by no pipeline node, so it makes no DAG"),
    ("- endpoint:", "endpoint: Airflow does not deploy Valohai endpoints"),
    ("on-error:", "'on-error' of node 'extract' of pipeline 'Training Pipeline'"),
    ("configuration:", "'configuration' of edge 2 of pipeline 'Training Pipeline'"),
]


def test_every_valohai_only_key_is_noted_once(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_datastores.pipelines")
    dags = load_pipelines(CONSTRUCTS)  # DAGs built too: building notes nothing more
    notes = [r.getMessage() for r in caplog.records]
    for text, start in NOTES:
        prefix = f"valohai_constructs.yaml:{line_of(text)}: {start}"
        assert sum(n.startswith(prefix) for n in notes) == 1, (prefix, notes)
    assert len(notes) == len(NOTES), notes  # nothing else noted, nothing noted twice
    # mapped keys are not noted: description, reuse-executions, numberify, time-limit, multiple ...
    assert not any(f"'{key}' of" in n for n in notes
                   for key in ("description", "reuse-executions", "numberify", "integerify", "time-limit"))
    assert dags["training_pipeline"].get_task("train").reuse is True


SWEEP = "- step:\n    name: s\n    command: run {parameters}\n    parameters:\n      - {name: n, type: %s}\n"
USES = "- pipeline:\n    name: p\n    nodes:\n      - {name: a, type: task, task: t}\n    edges: []\n"
STRICT = {  # (YAML, line, words): one Valohai-only key each; one note, or an error in strict mode
    "distribution": (SWEEP % "float" + "- task:\n    name: t\n    step: s\n    parameters:\n      - name: n\n"
                     "        style: random\n        rules:\n          min: 0\n          max: 1\n"
                     "          count: 2\n          distribution: normal\n" + USES, 16,
                     "'distribution' of parameter 'n' of task 't': values are drawn uniformly between 'min' and "
                     "'max', not from a 'normal' distribution"),
    "distribution_of_a_list": (SWEEP % "integer" + "- task:\n    name: t\n    step: s\n    parameters:\n"
                               "      - name: n\n        style: multiple\n"
                               "        rules: {items: [1, 2], distribution: normal}\n" + USES, 12,
                               "style 'multiple' draws no random values, so 'normal' has no effect"),
    "env_without_default": ("- step:\n    name: s\n    command: x\n    environment-variables:\n"
                            "      - {name: KEY, optional: false, description: the key}\n", 5,
                            "environment variable 'KEY' of step 's' has no default"),
    "override_image": ("- step:\n    name: s\n    command: x\n- pipeline:\n    name: p\n    nodes:\n"
                       "      - name: a\n        step: s\n        override:\n          image: python:3.12\n"
                       "    edges: []\n", 10, "'image' of the override of node 'a' of pipeline 'p'"),
}


@pytest.mark.parametrize("case", sorted(STRICT))
def test_strict_mode_makes_each_note_an_error(case, tmp_path, caplog):
    text, line, words = STRICT[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    caplog.set_level(logging.WARNING, logger="airflow_datastores.pipelines")
    read_pipelines(str(path))  # not strict: one note
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and notes[0].startswith(f"{case}.yaml:{line}: ") and words in notes[0], notes
    with pytest.raises(PipelineError) as err:
        read_pipelines(str(path), strict=True)
    message = str(err.value)
    assert message.startswith(f"{case}.yaml:{line}: ") and words in message, message
    assert message.count("strict mode") == 1, message


def test_strict_mode_makes_a_note_an_error():
    with pytest.raises(PipelineError) as err:
        read_pipelines(CONSTRUCTS, strict=True)
    assert str(err.value).startswith("valohai_constructs.yaml:4: 'image' of step 'Batch feature extraction'")
    assert "strict mode" in str(err.value)


def test_environment_queues_map_valohai_environments(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__DATASTORES__ENVIRONMENT_QUEUES", '{"aws-eu-west-1-p2-xlarge": "gpu"}')
    dag = load_pipelines(CONSTRUCTS)["training_pipeline"]
    assert dag.get_task("extract").queue == "gpu"


def test_a_steps_only_file_gives_one_manual_dag_per_step(tmp_path):
    path = tmp_path / "valohai.yaml"
    path.write_text("- step:\n    name: Say hello\n    image: busybox\n    command: echo {parameters}\n"
                    "    parameters:\n      - {name: who, type: string, default: world}\n"
                    "    inputs:\n      - {name: data}\n"
                    "- step:\n    name: other\n    command: date\n")
    dags = load_pipelines(str(path))
    assert set(dags) == {"say_hello", "other"}
    hello = dags["say_hello"]
    assert hello.schedule is None if hasattr(hello, "schedule") else True
    assert hello.dag_display_name == "Say hello"
    assert hello.params["who"] == "world"
    assert "input.data" in hello.params and hello.get_task("say_hello").input_params == {"data": "input.data"}


def test_parameter_rendering_is_valohais_build_command():
    ratio = Parameter(name="ratio", type="float")
    layers = Parameter(name="layers", type="integer", multiple="separate", multiple_separator="-")
    tags = Parameter(name="tag", multiple="repeat", pass_as="-t {v}")
    fast = Parameter(name="fast", type="flag")
    case = Parameter(name="case", type="flag", pass_true_as="--ignore-case", pass_false_as="--{name}=strict")
    unset = Parameter(name="mode", optional=True)
    specs = [ratio, layers, tags, fast, case, unset]
    values = {"ratio": 1.5, "layers": [3, 2], "tag": ["a b", "c"], "fast": True, "case": False, "mode": None}
    assert P.render_command(["run {parameters}", "x {parameter:tag} {parameter-value:ratio} ${HOME} {other}"],
                            specs, values) == [
        "run --ratio=1.5 --layers=3-2 -t 'a b' -t c --fast --case=strict",
        "x -t 'a b' -t c 1.5 ${HOME} {other}"]
    assert P.render_text("dataset://{parameter:tag}_x/{parameter-value:layers}", specs, values) == "dataset://a b,c_x/3-2"
    env = P.environment(specs, values)
    assert env["DATASTORE_PARAMETER_LAYERS"] == "3-2" and env["DATASTORE_PARAMETER_FAST"] == "true"
    assert "DATASTORE_PARAMETER_MODE" not in env


def test_sweep_styles():
    assert style_values("a", "multiple", {"items": ["0.5", "2", 3], "numberify": True}) == [0.5, 2, 3]
    assert style_values("a", "multiple", {"items": ["0.5", "2"]}) == ["0.5", "2"]  # text, unless numberify
    assert style_values("a", "multiple", {"items": ["1.4", 2.6], "integerify": True}) == [1, 3]
    assert style_values("a", "linear", {"start": 1, "end": 2, "step": 0.5}) == [1, 1.5, 2]
    assert style_values("a", "logspace", {"start": 0, "end": 2, "count": 3, "base": 10}) == [1, 10, 100]
    assert style_values("a", "random", {"min": 0, "max": 1, "count": 2, "seed": 1}) == style_values(
        "a", "random", {"min": 0, "max": 1, "count": 2, "seed": 1})
    assert grid({"x": [1, 2]}, [{"y": 0}, {"y": 1}]) == [{"y": 0, "x": 1}, {"y": 0, "x": 2},
                                                         {"y": 1, "x": 1}, {"y": 1, "x": 2}]


STEP = "- step:\n    name: s\n    command: run {parameters}\n    parameters:\n      - {name: n, type: integer}\n"
TWO = STEP + "- step:\n    name: t\n    command: x\n    inputs:\n      - {name: i}\n"
USES_T = "- pipeline:\n    name: p\n    nodes:\n      - {name: a, type: task, task: t}\n    edges: []\n"
PIPE = TWO + "- pipeline:\n    name: p\n    nodes:\n      - {name: a, step: s}\n      - {name: b, step: t}\n"

# Refused (Valohai's parser refuses each too, or our own checks do): (YAML, line, words the message must contain)
BAD = {
    "bad_param_type": ("- step:\n    name: s\n    command: x\n    parameters:\n      - {name: n, type: int}\n", 5,
                       "'type' of parameter 'n' of step 's' is 'int'; use one of flag, float, integer, string "
                       "(did you mean 'integer'?)"),
    "flag_multiple": (("- step:\n    name: s\n    command: x\n    parameters:\n      - {name: f, type: flag, "
                       "multiple: repeat}\n"), 5, "parameter 'f' of step 's': Flag parameters can't be multiple"),
    "pipeline_param_target": (PIPE + "    parameters:\n      - {name: q, target: a.parameter.m}\n    edges:\n"
                              "      - [a.output.*, b.input.i]\n", 17, "step 's' has no parameter 'm'"),
    "unknown_blueprint": (STEP + "- pipeline:\n    name: p\n    nodes:\n      - {name: a, type: task, task: swep}\n"
                          "    edges: []\n", 9, "names task 'swep', which is not defined"),
    "scheduled_required": (STEP + "- pipeline:\n    name: p\n    schedule: '@daily'\n    nodes:\n"
                           "      - {name: a, step: s}\n    edges: []\n", 5,
                           "runs on a schedule, but parameter 'a.n' has no default"),
    "unknown_override_key": (PIPE.replace("{name: a, step: s}", "{name: a, step: s, override: {comand: y}}")
                             + "    edges: []\n", 14, "unknown key 'comand' in the override of node 'a' of pipeline "
                                                     "'p' (did you mean 'command'?)"),
    "bad_download": ("- step:\n    name: s\n    command: x\n    inputs:\n      - {name: i, download: lazy}\n", 5,
                     "'download' of input 'i' of step 's' is 'lazy'; use one of always, on-demand"),
    "unknown_rule": (STEP + "- task:\n    name: t\n    step: s\n    parameters:\n"
                     "      - {name: n, style: linear, rules: {start: 1, end: 3, stpe: 1}}\n" + USES_T, 10,
                     "unknown key 'stpe' in the rules of parameter 'n' of task 't' (did you mean 'step'?)"),
    "edge_kind": (PIPE + "    edges:\n      - [a.outputs.x, b.input.i]\n", 17,
                  "has kind 'outputs' (did you mean 'output'?)"),
    "both_step_and_task": (STEP + "- task:\n    name: t\n    step: s\n    parameters:\n"
                           "      - {name: n, style: single, rules: {value: 1}}\n- pipeline:\n    name: p\n    nodes:\n"
                           "      - {name: a, type: task, task: t, step: s}\n    edges: []\n", 14,
                           "node 'a' of pipeline 'p' gives both a 'step' and a 'task'"),
    "duplicate_nodes": (PIPE.replace("{name: b, step: t}", "{name: a, step: t}") + "    edges: []\n", 15,
                        "pipeline 'p' has two nodes named 'a' (the other on line 14)"),
}

# Loaded as Valohai loads them; what Airflow cannot do is noted on its line and fails the task that needs
# it when it runs: (YAML, line, words the note must contain)
NOTED = {
    "deployment_node": (PIPE + "      - {name: d, type: deployment, deployment: MyDeployment}\n    edges:\n"
                        "      - [a.output.*, b.input.i]\n", 16,
                        "node 'd' of pipeline 'p' is a deployment node. Airflow does not run Valohai deployments"),
    "datum_url": ("- step:\n    name: s\n    command: x\n    inputs:\n      - {name: i, default: 'datum://0123'}\n",
                  5, "'datum://0123' is a Valohai datum; it is looked up when the step runs, in [datastores] datums"),
    "dataset_url": (("- step:\n    name: s\n    command: x\n    inputs:\n      - name: i\n        default:\n"
                     "          - dataset://images\n"), 7, "'dataset://images' is not a dataset URL"),
    "bad_edge_kind": (PIPE + "    edges:\n      - [a.output.x, b.parameter.n]\n", 17,
                      "goes from 'output' to 'parameter', which carries nothing here; it only orders the nodes"),
    "parameter_to_input_edge": (PIPE + "    edges:\n      - [a.parameter.m, b.input.i]\n", 17,
                                "goes from 'parameter' to 'input', which carries nothing here"),
    "param_edge_missing": (PIPE + "    edges:\n      - [a.output.*, b.input.i]\n      - [a.parameter.m, b.parameter.n]\n",
                           18, "the edge reads parameter 'm' of node 'a', but step 's' has no such parameter"),
    "bad_default": (("- step:\n    name: s\n    command: x\n    parameters:\n      - name: n\n        type: integer\n"
                     "        default: many\n"), 7, "parameter 'n' of step 's': the default 'many' is not a value of "
                                                  "the parameter (many is not an integer); it has no default"),
    "above_max": (("- step:\n    name: s\n    command: x\n    parameters:\n      - {name: n, type: float, max: 1, "
                   "default: 3}\n"), 5, "3.0 is greater than the maximum allowed (1)"),
    "unknown_placeholder": ("- step:\n    name: s\n    command:\n      - x\n      - run {parameter:lr}\n", 5,
                            "uses parameter 'lr', which the step does not define; it stays in the command as written"),
    "task_without_sweep": (STEP + "- pipeline:\n    name: p\n    nodes:\n      - {name: a, step: s, type: task}\n"
                           "    edges: []\n", 9, "task node 'a' of pipeline 'p' has nothing to sweep"),
    "optimizer_task": (STEP + "- task:\n    name: t\n    step: s\n    type: bayesian_tpe\n    parameters: []\n"
                       + USES_T, 14, "task 't' is a 'bayesian_tpe' task"),
    "blueprint_rule": (STEP + "- task:\n    name: t\n    step: s\n    parameters:\n"
                       "      - {name: n, style: linear, rules: {start: 1}}\n" + USES_T, 14,
                       "parameter 'n' (linear) needs a number 'end'. The node fails when it runs"),
    "numberify_text": (STEP + "- task:\n    name: t\n    step: s\n    parameters:\n"
                       "      - {name: n, style: multiple, rules: {items: ['1', two], numberify: true}}\n" + USES_T,
                       14, "parameter 'n': 'two' is not a number"),
    "override_bad_value": (STEP + "- pipeline:\n    name: p\n    nodes:\n      - name: a\n        step: s\n"
                           "        override:\n          parameters:\n            - {name: n, default: x}\n"
                           "    edges: []\n", 13, "the default 'x' is not a value of the parameter (x is not an integer)"),
}


def test_valohai_casts_text_items_and_1e_4_as_valohai_does(tmp_path):
    path = tmp_path / "casts.yaml"
    path.write_text(STEP + "- task:\n    name: t\n    step: s\n    parameters:\n"
                    "      - {name: n, style: multiple, rules: {items: ['1', '2']}}\n" + USES_T
                    + "- step:\n    name: f\n    command: x\n    parameters:\n"
                    "      - {name: lr, type: float, default: 1e-4}\n    inputs:\n      - {name: i, default: ''}\n")
    reader = Reader(str(path))
    steps, pipelines = read_file(reader)
    assert reader.notes == []
    assert steps["f"].parameters["lr"].default == 0.0001  # YAML 1.1 reads 1e-4 as text; Valohai casts it
    assert steps["f"].inputs["i"].default == []  # an empty default is no default
    assert pipelines[0].nodes["a"].variants == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize("case", sorted(BAD))
def test_valohai_mistakes_name_the_file_and_line(case, tmp_path):
    assert_mistake(tmp_path, case, *BAD[case])


@pytest.mark.parametrize("case", sorted(NOTED))
def test_what_valohai_takes_loads_and_is_noted_on_its_line(case, tmp_path):
    assert_noted(tmp_path, case, *NOTED[case])


def test_the_dags_serialize_as_the_dag_processor_stores_them(dags):
    from airflow.serialization.serialized_objects import DagSerialization

    back = DagSerialization.from_dict(DagSerialization.to_dict(dags["training_pipeline"]))
    assert len(back.tasks) == 8 and back.params["epochs"] == 4
    assert back.get_task("train").doc_md == dags["training_pipeline"].get_task("train").doc_md


def test_a_task_nodes_override_can_give_the_values_to_sweep(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(STEP + "- pipeline:\n    name: p\n    nodes:\n      - name: a\n        step: s\n        type: task\n"
                    "        override:\n          parameters:\n            - {name: n, default: [1, 2, 3]}\n"
                    "    edges: []\n")
    dag = load_pipelines(str(path))["p"]
    assert dag.params["a.n"] == [1, 2, 3]
    assert dag.get_task("a__variants").execute({"params": {"a.n": [4, 5]}}) == [{"n": 4}, {"n": 5}]
    path.write_text(path.read_text().replace("        type: task\n", ""))  # an execution node takes one value
    reader = Reader(str(path))
    read_file(reader)
    assert any(n.startswith("sweep.yaml:13: ") and "is a list, but the parameter takes one value" in n
               for n in reader.notes), reader.notes


def test_a_blueprint_no_node_uses_is_only_noted(tmp_path, caplog):
    path = tmp_path / "tasks.yaml"
    path.write_text(STEP + "- task:\n    name: t\n    step: s\n    type: bayesian_tpe\n    parameters: []\n"
                    "- deployment:\n    name: d\n")
    caplog.set_level(logging.WARNING, logger="airflow_datastores.pipelines")
    assert set(load_pipelines(str(path))) == {"s"}
    assert any(r.getMessage().startswith("tasks.yaml:6: task 't' is used by no pipeline node, and could not run: "
                                         "task 't' is a 'bayesian_tpe' task") for r in caplog.records), caplog.text
    assert any(r.getMessage().startswith("tasks.yaml:11: deployment:") for r in caplog.records)


def test_names_that_slug_alike_get_unique_ids(tmp_path):
    path = tmp_path / "names.yaml"
    path.write_text(STEP + "".join(f"- pipeline:\n    name: {name}\n    nodes:\n      - {{name: Run It, step: s}}\n"
                                   "      - {name: run_it, step: s}\n    edges: []\n" for name in ("My DAG", "my dag")))
    dags = load_pipelines(str(path))
    assert set(dags) == {"my_dag", "my_dag_2"}
    assert {t.task_id for t in dags["my_dag"].tasks} == {"run_it", "run_it_2"}
    assert dags["my_dag_2"].dag_display_name == "my dag"


def test_a_bad_third_mount_is_named_by_its_index_and_line(tmp_path):

    path = tmp_path / "mounts.yaml"
    path.write_text(
        "- step:\n"
        "    name: prep\n"
        "    command: ls /a /b\n"
        "    mounts:\n"
        "      - {source: /srv/a, destination: /a}\n"
        "      - {source: /srv/b, destination: /b}\n"
        "      - {source: /srv/c, destination: relative/path}\n"
    )
    reader = Reader(str(path))
    read_file(reader)  # Valohai takes it; the step fails when it runs, saying why
    assert [n for n in reader.notes if n.startswith("mounts.yaml:7: ") and "mounts[2].destination" in n], reader.notes
    task = load_pipelines(str(path))["prep"].get_task("prep")
    assert "mounts[2].destination" in task.problem and task.mounts == []
