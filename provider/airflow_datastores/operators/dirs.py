"""The local directories of one task attempt: where its inputs are staged and its outputs written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_datastores import config
from airflow_datastores.versions.manifest import slug


@dataclass(frozen=True)
class TaskDirs:
    """The local directories of one task attempt.

    :param base: the attempt's directory, ``<root>/<dag>/<task>/<run>[/map-<i>]/try-<n>``.
    :param inputs: where its inputs are staged (``base/inputs``).
    :param outputs: what it writes to become the version (``base/outputs``).
    :param root: ``[datastores] work_dir``; :meth:`remove` prunes empty directories up to it.
    """

    base: str
    inputs: str
    outputs: str
    root: str = ""

    def create(self) -> TaskDirs:
        for attempt in range(3):
            try:
                os.makedirs(self.inputs, exist_ok=True)
                os.makedirs(self.outputs, exist_ok=True)
                return self
            except FileNotFoundError:  # another task pruned a shared parent at that moment
                if attempt == 2:
                    raise
        return self

    def remove(self) -> None:
        """Delete the attempt's directory, then its parents (run, task, DAG) that are left empty."""
        shutil.rmtree(self.base, ignore_errors=True)
        if not self.root:
            return
        root = os.path.abspath(self.root)
        parent = os.path.dirname(os.path.abspath(self.base))
        while parent != root and parent.startswith(root + os.sep):
            try:
                os.rmdir(parent)  # only succeeds when empty: another run's files are never touched
            except OSError:
                return
            parent = os.path.dirname(parent)


def task_dirs(context: Mapping[str, Any]) -> TaskDirs:
    """Inputs and outputs directories unique to this task attempt, under ``[datastores] work_dir``."""
    ti = context["ti"]
    root = config.work_dir()
    parts = [ti.dag_id, ti.task_id, slug(ti.run_id)]
    if getattr(ti, "map_index", -1) >= 0:
        parts.append(f"map-{ti.map_index}")
    parts.append(f"try-{ti.try_number}")
    base = os.path.join(root, *parts)
    return TaskDirs(base=base, inputs=os.path.join(base, "inputs"), outputs=os.path.join(base, "outputs"),
                    root=root)
