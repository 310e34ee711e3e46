"""Valohai node actions: what happens when a node starts or completes, as Airflow tasks.

* ``when: node-complete`` (``if:`` conditions over the metadata the node printed, ``then: stop-pipeline``):
  a ``<node>__actions`` task after the node, Airflow's ``ShortCircuitOperator``: when every condition holds,
  the tasks that follow are skipped, and its log says which condition held on which values.
  ``then: error-pipeline`` fails the run there instead.
* ``when: node-starting`` with ``then: require-approval``: a ``<node>__approval`` task before the node,
  Airflow's human-in-the-loop ``ApprovalOperator``; the node waits until someone approves it (in the
  Airflow UI's Required Actions, or through the REST API); a rejection skips it and what follows.

Conditions are read by ``leval`` (Valohai's own safe evaluator, no ``eval``): numbers, strings, ``True``,
``False``, ``None``; comparisons ``< <= > >= == !=``; ``and``, ``or``, ``not``; ``+ - * / // %``;
parentheses; ``metadata.<key>`` (the last value the node printed) and ``parameter.<name>`` (the node's
parameter values). A key the node never printed makes the condition false (logged). Other ``when`` and
``then`` values are noted and not run.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RUN_THENS = {"node-complete": ("stop-pipeline", "error-pipeline"), "node-starting": ("require-approval",)}


@dataclass(frozen=True)
class ActionSpec:
    """One action of a node: when, the conditions (all must hold), and what then."""

    when: str
    then: str
    conditions: tuple[str, ...] = ()
    line: int = 0
    notes: list = field(default_factory=list, compare=False)


def read_actions(reader, actions: Sequence[Any], *, line: int, what: str) -> list[ActionSpec]:
    """The actions Airflow runs (each checked by ``leval`` now); the others noted on ``line``."""
    from leval.simple import simple_eval

    found = []
    for action in actions:
        conditions = tuple(str(c) for c in action.if_)
        for then in action.then:
            whens = [w for w in action.when if then in RUN_THENS.get(w, ())]
            if not whens:
                reader.note(line, f"the action 'when: {', '.join(sorted(action.when))}, then: {then}' of {what} is "
                                  "not run here (supported: node-complete -> stop-pipeline or error-pipeline; "
                                  "node-starting -> require-approval)", key=f"action:{what}:{then}")
                continue
            if then == "require-approval" and conditions:
                reader.note(line, f"the approval of {what} is always asked for; its 'if' is not evaluated",
                            key=f"approval-if:{what}")
                conditions = ()
            for condition in conditions:
                try:
                    simple_eval(condition, verify_only=True)
                except Exception as err:  # noqa: BLE001 - leval raises several kinds
                    reader.note(line, f"condition {condition!r} of {what} cannot be read ({err}); the action is "
                                      "not run", key=f"condition:{condition}")
                    break
            else:
                found.append(ActionSpec(when=whens[0], then=then, conditions=conditions, line=line))
    return found


def conditions_hold(conditions: Sequence[str], *, metadata: Mapping[str, Any],
                    parameters: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether every condition holds over ``metadata`` (last values) and ``parameters``, and why."""
    from leval.excs import NoSuchValue
    from leval.simple import simple_eval

    values: dict[tuple, Any] = {("metadata", k): v for k, v in metadata.items()}
    values.update({("parameter", k): v for k, v in parameters.items()})
    values.update({("parameters", k): v for k, v in parameters.items()})
    for condition in conditions:
        try:
            result = simple_eval(condition, values=values)
        except NoSuchValue as err:  # leval looks a dotted name up whole, never as attributes of a value
            return False, f"{condition!r} is false: the node printed no value for {_missing_name(err)}"
        if not result:
            return False, f"{condition!r} is false"
    shown = ", ".join(f"metadata.{k}={metadata[k]!r}" for k in sorted(metadata))
    return True, f"{' and '.join(repr(c) for c in conditions) or 'no condition'} holds ({shown})"


def _missing_name(err: Exception) -> str:
    """``metadata.f1`` from leval's ``No value ('metadata', 'f1')``."""
    text = str(err)
    try:
        parts = ast.literal_eval(text.removeprefix("No value "))
    except (ValueError, SyntaxError):
        return text
    return ".".join(map(str, parts)) if isinstance(parts, tuple) else text


def check_actions(*, node_task_id: str, node: str, conditions: Sequence[str], then: str,
                  parameters: Mapping[str, Any] | None = None, **context: Any) -> bool:
    """The ``<node>__actions`` task's callable (a ``ShortCircuitOperator``): whether the pipeline goes on."""
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    from airflow_datastores.records import XCOM_METADATA

    log = logging.getLogger("airflow.task")
    pulled = context["ti"].xcom_pull(task_ids=node_task_id, key=XCOM_METADATA)
    summaries = pulled if isinstance(pulled, list) else [pulled]  # a sweep: one per variant
    for index, summary in enumerate(summaries):
        last = (summary or {}).get("last", {})
        holds, why = conditions_hold(conditions, metadata=last, parameters=parameters or {})
        where = f"node {node!r}" + (f" (variant {index})" if len(summaries) > 1 else "")
        log.info("Action of %s: %s", where, why)
        if holds and then == "error-pipeline":
            raise AirflowFailException(f"The action of {where} fails the pipeline (error-pipeline): {why}")
        if holds and then == "stop-pipeline":
            log.info("Stopping the pipeline after %s (stop-pipeline): the tasks that follow are skipped", where)
            return False
    return True
