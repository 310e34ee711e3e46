"""``airflow-datastores``: parse, run one command, and turn what went wrong into one line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from airflow_datastores.cli.definition import build_parser
from airflow_datastores.cli.output import results_on_stdout_only
from airflow_datastores.errors import DataStoreError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (default: the process's arguments); its exit code.

    A wrong argument ends in argparse's usage error (exit code 2); a failure of the command prints
    ``error: ...`` on stderr (and ``{"error": ...}`` with ``-o json``) and returns 1.
    """
    args = build_parser().parse_args(argv)
    if args.check:
        args.check(args)
    with results_on_stdout_only(args.output) as out:
        try:
            return args.func(args, out)
        except (DataStoreError, ValueError) as err:
            out.error(str(err))
            return 1


if __name__ == "__main__":
    sys.exit(main())
