"""The scale-out test's waits follow readiness with a generous bound, never a short fixed timeout.

On a loaded 2-core machine an api-server took over 120 s to answer; a wait that gave up then failed
the suite although nothing was wrong. This needs no cluster: it reads the waits' bounds.
"""

from __future__ import annotations

import ast
import inspect
import pathlib

from .cluster import WAIT_SECONDS, AirflowCluster

#: The least bound a wait of the scale-out test may have.
GENEROUS = 600


def test_waits_default_to_a_generous_bound():
    assert WAIT_SECONDS >= GENEROUS
    assert inspect.signature(AirflowCluster.wait).parameters["timeout"].default >= GENEROUS


def test_no_wait_in_the_scaleout_tests_passes_a_short_bound():
    short = []
    for path in sorted(pathlib.Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("wait", "run")):
                continue
            bounds = [kw.value for kw in node.keywords if kw.arg == "timeout"]
            if getattr(node.func, "attr", None) == "wait":
                bounds += node.args[2:]  # a positional bound after (condition, what)
            short += [f"{path.name}:{node.lineno}" for bound in bounds
                      if isinstance(bound, ast.Constant) and isinstance(bound.value, (int, float))
                      and bound.value < GENEROUS]
    assert short == [], f"waits with a bound under {GENEROUS} s: {short}"
