"""The side-by-side table: min / median seconds per contender, and ours divided by each other's."""

from __future__ import annotations

from collections.abc import Sequence

from bench.interleave import CaseResult, Outcome

OURS = "ours"


def cell(outcome: Outcome, ours: Outcome | None) -> str:
    """``min / median s``, then ``(ours/this 0.62x)`` beside a contender that is not ours."""
    if outcome.missing:
        return outcome.missing
    text = f"{outcome.best:.2f} / {outcome.median:.2f} s"
    if ours is not None and ours.seconds and outcome is not ours:
        text += f" ({ours.best / outcome.best:.2f}x)"
    return text


def render(results: Sequence[CaseResult], headers: dict[str, str], footer: Sequence[str], *,
           markdown: bool) -> str:
    """The table as text (aligned columns) or Markdown; ``headers`` maps contender -> column title,
    in column order."""
    rows = [[r.name, *(cell(r.outcomes[who], r.outcomes.get(OURS)) for who in headers)] for r in results]
    titles = ["case", *headers.values()]
    if markdown:
        lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines + [""] + [f"- {line}" for line in footer])
    widths = [max(len(row[i]) for row in [titles, *rows]) for i in range(len(titles))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
             for row in [titles, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines + [""] + footer)
