"""The keys each item of a pipeline file may have, and what we say about Valohai-only keys.

A ``*_KEYS`` tuple is what we honour (``description`` everywhere: the DAG's description, the task's
``doc_md``, a Param's description); a ``*_NOTES`` key is accepted with one note where it appears (an
error in strict mode), because nothing in Airflow does what it asks. ``{value!r}`` in a note is the
key's value. A pipeline's ``reuse-executions`` is honoured as ``reuse=True`` on each of its steps.
"""

from __future__ import annotations

STEP_KEYS = ("name", "command", "inputs", "parameters", "environment", "environment-variables", "store",
             "on-input-change", "skip-if-unchanged", "mounts", "description", "time-limit")
STEP_NOTES = {
    "image": "the step runs in the Airflow worker's environment, not in image {value!r}; install what it "
             "needs on the workers (or run it with a KubernetesPodOperator)",
    "no-output-timeout": "Airflow has no timeout for silence; use 'time-limit' for an execution timeout",
    "icon": "the Airflow UI shows no step icons",
    "source-path": "the command runs in the YAML file's directory; {value!r} is not used",
    "upload-store": "outputs go to 'store' (or [datastores] default_store), not to Valohai store {value!r}",
    "category": "the Airflow UI has no step categories",
    "outputs": "a step's outputs are whatever its command writes to $DATASTORE_OUTPUTS",
    "resources": "ask for resources through the Airflow queue/executor (e.g. a pod template), not the step",
    "runtime-config-preset": "Valohai runtime presets have no Airflow meaning",
    "cache-volumes": "Valohai cache volumes have no Airflow meaning; inputs are cached by [datastores] cache_dir",
    "environment-variable-groups": "Valohai variable groups are not read; set the variables on the workers",
    "stop-condition": "Airflow does not stop a step on a metadata condition",
}
INPUT_KEYS = ("name", "default", "optional", "keep-directories", "filename", "download", "description")
PARAMETER_KEYS = ("name", "type", "default", "optional", "description", "pass-as", "pass-true-as",
                  "pass-false-as", "multiple", "multiple-separator", "choices", "min", "max")
PARAMETER_NOTES = {"category": "the trigger form has no parameter categories",
                   "widget": "the trigger form picks its widget from the parameter's type"}
ENV_KEYS = ("name", "default", "optional", "description")
PIPELINE_KEYS = ("name", "nodes", "edges", "parameters", "schedule", "description", "tags", "start-date",
                 "catchup", "store", "reuse-executions")
PIPELINE_NOTES: dict[str, str] = {}
PIPELINE_PARAMETER_KEYS = ("name", "target", "targets", "default", "value", "description")
NODE_KEYS = ("name", "step", "type", "override", "task", "edge-merge-mode")
NODE_NOTES = {"on-error": "an Airflow task failure stops its downstream tasks; use trigger rules in Python "
                          "DAGs for other behaviour",
              "actions": "Valohai node actions (conditions on metadata) are not run",
              "commit": "the step runs the code on the workers, not commit {value!r}"}
OVERRIDE_KEYS = ("command", "inputs", "parameters", "environment", "environment-variables", "mounts")
OVERRIDE_NOTES = {"image": STEP_NOTES["image"], "runtime-config-preset": STEP_NOTES["runtime-config-preset"]}
TASK_KEYS = ("name", "step", "type", "parameters", "parameter-sets", "description",
             "maximum-queued-executions")
TASK_NOTES = {k: "Valohai task setting, not used by Airflow's task mapping" for k in (
    "engine", "execution-batch-size", "execution-count", "on-child-error", "optimization-target-metric",
    "optimization-target-value", "reuse-children", "stop-condition")}
TASK_PARAMETER_KEYS = ("name", "style", "rules")
# A sweep parameter's rules (Valohai's variant-param-rule-item); ``distribution`` is honoured only as
# ``uniform`` (what ``random`` draws) and noted otherwise.
RULE_KEYS = ("value", "items", "start", "end", "step", "count", "base", "min", "max", "seed", "integerify",
             "numberify", "distribution")
EDGE_KEYS = ("source", "target")
EDGE_NOTES = {"configuration": "Valohai edge configuration is not used"}
DEPLOYMENT_HELP = ("Airflow does not run Valohai deployments: deploy from a step whose command pushes the "
                   "model to your serving platform (its inputs can be fed by an edge), or remove the node "
                   "and its edges")
