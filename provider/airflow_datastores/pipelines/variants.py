"""Parameter sweeps (Valohai tasks) -> the list of parameter variants one mapped task runs each of."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_datastores.errors import SweepError

STYLES = ("single", "multiple", "linear", "logspace", "random")
SEARCHES = ("grid_search", "manual_search", "random_search")


def style_values(name: str, style: str, rules: Mapping[str, Any]) -> list[Any]:
    """The values of one variant parameter.

    :param name: the parameter (for error messages).
    :param style: ``single``, ``multiple``, ``linear``, ``logspace`` or ``random``.
    :param rules: the style's rules as Valohai writes them (``items``, ``start``/``end``/``step`` ...);
        ``numberify`` makes numbers of text values, ``integerify`` rounds them to whole numbers.
    :raises SweepError: a rule the style needs is missing or is not a number.
    """

    def number(key: str) -> float:
        value = rules.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SweepError(f"parameter {name!r} ({style}) needs a number '{key}'")
        return value

    if style == "single":
        if "value" not in rules:
            raise SweepError(f"parameter {name!r} (single) needs 'value'")
        values = [rules["value"]]
    elif style == "multiple":
        values = rules.get("items")
        if not isinstance(values, list) or not values:
            raise SweepError(f"parameter {name!r} (multiple) needs 'items': a list of values")
        values = list(values)
    elif style == "linear":
        start, end, step = number("start"), number("end"), number("step")
        if step <= 0:
            raise SweepError(f"parameter {name!r} (linear) needs a positive 'step'")
        count = round((end - start) / step + 1e-9) + 1
        values = [start + i * step for i in range(max(count, 0))]
    elif style == "logspace":
        start, end, count, base = number("start"), number("end"), int(number("count")), rules.get("base", 10)
        values = [base ** (start + (end - start) * i / (count - 1)) if count > 1 else base ** start
                  for i in range(count)]
    elif style == "random":
        low, high, count = number("min"), number("max"), int(number("count"))
        draw = random.Random(rules.get("seed", 0))  # noqa: S311 - sweeps, not secrets
        values = [draw.uniform(low, high) for _ in range(count)]
    else:
        raise SweepError(f"parameter {name!r} has style {style!r}; use one of {', '.join(STYLES)}")
    if rules.get("numberify"):  # Valohai's UI writes 'multiple' items as text: "0.1" -> 0.1
        values = [_as_number(name, v) for v in values]
    if rules.get("integerify"):
        values = [round(_as_number(name, v)) for v in values]
    elif style in ("linear", "logspace"):
        values = [int(v) if float(v).is_integer() and isinstance(rules.get("start"), int) else v for v in values]
    return values


def _as_number(name: str, value: Any) -> int | float:
    """``value`` as a number (text such as ``"0.1"`` parsed), or an error naming the parameter."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                number = kind(value)
            except ValueError:
                continue
            if math.isfinite(number):  # not "nan" or "inf"
                return number
    raise SweepError(f"parameter {name!r}: {value!r} is not a number (numberify/integerify need numbers)")


def grid(axes: Mapping[str, Sequence[Any]], base: Sequence[Mapping[str, Any]] = ({},)) -> list[dict[str, Any]]:
    """Every combination of the ``axes`` values, on top of each of the ``base`` variants."""
    names = list(axes)
    return [{**b, **dict(zip(names, combo, strict=True))}
            for b in (base or [{}]) for combo in itertools.product(*(axes[n] for n in names))]
