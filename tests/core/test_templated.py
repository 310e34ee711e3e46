"""``@task.datastore`` and ``DatastoreStepOperator`` template the same fields, from one list: every
argument the operator documents as templated is rendered through both in real DAG runs (the decorator
committed ``tags=["t-{{ ds }}"]`` as the literal text, and failed on a templated ``dataset_version``)."""

from __future__ import annotations

import re

from airflow_datastores.decorators import _DatastoreDecoratedOperator
from airflow_datastores.operators import DatastoreStepOperator
from airflow_datastores.operators.step import STEP_TEMPLATE_FIELDS
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import list_versions, load_version
from airflow_datastores.versions.datasets import load_dataset_version

from .dagfiles import load_dag
from .test_dag_runs import task_state, xcom

#: What the operator's docstring says is templated.
DOCUMENTED = set(re.findall(r":param (\w+):(?:(?!:param).)*?\(templated\)", DatastoreStepOperator.__doc__, re.S))


def test_one_list_holds_every_documented_templated_argument():
    assert DOCUMENTED == {"command", *STEP_TEMPLATE_FIELDS}
    assert set(DatastoreStepOperator.template_fields) == DOCUMENTED
    assert set(_DatastoreDecoratedOperator.template_fields) == DOCUMENTED - {"command"} | {"op_args"}


def test_both_render_every_templated_argument_in_a_dag_run(airflow_db, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d7.txt").write_text("day seven")
    dag = load_dag(f"""
        import pendulum
        from airflow.sdk import DAG, task
        from airflow_datastores.operators import DatastoreStepOperator

        def templated(suffix):
            return dict(inputs={{"a": "file://{tmp_path}/data/{{{{ params.day }}}}.txt"}},
                        store="file://{tmp_path}/store-{{{{ params.day }}}}",
                        tags=["t-{{{{ params.day }}}}"], properties={{"p": "{{{{ params.day }}}}"}},
                        dataset_version="ceods-" + suffix + "/{{{{ params.day }}}}",
                        environment={{"E": "{{{{ params.day }}}}"}}, cwd="{tmp_path}/cwd-{{{{ params.day }}}}")

        def seen(a, outputs_dir, task, x):
            (outputs_dir / "copy.txt").write_text((a / "d7.txt").read_text())
            return {{"x": x, "environment": task.environment, "cwd": task.cwd}}

        with DAG(dag_id="templated", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                 params={{"day": "d7"}}) as dag:
            DatastoreStepOperator(task_id="operator", python_callable=seen, op_kwargs={{"x": "x-{{{{ params.day }}}}"}},
                                  **templated("op"))
            DatastoreStepOperator(task_id="command", command="echo {{{{ params.day }}}} > $DATASTORE_OUTPUTS/c.txt",
                                  **templated("cmd"))
            task.datastore(seen, task_id="decorated", **templated("dec"))(x="x-{{{{ params.day }}}}")
        """, "templated")
    run = dag.test()
    store = open_store(f"file://{tmp_path}/store-d7")
    for task_id, suffix in (("operator", "op"), ("command", "cmd"), ("decorated", "dec")):
        assert task_state(run, task_id) == "success", task_id
        [summary] = list_versions(store, dag_id="templated", task_id=task_id)
        version = load_version(store, "templated", task_id, summary.version_id)
        assert (version.tags, version.properties) == (["t-d7"], {"p": "d7"}), task_id
        assert [f.path for f in load_dataset_version(store, f"ceods-{suffix}", "d7").files] == \
            [f.path for f in version.files], task_id
        assert version.inputs[0]["url"] == f"file://{tmp_path}/data/d7.txt"
        if task_id != "command":
            assert xcom(run, task_id, "return_value") == {"x": "x-d7", "environment": {"E": "d7"},
                                                         "cwd": f"{tmp_path}/cwd-d7"}, task_id
    assert (tmp_path / "cwd-d7").is_dir()  # the command ran there
    command = load_version(store, "templated", "command", list_versions(store, task_id="command")[0].version_id)
    assert store.read_bytes(command.files[0].key) == b"d7\n"
