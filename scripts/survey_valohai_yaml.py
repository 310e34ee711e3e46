"""Valohai's parser and lint beside our loader over a directory of valohai.yaml files.

    python scripts/survey_valohai_yaml.py DIR [--json]

Prints one line per file (V: Valohai accepts it, O: our loader loads it and builds its DAGs, P: it holds
a pipeline) with the reason for a refusal, then the counts. The files are not part of this repository: gather
public ones to measure against (the README's YAML section says what was measured).
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys


def valohai_verdict(path: str) -> tuple[bool, str]:
    from valohai_yaml.lint import lint_file

    errors = [m["message"] for m in lint_file(path).errors]
    return not errors, "; ".join(errors)


def our_verdict(path: str) -> tuple[bool, str]:
    from airflow_datastores.pipelines import PipelineError, load_pipelines

    try:
        load_pipelines(path)
    except PipelineError as err:
        return False, str(err)
    return True, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    rows = []
    for path in sorted(glob.glob(os.path.join(args.directory, "*.y*ml"))):
        valohai, why_valohai = valohai_verdict(path)
        ours, why_ours = our_verdict(path)
        with open(path) as handle:
            pipeline = "- pipeline:" in handle.read()
        rows.append({"file": os.path.basename(path), "valohai": valohai, "ours": ours, "pipeline": pipeline,
                     "why": why_ours or why_valohai})
    summary = {"files": len(rows), "valohai_accepts": sum(r["valohai"] for r in rows),
               "ours_loads": sum(r["ours"] for r in rows),
               "both": sum(r["valohai"] and r["ours"] for r in rows),
               "with_pipelines": sum(r["pipeline"] for r in rows),
               "with_pipelines_loaded": sum(r["pipeline"] and r["ours"] for r in rows)}
    if args.json:
        print(json.dumps({"files": rows, "summary": summary}))
    else:
        for r in rows:
            flags = ("V" if r["valohai"] else "-") + ("O" if r["ours"] else "-") + ("P" if r["pipeline"] else " ")
            print(f"{flags} {r['file'][:60]:60} {r['why'][:120]}")
        print(", ".join(f"{k}: {v}" for k, v in summary.items()))
    return 0 if summary["both"] == summary["valohai_accepts"] else 1


if __name__ == "__main__":
    sys.exit(main())
