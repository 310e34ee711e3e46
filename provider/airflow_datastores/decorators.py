"""``@task.datastore``: a TaskFlow step that stages inputs, runs the function, snapshots its outputs.

.. code-block:: python

    from airflow.sdk import dag, task
    from airflow_datastores import outputs_of


    @task.datastore(inputs={"raw": "s3://my-bucket/raw/*.csv"})
    def clean(raw, outputs_dir):
        for path in raw.iterdir():
            (outputs_dir / path.name).write_text(path.read_text().lower())


    @task.datastore
    def train(data, outputs_dir):
        ...


    train(data=clean())  # stages exactly the version clean() committed in this run

The function receives ``inputs_dir`` and ``outputs_dir`` (``pathlib.Path``) when its signature names
them, and each input's directory under the input's name. Its return value goes to XCom as usual.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from airflow_datastores.operators.assets import outputs_of
from airflow_datastores.operators.step import STEP_TEMPLATE_FIELDS, DatastoreStepOperator

_DIRECTORIES = ("inputs_dir", "outputs_dir")


def _upstream_outputs(value: Any) -> dict | None:
    """``value`` as an input, when it is an upstream step's outputs (``outputs_of`` or its XComArg)."""
    from airflow.sdk import XComArg

    if isinstance(value, Mapping) and set(value) == {"version", "path"} and isinstance(value["version"], XComArg):
        return dict(value)
    operator = getattr(value, "operator", None)
    if isinstance(value, XComArg) and isinstance(operator, DatastoreStepOperator):
        return outputs_of(operator)
    return None


class _DatastoreDecoratedOperator(DecoratedOperator, DatastoreStepOperator):
    """The operator behind ``@task.datastore``."""

    custom_operator_name = "@task.datastore"
    template_fields: Sequence[str] = ("op_args", *STEP_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if op_args:
            raise TypeError(
                f"@task.datastore function {python_callable.__name__}: pass arguments by keyword; "
                "inputs are matched to parameters by name"
            )
        inputs = dict(inputs or {})
        call_kwargs = {}
        for name, value in (op_kwargs or {}).items():
            upstream = _upstream_outputs(value)
            if upstream is not None:
                inputs[name] = upstream
            else:
                call_kwargs[name] = value
        function = _with_injected_defaults(python_callable, set(_DIRECTORIES) | set(inputs))
        super().__init__(
            python_callable=function,
            op_args=[],
            op_kwargs=call_kwargs,
            kwargs_to_upstream={"inputs": inputs, "python_callable": function, "op_kwargs": call_kwargs},
            **kwargs,
        )


def _with_injected_defaults(func: Callable[..., Any], names: set[str]) -> Callable[..., Any]:
    """A wrapper whose signature gives the injected parameters a default, so that Airflow's call-time
    signature check does not ask the DAG author to pass them."""
    signature = inspect.signature(func)
    if not names & set(signature.parameters):
        return func

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    parameters = [
        p.replace(default=None) if p.name in names and p.default is inspect.Parameter.empty else p
        for p in signature.parameters.values()
    ]
    # Defaults may not precede non-defaults: move injected ones after the rest of their kind.
    parameters.sort(key=lambda p: (p.kind, p.default is not inspect.Parameter.empty))
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return wrapper


def datastore_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
):
    """``@task.datastore(inputs=..., store=..., mounts=..., on_input_change=..., skip_if_unchanged=...)``.

    Takes the arguments of :class:`~airflow_datastores.operators.DatastoreStepOperator` except
    ``command``.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=_DatastoreDecoratedOperator,
        **kwargs,
    )
