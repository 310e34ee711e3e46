"""``airflow-datastores``: look at stores and versions, verify, diff and purge them, from a shell.

Output is written for people (aligned tables, human sizes); ``-o json`` (or ``--json``) gives the same
as exactly one JSON document for programs. ``definition`` holds the parser, ``commands`` and ``catalog``
the commands, ``output`` where and how results are written.
"""

from __future__ import annotations

from airflow_datastores.cli.definition import build_parser
from airflow_datastores.cli.main import main

__all__ = ["build_parser", "main"]
