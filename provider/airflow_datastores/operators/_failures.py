"""Failures that no retry can mend end the task at once, with Airflow's ``AirflowFailException``.

An input that changed under ``on_input_change="fail"``, a spec that cannot be used, a missing or broken extra,
credentials the store refuses and bytes that do not match their checksum after the retry policy's own
attempts fail the same way on every Airflow retry; each retry would resolve and download again first.
Everything else (a store that does not answer, a full disk) may pass, and Airflow retries it as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from airflow.sdk.exceptions import AirflowFailException

from airflow_datastores.errors import (
    AccessDenied,
    BrokenExtra,
    InputChanged,
    IntegrityError,
    InvalidSpec,
    MissingExtra,
)

#: What another try cannot change.
HOPELESS = (InputChanged, InvalidSpec, MissingExtra, BrokenExtra, AccessDenied, IntegrityError)

F = TypeVar("F", bound=Callable[..., Any])


def fail_without_retry(execute: F) -> F:
    """Wrap an operator's ``execute``: a :data:`HOPELESS` error fails the task without Airflow's retries."""

    @functools.wraps(execute)
    def wrapper(self, context, *args, **kwargs):
        try:
            return execute(self, context, *args, **kwargs)
        except HOPELESS as err:
            raise AirflowFailException(f"{err} [{type(err).__name__}: not retried, another try would fail the same "
                                       "way]") from err

    return wrapper  # type: ignore[return-value]
