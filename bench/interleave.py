"""Running contenders side by side: each round runs every contender once, in a fixed order, so a
slow patch of the shared machine falls on all of them rather than on one."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Task:
    """One contender's way of doing one case.

    :param run: the timed work.
    :param setup: untimed, once before the first run (e.g. a first download for a rerun case).
    :param reset: untimed, after every run, so each starts from the same state (and disk stays bounded).
    :param teardown: untimed, once after the last run.
    """

    run: Callable[[], object]
    setup: Callable[[], object] | None = None
    reset: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None


@dataclass
class Outcome:
    """What one contender did in one case: its times, or why it has none."""

    seconds: list[float] = field(default_factory=list)
    missing: str = ""  # "not installed: ..." or "failed: ..."

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class CaseResult:
    name: str
    outcomes: dict[str, Outcome]

    def ratio(self, other: str) -> float | None:
        """Ours' best time over ``other``'s; ``None`` when either has no time."""
        ours, theirs = self.outcomes["ours"], self.outcomes.get(other)
        if not ours.seconds or theirs is None or not theirs.seconds:
            return None
        return ours.best / theirs.best


def _call(step: Callable[[], object] | None) -> None:
    if step is not None:
        step()


def run_case(name: str, tasks: dict[str, Task | str], *, repeat: int, quiet: bool = False) -> CaseResult:
    """Time each task ``repeat`` times, interleaved: round 1 runs all in order, then round 2, ...

    :param tasks: contender name -> its task, or a string saying why that contender cannot run.
    A task that raises is reported as failed and left out of the later rounds; the others go on.
    :param quiet: no line per round (for cases of many short rounds).
    """
    outcomes = {who: Outcome(missing=task) if isinstance(task, str) else Outcome() for who, task in tasks.items()}
    live = {who: task for who, task in tasks.items() if not isinstance(task, str)}
    print(f"  {name}", flush=True)
    try:
        for who, task in list(live.items()):
            _guard(who, outcomes, live, lambda task=task: _call(task.setup))
        for number in range(1, repeat + 1):
            for who, task in list(live.items()):
                def once(task: Task = task, who: str = who) -> None:
                    started = time.perf_counter()
                    task.run()
                    outcomes[who].seconds.append(time.perf_counter() - started)
                    _call(task.reset)
                if _guard(who, outcomes, live, once) and not quiet:
                    print(f"    round {number}: {who} {outcomes[who].seconds[-1]:.2f} s", flush=True)
    finally:
        for task in tasks.values():
            if not isinstance(task, str):
                try:
                    _call(task.teardown)
                except Exception as err:  # cleanup must not hide the results
                    print(f"    teardown failed: {err}", flush=True)
    return CaseResult(name, outcomes)


def _guard(who: str, outcomes: dict[str, Outcome], live: dict[str, Task], step: Callable[[], None]) -> bool:
    """Run ``step``; on an error mark ``who`` failed, drop it from the later rounds and say so."""
    try:
        step()
        return True
    except Exception as err:  # one contender's failure must not stop the others
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        outcomes[who].missing = f"failed: {message[:200]}"
        outcomes[who].seconds.clear()
        live.pop(who, None)
        print(f"    {who} failed: {message}", flush=True)
        return False
