"""The package's public names: each one resolves, and importing the package loads neither Airflow's Task
SDK nor a cloud SDK (Airflow reads provider info through it)."""

from __future__ import annotations

import subprocess
import sys

import airflow_datastores


def test_every_public_name_resolves_to_what_its_module_defines():
    for name in airflow_datastores.__all__:
        value = getattr(airflow_datastores, name)
        assert value is not None, name
    assert airflow_datastores.DatastoreStepOperator.__module__ == "airflow_datastores.operators.step"
    assert issubclass(airflow_datastores.InvalidSpec, (airflow_datastores.DataStoreError, ValueError))
    assert sorted(dir(airflow_datastores)) == sorted(airflow_datastores.__all__)


def test_importing_the_package_loads_no_task_sdk_or_cloud_sdk():
    script = (
        "import sys, airflow_datastores\n"
        "airflow_datastores.get_provider_info()\n"
        "heavy = ('airflow.sdk', 'airflow.models', 'boto3', 'botocore', 'google.cloud.storage', 'azure.storage',"
        " 'swiftclient')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_public_table_is_the_one_source_of_the_surface():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(airflow_datastores))
    checked = next(node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
    imported = {alias.asname or alias.name: node.module for node in checked.body for alias in node.names}
    assert imported == airflow_datastores._PUBLIC  # each name from the module the table says
    assert airflow_datastores.__all__ == ["__version__", "get_provider_info", *airflow_datastores._PUBLIC]
