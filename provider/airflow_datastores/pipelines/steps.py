"""A ``- step:`` item -> :class:`StepSpec`: command, environment, input-change policy, mounts, time limit;
and a node's own copy of a step after its ``override``."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from airflow_datastores.errors import PipelineError
from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.keys import ENV_KEYS, OVERRIDE_KEYS, OVERRIDE_NOTES, STEP_KEYS, STEP_NOTES
from airflow_datastores.pipelines.model import StepSpec
from airflow_datastores.pipelines.reader import Reader, suggest
from airflow_datastores.pipelines.step_inputs import read_input
from airflow_datastores.pipelines.step_parameters import read_parameter
from airflow_datastores.pipelines.yamlfile import List, Map, merged


def read_step(reader: Reader, body: Any, line: int, *, what: str | None = None, sweeping: bool = False) -> StepSpec:
    """A step, checked.

    :param what: how errors name it (a node's copy of a step), else ``step '<name>'``.
    :param sweeping: it is a task node's copy: a parameter given a list of values sweeps over them.
    """
    named = body.get("name") if isinstance(body, Map) else None
    body = reader.mapping(body, line, what or "a step", STEP_KEYS, STEP_NOTES,
                          named=what or (f"step {named!r}" if named else None))
    name = reader.required_name(body, "a step")
    what = what or f"step {name!r}"
    command = _command(reader, body, what)
    inputs = _by_name(reader, body, "inputs", what, lambda item, item_line: read_input(reader, item, item_line, what))
    parameters = _by_name(reader, body, "parameters", what,
                          lambda item, item_line: read_parameter(reader, item, item_line, what, sweeping=sweeping))
    _check_placeholders(reader, body, command, parameters, what)
    environment, queue, env_descriptions = _environment(reader, body, what)
    policy = _input_change_policy(reader, body, what)
    mounts = reader.typed(body, "mounts", list, what, default=[])
    _check_mounts(reader, mounts, what)
    time_limit = _time_limit(reader, body, what)
    return StepSpec(
        name=name, command=command, inputs=inputs, environment=environment,
        store=reader.typed(body, "store", str, what), on_input_change=policy,
        skip_if_unchanged=reader.typed(body, "skip-if-unchanged", bool, what, default=False),
        mounts=[dict(m) if isinstance(m, dict) else m for m in mounts],
        description=reader.typed(body, "description", str, what), line=line, parameters=parameters,
        queue=queue, time_limit=time_limit, raw=body, env_descriptions=env_descriptions,
    )


def with_override(reader: Reader, step: StepSpec, override: Any, line: int, what: str, *,
                  sweeping: bool = False) -> StepSpec:
    """The node's own copy of ``step``, with the override's inputs, parameters (by name) and the rest.

    :param sweeping: the node is a task node (see :func:`read_step`).
    """
    override = reader.mapping(override, line, f"the override of {what}", OVERRIDE_KEYS, OVERRIDE_NOTES)
    body = Map(step.raw)
    body.line, body.key_lines = step.raw.line, dict(step.raw.key_lines)
    for key, value in override.items():
        if key in OVERRIDE_NOTES:
            continue
        if key in ("inputs", "parameters", "environment-variables"):
            if not isinstance(value, list):
                raise reader.error(override.key_lines[key], f"{key!r} in the override of {what} must be a list")
            body[key] = _merged_items(reader, step.raw.get(key), value, f"{key!r} in the override of {what}")
        else:
            body[key] = value
        body.key_lines[key] = override.key_lines[key]
    return read_step(reader, body, line, what=f"{what} (after its override)", sweeping=sweeping)


def _merged_items(reader: Reader, items: Any, override: List, what: str) -> List:
    """The step's list ``items`` with each item of ``override`` merged into the item of its name (or added)."""
    result = List(copy.copy(items or []))
    result.item_lines = list(getattr(items, "item_lines", []))
    by_name = {i.get("name"): n for n, i in enumerate(result) if isinstance(i, Map)}
    for item, item_line in zip(override, override.item_lines, strict=True):
        if not isinstance(item, Map) or "name" not in item:
            raise reader.error(item_line, f"an item of {what} needs a 'name'")
        if item["name"] in by_name:
            index = by_name[item["name"]]
            result[index] = merged(result[index], item)
            result.item_lines[index] = item_line
        else:
            result.append(item)
            result.item_lines.append(item_line)
    return result


def _command(reader: Reader, body: Map, what: str) -> list[str]:
    command = body.get("command")
    if isinstance(command, str):
        command = [command]
    if not command or not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise reader.error(body.key_lines.get("command", body.line),
                           f"{what} needs a 'command': a string or a list of strings")
    return list(command)


def _by_name(reader: Reader, body: Map, key: str, what: str, read) -> dict[str, Any]:
    """The specs ``read(item, line)`` makes of the list ``body[key]``, by name; a name used twice is an error."""
    specs: dict[str, Any] = {}
    for item, item_line in reader.items(body, key, what):
        spec = read(item, item_line)
        if spec.name in specs:
            raise reader.error(item_line, f"{what} has two {key} named {spec.name!r}")
        specs[spec.name] = spec
    return specs


def _check_placeholders(reader: Reader, body: Map, command: list[str], parameters: dict, what: str) -> None:
    """Every parameter the command's placeholders name is a parameter of the step."""
    for index, text in enumerate(command):
        for ref in P.placeholders(text):
            if ref not in parameters:
                lines = getattr(body["command"], "item_lines", None)
                raise reader.error(lines[index] if lines else body.key_lines["command"],
                                   f"the command of {what} uses parameter {ref!r}, which the step does not "
                                   f"define{suggest(ref, parameters)}")


def _environment(reader: Reader, body: Map, what: str) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """The step's environment variables, the Airflow queue its Valohai ``environment`` name maps to, and
    the variables' descriptions (for the task's doc)."""
    environment: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    queue = None
    env = body.get("environment")
    if isinstance(env, str):
        queue = _queue(reader, env, body.key_lines["environment"], what)
    elif env is not None:
        env = reader.typed(body, "environment", dict, what, default={})
        environment.update({str(k): str(v) for k, v in env.items()})
    for item, item_line in reader.items(body, "environment-variables", what):
        item = reader.mapping(item, item_line, f"an environment variable of {what}", ENV_KEYS)
        variable = reader.required_name(item, f"an environment variable of {what}")
        description = reader.typed(item, "description", str, f"environment variable {variable!r} of {what}")
        if description:
            descriptions[variable] = description
        if item.get("default") is not None:
            environment[variable] = str(item["default"])
        elif not item.get("optional", True):
            reader.note(item_line, f"environment variable {variable!r} of {what} has no default: set it on "
                                   "the Airflow workers", key=f"env:{variable}")
    return environment, queue, descriptions


def _queue(reader: Reader, environment: str, line: int, what: str) -> str | None:
    if reader.queues is None:
        try:
            reader.queues = environment_queues()
        except PipelineError as err:
            raise reader.error(line, str(err)) from None
    if environment in reader.queues:
        return reader.queues[environment]
    reader.note(line, f"'environment' of {what}: Valohai environment {environment!r} is not in "
                      "[datastores] environment_queues, so the step runs on the default queue", key="environment")
    return None


def environment_queues() -> dict[str, str]:
    """``[datastores] environment_queues``: a JSON object of Valohai environment -> Airflow queue."""
    from airflow_datastores import config

    text = config.conf_value("environment_queues", "")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as err:
        raise PipelineError(f"[datastores] environment_queues is not JSON ({err}); give an object such as "
                            '{"aws-eu-west-1-p2-xlarge": "gpu"}') from None
    if not isinstance(value, dict):
        raise PipelineError("[datastores] environment_queues must be a JSON object of environment -> queue")
    return {str(k): str(v) for k, v in value.items()}


def _input_change_policy(reader: Reader, body: Map, what: str) -> str:
    from airflow_datastores.inputs.changes import POLICIES  # not at the top: importing pipelines stays light

    policy = reader.typed(body, "on-input-change", str, what, default="warn")
    if policy not in POLICIES:
        raise reader.error(body.key_lines["on-input-change"], f"on-input-change of {what} is {policy!r}; use one "
                                                              f"of {', '.join(POLICIES)}")
    return policy


def _check_mounts(reader: Reader, mounts: list, what: str) -> None:
    if not mounts:
        return
    from airflow_datastores.mounts import MountError, parse_mounts

    for index, (item, item_line) in enumerate(zip(mounts, mounts.item_lines, strict=True)):
        try:
            parse_mounts([dict(item) if isinstance(item, dict) else item])
        except (MountError, ValueError, TypeError) as err:
            # Parsed one by one (for the line): the message names the item by its own index.
            message = str(err).replace("mounts[0]", f"mounts[{index}]", 1)
            raise reader.error(item_line, f"mount of {what}: {message}") from None


def _time_limit(reader: Reader, body: Map, what: str) -> int | None:
    if body.get("time-limit") is None:
        return None
    seconds = duration(body["time-limit"])
    if seconds is None:
        raise reader.error(body.key_lines["time-limit"], f"'time-limit' of {what} must be seconds or a "
                                                         f"duration such as '1h 30m', not {body['time-limit']!r}")
    return seconds


def duration(value: Any) -> int | None:
    """Seconds from ``300`` or ``"1h 30m 5s"``; ``None`` if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", value.lower())
        rest = re.sub(r"(\d+(?:\.\d+)?)\s*([dhms])|\s", "", value.lower())
        if parts and not rest:
            return int(sum(float(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts))
        if value.strip().isdigit():
            return int(value)
    return None
