"""DAG files for `dag.test()`: Airflow 3.3 runs a DAG by re-parsing its file from the dags folder, so a
test writes its DAG as a real file there and imports it from that file."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import uuid


def dags_folder() -> str:
    from airflow.configuration import conf

    folder = conf.get("core", "dags_folder")
    os.makedirs(folder, exist_ok=True)
    return folder


def load_dag(source: str, dag_id: str, *, name: str | None = None):
    """Write ``source`` as a DAG file and return the DAG ``dag_id`` it defines."""
    name = name or f"test_{dag_id}_{uuid.uuid4().hex[:6]}"
    path = os.path.join(dags_folder(), f"{name}.py")
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise AssertionError(f"{path} defines no DAG {dag_id!r}")
