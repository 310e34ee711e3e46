"""YAML steps and pipelines (Valohai's ``valohai.yaml`` shape) -> Airflow DAGs.

.. code-block:: yaml

    - step:
        name: Train model
        command: python train.py {parameters}
        parameters:
          - {name: learning-rate, type: float, default: 0.01, min: 0}
          - {name: epochs, type: integer, default: 5, pass-as: "-e {v}"}
        inputs:
          - {name: data}
    - pipeline:
        name: mnist
        parameters:
          - {name: learning-rate, targets: [train.parameter.learning-rate], default: [0.01, 0.1]}
        nodes:
          - {name: preprocess, step: preprocess}
          - {name: train, step: Train model, type: task}    # a sweep: one mapped task per value
        edges:
          - [preprocess.output.*.npz, train.input.data]

A DAG file of one line makes the dag-processor pick the pipelines up (keep the word "DAG" in it:
in safe mode Airflow only parses files that mention "airflow" and "dag")::

    from airflow_datastores.pipelines import load_pipelines; load_pipelines("mnist.yaml", namespace=globals())  # DAGs

Commands run in the YAML file's directory. ``file:relative/path`` input URLs are resolved against
that directory too. Every mistake is a :class:`PipelineError` naming the file and line. The modules:
``yamlfile`` (YAML with lines), ``model`` (the specs), ``reader`` (file:line errors, notes, checked
mappings), ``keys`` (the keys each item may have), ``parse`` (the file's items), ``steps``,
``step_inputs``, ``step_parameters``, ``tasks`` (sweep blueprints), ``nodes`` (pipelines), ``edges``,
``pipeline_parameters`` (which Param each node reads), ``parameters`` (values, Param schemas, command
rendering), ``variants`` (sweeps), ``build`` (DAGs), ``operators`` (the step at run time).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import MutableMapping
from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines.model import PipelineSpec, StepSpec

__all__ = ["PipelineError", "load_pipelines", "read_pipelines"]


def read_pipelines(path: str, *, strict: bool = False) -> tuple[dict[str, StepSpec], list[PipelineSpec]]:
    """Read and check a pipeline file without building DAGs.

    :param path: the YAML file.
    :param strict: treat keys Airflow cannot honour (``image``, ``no-output-timeout`` ...) as errors.
    :return: the steps by name, and one spec per DAG the file makes.
    """
    from airflow_datastores.pipelines.parse import read_file
    from airflow_datastores.pipelines.reader import Reader

    return read_file(Reader(path, strict=strict))


def load_pipelines(path: str, *, namespace: MutableMapping[str, Any] | None = None,
                   strict: bool = False) -> dict[str, Any]:
    """Build one Airflow DAG per pipeline in the YAML file ``path`` (one per step if it has no pipeline).

    :param path: the YAML file; a relative path is resolved against the calling file's directory.
    :param namespace: where to put the DAGs (pass ``globals()`` from the DAG file so the
        dag-processor finds them).
    :param strict: make every note about a Valohai-only key (logged once where it appears) an error.
    :return: dag_id -> DAG.
    """
    from airflow_datastores.pipelines.build import build_dag
    from airflow_datastores.pipelines.parse import read_file
    from airflow_datastores.pipelines.reader import Reader

    if not os.path.isabs(path):
        caller = inspect.stack()[1].filename
        path = os.path.join(os.path.dirname(os.path.abspath(caller)), path)
    reader = Reader(path, strict=strict)
    _, pipelines = read_file(reader)
    dags = {p.dag_id: build_dag(p, directory=reader.directory) for p in pipelines}
    if namespace is not None:
        for dag_id, dag in dags.items():
            namespace[f"dag_{''.join(c if c.isalnum() else '_' for c in dag_id)}"] = dag
    return dags
