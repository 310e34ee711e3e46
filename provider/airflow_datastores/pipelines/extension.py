"""This provider's declared extension of Valohai's valohai.yaml schema, and the file as Valohai reads it.

Valohai's own parser (``valohai-yaml``) holds the schema of a ``valohai.yaml``; we validate a file with
that schema plus what is listed here, nothing else. Every addition is a key Airflow needs (a pipeline's
``schedule``, a step's ``store`` ...) or a requirement Valohai makes for its own platform that means
nothing on Airflow workers (a step's ``image``: steps run in the worker's environment). A file that uses
none of these is read exactly as Valohai reads it; :func:`valohai_view` gives Valohai's parser the file
without them.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from airflow_datastores.pipelines.yamlfile import List, Map

_STRING_MAP = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_ENVIRONMENT = {"description": "A Valohai environment (mapped to an Airflow queue by [datastores] "
                               "environment_queues), or a mapping of environment variables (this provider)",
                "oneOf": [{"type": "string"}, _STRING_MAP]}

#: Keys this provider adds, by the ``$defs`` name of Valohai's schema they extend.
PROPERTIES: dict[str, dict[str, Any]] = {
    "step": {
        "environment": _ENVIRONMENT,
        "store": {"type": "string", "description": "The store this step's outputs go to (a URL or a store name)"},
        "on-input-change": {"enum": ["warn", "fail", "ignore"], "type": "string",
                            "description": "What a changed input does to the step: warn, fail or ignore"},
        "skip-if-unchanged": {"type": "boolean", "description": "Skip the step when no input changed"},
        "commit-empty": {"type": "boolean",
                         "description": "Commit a version even when the step writes no outputs"},
    },
    "overridden-properties": {"environment": _ENVIRONMENT},
    "pipeline": {
        "schedule": {"type": ["string", "null"], "description": "The DAG's schedule (cron or @daily ...)"},
        "description": {"type": "string", "description": "The DAG's description"},
        "tags": {"type": "array", "items": {"type": ["string", "number"]}, "description": "The DAG's tags"},
        "start-date": {"description": "The DAG's start date (a date, or a date and time)"},
        "catchup": {"type": "boolean", "description": "Whether the scheduler runs the missed intervals"},
        "store": {"type": "string", "description": "The store of every step of the pipeline"},
    },
}
#: Requirements of Valohai's schema that this provider relaxes: (``$defs`` name, key) -> why.
RELAXED: dict[tuple[str, str], str] = {
    ("step", "image"): "steps run in the Airflow worker's environment; an image is only noted",
    ("pipeline", "edges"): "a pipeline without edges runs its nodes side by side",
    ("execution-node", "type"): "a node without a type is an execution node",
}
#: Mounts as this provider writes them (a driver, options as text or a list, NFS short forms), in place
#: of Valohai's mount item.
_MOUNT = {
    "anyOf": [
        {"type": "string", "pattern": ":", "description": "source:destination[:ro|rw]; the source may be "
                                                           "server:/path for NFS"},
        {"type": "object", "additionalProperties": False, "required": ["source", "destination"],
         "properties": {"source": {"type": "string"}, "destination": {"type": "string"},
                        "readonly": {"type": "boolean"}, "type": {"type": "string"},
                        "options": {"type": ["object", "string", "array"]},
                        "driver": {"enum": ["auto", "kernel", "userspace"], "type": "string"}}},
    ],
}
#: Where a placeholder stands in for what a relaxed requirement leaves out, when Valohai reads the file.
PLACEHOLDER_IMAGE = "(the Airflow worker's environment)"


@cache
def extended_schema() -> dict[str, Any]:
    """Valohai's JSON schema of a valohai.yaml with this provider's additions."""
    from valohai_yaml.validation import get_json_schema

    schema = copy.deepcopy(get_json_schema())
    definitions = schema["$defs"]
    by_name = {key.rsplit("/", 1)[-1]: value for key, value in definitions.items()}
    for name, properties in PROPERTIES.items():
        by_name[name].setdefault("properties", {}).update(properties)
    for (name, key), _why in RELAXED.items():
        by_name[name]["required"] = [k for k in by_name[name].get("required", []) if k != key]
    mount_id = by_name["mount-item"]["$id"]
    by_name["mount-item"].clear()
    by_name["mount-item"].update(copy.deepcopy(_MOUNT), **{"$id": mount_id})
    return schema


def valohai_view(document: Any) -> Any:
    """``document`` as Valohai's parser reads it: this provider's keys taken out of its steps and
    pipelines, a placeholder image for a step that has none, a node's missing ``type`` made explicit.
    The line information of every mapping and list is kept."""
    view = _copy(document)
    if not isinstance(view, list):
        return view
    for item in view:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        kind, body = next(iter(item.items()))
        if kind == "step" and isinstance(body, dict):
            strip_step(body)
        elif kind == "pipeline" and isinstance(body, dict):
            _strip_pipeline(body)
    return view


def strip_step(body: dict) -> dict:
    """A step's mapping as Valohai's parser reads it (changed in place, and returned)."""
    for key in PROPERTIES["step"]:
        if key == "environment" and isinstance(body.get(key), str):
            continue
        body.pop(key, None)
    body.setdefault("image", PLACEHOLDER_IMAGE)
    if isinstance(body.get("mounts"), list):
        body["mounts"] = [m for m in body["mounts"] if _valohai_mount(m)]
    return body


def _strip_pipeline(body: dict) -> None:
    for key in PROPERTIES["pipeline"]:
        body.pop(key, None)
    body.setdefault("edges", List())
    for node in body.get("nodes") or ():
        if isinstance(node, dict):
            node.setdefault("type", "execution")
            override = node.get("override")
            if isinstance(override, dict):
                if not isinstance(override.get("environment", ""), str):
                    override.pop("environment")
                if isinstance(override.get("mounts"), list):
                    override["mounts"] = [m for m in override["mounts"] if _valohai_mount(m)]


def _valohai_mount(mount: Any) -> bool:
    """A mount in a form Valohai's parser reads (``/src:/dst``, or a mapping without our keys)."""
    if isinstance(mount, str):
        return mount.startswith("/") and mount.count(":") == 1
    return isinstance(mount, dict) and "driver" not in mount and isinstance(mount.get("options", {}), dict)


def _copy(value: Any) -> Any:
    if isinstance(value, Map):
        result = Map((k, _copy(v)) for k, v in value.items())
        result.line, result.key_lines = value.line, dict(value.key_lines)
        return result
    if isinstance(value, List):
        result = List(_copy(v) for v in value)
        result.line, result.item_lines = value.line, list(value.item_lines)
        return result
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
