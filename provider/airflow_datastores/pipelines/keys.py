"""What we say about the Valohai keys Airflow does not do: one note each where it appears.

Valohai's schema (:mod:`.schema`) decides which keys a file may have; every key not listed here is
honoured (mapped to Airflow, see docs/pipelines.md). A key listed here is accepted and noted once,
naming its line (an error in strict mode), because nothing in Airflow does what it asks. ``{value!r}``
in a note is the key's value.
"""

from __future__ import annotations

from typing import Any

from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.pipelines.schema import describe

_IMAGE = ("steps run in the Airflow worker's environment, not in their images (this one: {value!r}); install "
          "what they need on the workers (or run them with a KubernetesPodOperator). Noted once for the file")
_PRESET = "Valohai runtime presets have no Airflow meaning"
_AUTORESTART = "Airflow restarts a failed task by its 'retries', not on a spot-instance interruption"
STEP_NOTES = {
    "image": _IMAGE,
    "no-output-timeout": "Airflow has no timeout for silence; use 'time-limit' for an execution timeout",
    "icon": "the Airflow UI shows no step icons",
    "source-path": "the command runs in the YAML file's directory; {value!r} is not used",
    "upload-store": "outputs go to 'store' (or [datastores] default_store), not to Valohai store {value!r}",
    "category": "the Airflow UI has no step categories",
    "outputs": "a step's outputs are whatever its command writes to $DATASTORE_OUTPUTS",
    "resources": "ask for resources through the Airflow queue/executor (e.g. a pod template), not the step",
    "runtime-config-preset": _PRESET,
    "autorestart": _AUTORESTART,
    "cache-volumes": "Valohai cache volumes have no Airflow meaning; inputs are cached by [datastores] cache_dir",
    "environment-variable-groups": "Valohai variable groups are not read; set the variables on the workers",
    "stop-condition": "Airflow does not stop a step on a metadata condition",
}
PARAMETER_NOTES = {"category": "the trigger form has no parameter categories",
                   "widget": "the trigger form picks its widget from the parameter's type"}
NODE_NOTES = {"on-error": "an Airflow task failure stops its downstream tasks (not the whole pipeline); use "
                          "trigger rules in Python DAGs for other behaviour",
              "commit": "the step runs the code on the workers, not commit {value!r}"}
OVERRIDE_NOTES = {"image": _IMAGE, "runtime-config-preset": _PRESET, "autorestart": _AUTORESTART}
TASK_NOTES = {k: "Valohai task setting, not used by Airflow's task mapping" for k in (
    "engine", "execution-batch-size", "execution-count", "on-child-error", "optimization-target-metric",
    "optimization-target-value", "reuse-children", "stop-condition")}
EDGE_NOTES = {"configuration": "Valohai edge configuration is not used"}
PIPELINE_PARAMETER_NOTES = {"category": PARAMETER_NOTES["category"]}
DEPLOYMENT_HELP = ("Airflow does not run Valohai deployments: deploy from a step whose command pushes the "
                   "model to your serving platform")

#: Keys most steps of a file write: noted once for the file.
ONCE = {"image"}

#: Where each table applies: (item kind, list key or None, sub-key or None) -> notes.
_WHERE: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
    ("step", (), STEP_NOTES),
    ("step", ("parameters", "*"), PARAMETER_NOTES),
    ("task", (), TASK_NOTES),
    ("pipeline", ("nodes", "*"), NODE_NOTES),
    ("pipeline", ("nodes", "*", "override"), OVERRIDE_NOTES),
    ("pipeline", ("nodes", "*", "override", "parameters", "*"), PARAMETER_NOTES),
    ("pipeline", ("edges", "*"), EDGE_NOTES),
    ("pipeline", ("parameters", "*"), PIPELINE_PARAMETER_NOTES),
]


def note_valohai_only_keys(reader: Reader, document: list, index: int) -> None:
    """One note for every key of :data:`_WHERE`'s tables in item ``index`` of the file (its shape checked by
    the schema already)."""
    item = document[index]
    if isinstance(item, dict):
        for kind, body in item.items():
            for where_kind, sub_path, notes in _WHERE:
                if kind == where_kind:
                    for path, mapping in _mappings(body, sub_path, [index, kind]):
                        for key in mapping:
                            if key in notes:
                                text = notes[key].format(value=mapping[key])
                                reader.note(reader.line([*path, key], key=True),
                                            f"{describe(document, [*path, key])}: {text}", key=key,
                                            once=key in ONCE)


def _mappings(value: Any, sub_path: tuple[str, ...], path: list) -> list[tuple[list, dict]]:
    """Every mapping ``sub_path`` reaches from ``value`` (``*``: each item of a list), with its path."""
    if not sub_path:
        return [(path, value)] if isinstance(value, dict) else []
    step, rest = sub_path[0], sub_path[1:]
    if step == "*":
        if not isinstance(value, list):
            return []
        return [found for i, item in enumerate(value) for found in _mappings(item, rest, [*path, i])]
    if isinstance(value, dict) and step in value:
        return _mappings(value[step], rest, [*path, step])
    return []
