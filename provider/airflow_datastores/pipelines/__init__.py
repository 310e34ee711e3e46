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

A DAG file of two lines makes the dag-processor pick the pipelines up::

    from airflow_datastores import load_pipelines
    dags = load_pipelines("valohai.yaml", namespace=globals())

(In safe mode Airflow only parses files that mention both "airflow" and "dag": ``dags =`` is the word.)

Valohai's own parser (``valohai-yaml``) is the model: a file it accepts loads, and what Airflow cannot do
is noted once with file:line and fails only the task that needs it, when it runs. Commands run in the
YAML file's directory; ``file:relative/path`` input URLs and defaults without a scheme are resolved
against that directory too. Every mistake is a :class:`PipelineError` naming the file and line. The
modules: ``yamlfile`` (YAML with lines), ``extension`` (our declared additions to Valohai's schema),
``schema`` (validation, mistakes by line), ``reader`` (file:line errors and notes), ``keys`` (notes on
Valohai keys Airflow does not do), ``parse`` (the file), ``steps``, ``step_inputs``, ``step_parameters``,
``tasks`` (sweep blueprints), ``nodes`` (pipelines), ``edges``, ``pipeline_parameters`` (which Param each
node reads), ``parameters`` (casting, Param schemas, commands), ``variants`` (sweeps), ``build`` (DAGs),
``operators`` (the step at run time).
"""

from __future__ import annotations

import logging
import os
import sys
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

    caller = sys._getframe(1).f_code.co_filename  # the DAG file that calls us
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(caller)), path)
    _warn_if_safe_mode_skips(caller)
    reader = Reader(path, strict=strict)
    _, pipelines = read_file(reader)
    dags = {p.dag_id: build_dag(p, directory=reader.directory) for p in pipelines}
    if namespace is not None:
        for dag_id, dag in dags.items():
            namespace[f"dag_{''.join(c if c.isalnum() else '_' for c in dag_id)}"] = dag
    return dags


def _warn_if_safe_mode_skips(caller: str) -> None:
    """Say so when the calling DAG file lacks the words Airflow's safe-mode discovery looks for: the
    dag-processor would never run it, and its pipelines would silently never appear."""
    try:
        with open(caller, "rb") as handle:
            content = handle.read().lower()
    except OSError:
        return
    if not (b"dag" in content and b"airflow" in content):
        logging.getLogger(__name__).warning(
            "%s does not contain the words 'airflow' and 'dag', so Airflow's safe-mode DAG discovery skips it "
            "and its pipelines never appear; write: dags = load_pipelines(...)", caller)
