"""Provider info in the shape the installed Airflow reads: its JSON schemas, then its ProvidersManager."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from airflow_datastores import get_provider_info


def _airflow_schema(name: str) -> dict:
    return json.loads(files("airflow").joinpath(name).read_text())


def test_provider_info_matches_the_schema_airflow_ships():
    info = get_provider_info()
    schema = _airflow_schema("provider_info.schema.json")
    jsonschema.validate(info, schema)
    # The schema allows unknown keys, which Airflow then ignores: ours must all be known and current.
    unknown = set(info) - set(schema["properties"])
    assert not unknown, f"keys Airflow does not read: {unknown}"
    deprecated = {key for key in info if "deprecated" in schema["properties"][key]}
    assert not deprecated, f"deprecated keys: {deprecated}"
    # Form fields are read only inside each connection type (as provider.yaml declares them).
    connection_types = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(info["connection-types"], connection_types)
    (swift,) = info["connection-types"]
    assert set(swift) == {"connection-type", "hook-class-name", "hook-name", "conn-fields", "ui-field-behaviour"}


def test_every_datastores_option_the_code_reads_is_declared_and_in_the_readme():
    options = get_provider_info()["config"]["datastores"]["options"]
    source = Path(str(files("airflow_datastores")))
    read = {name for path in source.rglob("*.py")
            for name in re.findall(r'\b(?:conf_value|conf_int|conf_float|conf_json_object|_conf)\(\s*"([a-z_]+)"', path.read_text())}
    assert "environment_queues" in read and read <= set(options), read - set(options)
    assert json.loads(options["environment_queues"]["example"]) == {"aws-eu-west-1-p2-xlarge": "gpu"}
    assert options["environment_queues"]["default"] == ""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Configuration (`[datastores]`)", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)) == set(options)


@pytest.fixture(scope="module")
def providers_manager():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_providers_manager_builds_the_swift_form(providers_manager):
    widgets = {name: widget for name, widget in providers_manager.connection_form_widgets.items()
               if name.startswith("extra__swift__")}
    assert set(widgets) == {f"extra__swift__{field}" for field in (
        "auth_version", "project_name", "user_domain_name", "project_domain_name", "region_name", "cacert",
        "insecure")}
    project = widgets["extra__swift__project_name"]
    assert project.package_name == "airflow-provider-datastores"
    assert project.hook_class_name == "airflow_datastores.hooks.swift.SwiftHook"
    assert project.field["schema"]["title"] == "Project name" and not project.is_sensitive
    assert widgets["extra__swift__insecure"].field["value"] is False

    behaviour = providers_manager.field_behaviours["swift"]
    assert behaviour["relabeling"] == {"host": "Auth URL", "login": "User name", "password": "Password or key"}
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["placeholders"]["host"].startswith("https://")
    assert behaviour["placeholders"]["extra__swift__project_name"] == "my-project"  # custom fields get the prefix


def test_providers_manager_names_the_hook(providers_manager):
    providers_manager.initialize_providers_hooks()
    assert providers_manager._hook_name_dict["swift"] == "OpenStack Swift"  # what the type picker shows
    provider = providers_manager.providers["airflow-provider-datastores"]
    assert provider.version == "0.1.0"
