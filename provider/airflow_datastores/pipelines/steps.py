"""A ``- step:`` item, as Valohai's parser read it -> :class:`StepSpec`: command, parameters, inputs,
environment, input-change policy, mounts, time limit; and a node's own copy of a step after its
``override``."""

from __future__ import annotations

import copy
from typing import Any

from valohai_yaml.objs.step import Step

from airflow_datastores.errors import InvalidSpec
from airflow_datastores.pipelines import parameters as P
from airflow_datastores.pipelines.extension import strip_step
from airflow_datastores.pipelines.model import StepSpec
from airflow_datastores.pipelines.reader import Reader
from airflow_datastores.pipelines.step_inputs import read_input
from airflow_datastores.pipelines.step_parameters import read_parameter
from airflow_datastores.pipelines.yamlfile import List, Map, line_of, merged


def read_step(reader: Reader, step: Step, raw: Map, *, what: str | None = None, sweeping: bool = False) -> StepSpec:
    """A step, from Valohai's ``Step`` and its YAML mapping ``raw`` (whose lines messages name).

    :param what: how messages name it (a node's copy of a step), else ``step '<name>'``.
    :param sweeping: it is a task node's copy: a parameter given a list of values sweeps over them.
    """
    what = what or f"step {step.name!r}"
    command = [step.command] if isinstance(step.command, str) else list(step.command)
    raw_parameters = _by_name(reader, raw, "parameters", what)
    parameters = {name: read_parameter(reader, param, raw_parameters[name], what, sweeping=sweeping)
                  for name, param in step.parameters.items()}
    _note_unknown_placeholders(reader, raw, command, parameters, what)
    raw_inputs = _by_name(reader, raw, "inputs", what)
    inputs = {name: read_input(reader, item, raw_inputs[name], what, directory=reader.directory)
              for name, item in step.inputs.items()}
    environment, queue, descriptions = _environment(reader, step, raw, what)
    mounts = raw.get("mounts") or List()
    problem = _check_mounts(reader, mounts, what)
    return StepSpec(
        name=step.name, command=command, inputs=inputs, environment=environment, store=raw.get("store"),
        on_input_change=raw.get("on-input-change", "warn"), skip_if_unchanged=raw.get("skip-if-unchanged", False),
        mounts=[] if problem else [{**m, "strict_options": False} if isinstance(m, dict) else m for m in mounts],
        problem=problem,
        description=step.description,
        line=raw.line, parameters=parameters, queue=queue,
        time_limit=int(step.time_limit.total_seconds()) if step.time_limit else None, raw=raw,
        env_descriptions=descriptions, commit_empty=raw.get("commit-empty", False),
        parameter_lines={name: item.line for name, item in raw_parameters.items()},
    )


def with_override(reader: Reader, step: StepSpec, override: Map, what: str, *, sweeping: bool = False) -> StepSpec:
    """The node's own copy of ``step`` with the ``override`` at ``path``: its inputs, parameters and
    environment variables merged by name, key by key (an override that gives a parameter's ``default``
    keeps the step's ``type``, limits and ``pass-as``), its other keys replacing the step's.

    :param sweeping: the node is a task node (see :func:`read_step`).
    """
    body = Map(step.raw)
    body.line, body.key_lines = step.raw.line, dict(step.raw.key_lines)
    for key, value in override.items():
        if key in ("inputs", "parameters", "environment-variables"):
            body[key] = _merged_items(step.raw.get(key), value)
        else:
            body[key] = value
        body.key_lines[key] = override.key_lines[key]
    try:
        parsed = Step.parse(strip_step(copy.deepcopy(body)))
    except (ValueError, TypeError) as err:
        raise reader.error(override.line, f"the override of {what}: {err}") from None
    return read_step(reader, parsed, body, what=f"{what} (after its override)", sweeping=sweeping)


def _merged_items(items: Any, override: List) -> List:
    """The step's list ``items`` with each item of ``override`` merged into the item of its name (or added)."""
    result = List(copy.copy(items or []))
    result.line = getattr(items, "line", override.line)
    result.item_lines = list(getattr(items, "item_lines", []))
    by_name = {i.get("name"): n for n, i in enumerate(result) if isinstance(i, Map)}
    for item, item_line in zip(override, override.item_lines, strict=True):
        if item.get("name") in by_name:
            index = by_name[item["name"]]
            result[index] = merged(result[index], item)
            result.item_lines[index] = item_line
        else:
            result.append(item)
            result.item_lines.append(item_line)
    return result


def _by_name(reader: Reader, raw: Map, key: str, what: str) -> dict[str, Map]:
    """The items of ``raw[key]`` by name (each a Map whose ``line`` is its item's); a name given twice:
    the last wins (as in Valohai's parser), noted."""
    found: dict[str, Map] = {}
    items = raw.get(key) or List()
    for index, item in enumerate(items):
        if not isinstance(item, Map):
            continue
        item.line = items.item_lines[index]
        name = item.get("name")
        if name in found:
            reader.note(item.line, f"{what} has two {key} named {name!r} (the other on line {found[name].line}); "
                                   "the last one is used, as Valohai does", key=f"{key}:{name}")
        found[name] = item
    return found


def _note_unknown_placeholders(reader: Reader, raw: Map, command: list[str], parameters: dict, what: str) -> None:
    """A ``{parameter:NAME}`` of no parameter is left in the command as written (as Valohai does): noted."""
    for index, text in enumerate(command):
        for name in P.placeholders(text):
            if name not in parameters:
                where = ["command", index] if isinstance(raw.get("command"), list) else ["command"]
                reader.note(line_of(raw, where), f"the command of {what} uses parameter {name!r}, which the step "
                                                 "does not define; it stays in the command as written",
                            key=f"placeholder:{name}")


def _environment(reader: Reader, step: Step, raw: Map, what: str) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """The step's environment variables, the Airflow queue its Valohai ``environment`` name maps to, and
    the variables' descriptions (for the task's doc)."""
    environment: dict[str, str] = {}
    queue = None
    env = raw.get("environment")
    if isinstance(env, str):
        queue = _queue(reader, env, raw.key_lines["environment"], what)
    elif isinstance(env, dict):
        environment.update({str(k): str(v) for k, v in env.items()})
    descriptions = {}
    raw_variables = _by_name(reader, raw, "environment-variables", what)
    for name, variable in step.environment_variables.items():
        if variable.description:
            descriptions[name] = variable.description
        if variable.default is not None:
            environment[name] = str(variable.default)
        elif not variable.optional:
            reader.note(raw_variables[name].line, f"environment variable {name!r} of {what} has no default: set "
                                                  "it on the Airflow workers", key=f"env:{name}")
    return environment, queue, descriptions


def _queue(reader: Reader, environment: str, line: int, what: str) -> str | None:
    if reader.queues is None:
        try:
            reader.queues = environment_queues()
        except InvalidSpec as err:
            raise reader.error(line, str(err)) from None
    if environment in reader.queues:
        return reader.queues[environment]
    reader.note(line, f"'environment' of {what}: Valohai environment {environment!r} is not in "
                      "[datastores] environment_queues, so the step runs on the default queue", key="environment")
    return None


def environment_queues() -> dict[str, str]:
    """``[datastores] environment_queues``: a JSON object of Valohai environment -> Airflow queue."""
    from airflow_datastores import config

    value = config.conf_json_object("environment_queues", of="Valohai environments to queues")
    return {str(k): str(v) for k, v in value.items()}


def _check_mounts(reader: Reader, mounts: List, what: str) -> str | None:
    """Each mount parsed now; one that cannot be mounted is noted naming its line, and returned as the
    step's problem (it fails when it runs). An option we do not know is noted: the kernel's mount is
    given it as written, the userspace NFS driver refuses it when the step runs."""
    from airflow_datastores.mounts import MountError, parse_mounts
    from airflow_datastores.mounts.options import unknown_options

    for index, item in enumerate(mounts):
        line = mounts.item_lines[index]
        spec = dict(item) if isinstance(item, dict) else item
        try:
            (mount,) = parse_mounts([spec], lenient_options=True)
        except (MountError, ValueError, TypeError) as err:
            # Parsed one by one (for the line): the message names the item by its own index.
            problem = f"mount of {what}: " + str(err).replace("mounts[0]", f"mounts[{index}]", 1)
            reader.note(line, f"{problem}; the step fails when it runs", key=f"mount:{index}")
            return problem
        for name in unknown_options(mount):
            reader.note(line, f"mount {mount.destination} of {what}: option {name!r} is not one we know; it is given "
                              "to the kernel's mount as written, and the userspace NFS driver refuses it",
                        key=f"mount-option:{name}")
    return None
