"""What an operator checks of its arguments when the DAG is parsed, so a mistake fails the DAG's import
and names the task, and the passwords written into input URLs handed to Airflow's secrets masker."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_datastores.errors import InvalidSpec
from airflow_datastores.inputs.changes import check_policy
from airflow_datastores.inputs.spec import Input, check_inputs, is_template
from airflow_datastores.redaction import split_userinfo
from airflow_datastores.stores.registry import split_url
from airflow_datastores.versions import aliases


def check_task(task_id: str, *, inputs: Any, on_input_change: str, store: str | None = None) -> str:
    """Check a step's arguments when the DAG is parsed, so a mistake fails the DAG's import and names
    the task (what is templated or comes from an upstream step is checked when it runs).

    :return: the change policy, checked.
    """
    try:
        policy = check_policy(on_input_change)
        check_inputs(inputs)
        if store and "://" in store and not is_template(store):
            split_url(store)
    except InvalidSpec as err:
        raise InvalidSpec(f"Task {task_id!r}: {err}") from None
    return policy


def check_promote(task_id: str, promote: str | Sequence[str] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The aliases a step moves to its committed version, checked at parse time: ``(name, path)`` pairs,
    ``path`` the one file an alias names (``promote={"model-best": "model.pkl"}``) or "" for all of it."""
    if isinstance(promote, Mapping):
        pairs = [(name, str(path or "")) for name, path in promote.items()]
    else:
        pairs = [(name, "") for name in ([promote] if isinstance(promote, str) else list(promote or ()))]
    try:
        return tuple((aliases.check_alias_name(name), path) for name, path in pairs)
    except InvalidSpec as err:
        raise InvalidSpec(f"Task {task_id!r}: promote: {err}") from None


def mask_url_passwords(inputs: Any) -> None:
    """Have Airflow's secrets masker hide each password written into an input URL: the task's rendered
    template fields (a page of the UI) and Airflow's own log lines show the inputs as written.
    Our messages and records never carry it (see :class:`~airflow_datastores.inputs.spec.Input`)."""
    passwords = set()
    for text in _strings(inputs):
        try:
            userinfo = split_userinfo(text)[1] if "@" in text else None
        except ValueError:  # not a URL
            continue
        if userinfo and userinfo[1]:
            passwords.add(userinfo[1])
    if passwords:
        from airflow.sdk.log import mask_secret

        for password in passwords:
            mask_secret(password)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Input):
        yield from value.given_urls.values()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, Sequence):
        for item in value:
            yield from _strings(item)
