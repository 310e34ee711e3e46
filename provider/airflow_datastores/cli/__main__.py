"""``python -m airflow_datastores.cli``: the same as the ``airflow-datastores`` command."""

import sys

from airflow_datastores.cli.main import main

sys.exit(main())
