"""What a Valohai step script finds here: the config files and environment valohai-utils reads, and the
literal ``/valohai/...`` paths.

valohai-utils (Valohai's helper library, read for this: ``valohai/paths.py``, ``internals/input_info.py``,
``execution.py``) finds a step's data through

* ``$VH_CONFIG_DIR/inputs.json``: ``{input: {"files": [{"name", "path", "uri", "size", "checksums",
  "metadata"}]}}``, the staged files; ``parameters.json``: ``{parameter: value}``; ``execution.json``:
  ``valohai.execution-id``, ``-counter``, ``-title`` (and here what identifies the Airflow run);
* ``VH_INPUTS_DIR``, ``VH_OUTPUTS_DIR``, ``VH_CONFIG_DIR``, ``VH_REPOSITORY_DIR``; ``VH_JOB_ID`` tells it
  that it runs on a worker (its paths then default to ``/valohai/...``, which the variables override).

The literal paths ``/valohai/inputs``, ``/valohai/outputs``, ``/valohai/config`` and
``/valohai/repository`` reach the step's own directories through bind mounts in the step's private mount
namespace (:mod:`airflow_datastores.mounts`), where the worker allows mounts (root or CAP_SYS_ADMIN):
each task sees its own directories there, also with several tasks on one worker. Where it does not, the
command's own words ``/valohai/...`` are rewritten to the directories, and the step's log says that a
script which opens ``/valohai/...`` itself will not find them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

VALOHAI_ROOT = "/valohai"
#: ``/valohai/<name>`` -> which of the step's directories it is.
VALOHAI_DIRS = ("inputs", "outputs", "config", "repository")
_LITERAL = re.compile(r"/valohai/(inputs|outputs|config|repository)\b")


def inputs_config(records: Sequence[Mapping[str, Any]], *, inputs_dir: str) -> dict[str, Any]:
    """``inputs.json`` as valohai-utils reads it, from the step's staged input records (their ``path``
    relative to ``inputs_dir``): per input, its files with their absolute path, source URL (never with
    credentials), size, checksums and the sidecar metadata of a file of a version."""
    config: dict[str, Any] = {}
    for record in records:
        path = record["path"] if os.path.isabs(record["path"]) else os.path.join(inputs_dir, record["path"])
        metadata = dict(record.get("properties") or {})
        if record.get("tags"):
            metadata["valohai.tags"] = list(record["tags"])
        config.setdefault(record["name"], {"files": []})["files"].append({
            "name": os.path.basename(path), "path": path, "uri": record.get("url"), "size": record.get("size"),
            "checksums": {k: record[k] for k in ("md5", "sha1", "sha256") if record.get(k)},
            "metadata": [metadata] if metadata else [],
        })
    return config


def execution_config(*, execution_id: str, counter: int, title: str, dag_id: str, task_id: str, run_id: str,
                     try_number: int, map_index: int, step: str, pipeline: str | None) -> dict[str, Any]:
    """``execution.json``: Valohai's keys (valohai-utils' ``valohai.execution().config``), then ours."""
    return {"valohai.execution-id": execution_id, "valohai.execution-counter": counter,
            "valohai.execution-title": title, "dag_id": dag_id, "task_id": task_id, "run_id": run_id,
            "try_number": try_number, "map_index": map_index, "step": step, "pipeline": pipeline}


def write_config(config_dir: str, *, inputs: Mapping, parameters: Mapping, execution: Mapping) -> None:
    """Write ``inputs.json``, ``parameters.json`` and ``execution.json`` into ``config_dir``."""
    os.makedirs(config_dir, exist_ok=True)
    for name, value in (("inputs", inputs), ("parameters", parameters), ("execution", execution)):
        with open(os.path.join(config_dir, f"{name}.json"), "w") as handle:
            json.dump(value, handle, indent=2, sort_keys=True, default=str)


def environment(*, inputs_dir: str, outputs_dir: str, config_dir: str, repository: str,
                job_id: str) -> dict[str, str]:
    """The environment variables valohai-utils reads (see the module's docstring)."""
    return {"VH_INPUTS_DIR": inputs_dir, "VH_OUTPUTS_DIR": outputs_dir, "VH_CONFIG_DIR": config_dir,
            "VH_REPOSITORY_DIR": repository, "VH_JOB_ID": job_id}


def path_mounts(directories: Mapping[str, str]) -> list[dict[str, Any]]:
    """Bind mounts that make ``/valohai/<name>`` the step's directory ``directories[name]``."""
    return [{"source": directories[name], "destination": f"{VALOHAI_ROOT}/{name}", "type": "bind"}
            for name in VALOHAI_DIRS]


def uses_literal_paths(lines: Sequence[str]) -> bool:
    return any(_LITERAL.search(line) for line in lines)


def rewrite_literal_paths(lines: Sequence[str], directories: Mapping[str, str]) -> list[str]:
    """``lines`` with each ``/valohai/<name>`` replaced by ``directories[name]`` (where no mount can be made)."""
    return [_LITERAL.sub(lambda m: directories[m.group(1)], line) for line in lines]
