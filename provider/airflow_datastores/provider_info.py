"""What Airflow's ProvidersManager reads: connection types and forms, filesystems, the decorator, the
``[datastores]`` options (declared in :mod:`.config`). Imports nothing of Airflow, so reading it is cheap."""

from __future__ import annotations

from airflow_datastores.config import OPTIONS

_DISTRIBUTION = "airflow-provider-datastores"


def get_provider_info() -> dict:
    """What Airflow's ProvidersManager reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": _DISTRIBUTION,
        "name": "Data stores",
        "description": "Staged, hashed and change-checked inputs and immutable versioned outputs "
        "for Airflow tasks, on S3, Azure Blob, GCS, OpenStack Swift, HTTP(S) or a local directory.",
        "integrations": [
            {
                "integration-name": "OpenStack Swift",
                "external-doc-url": "https://docs.openstack.org/swift/latest/",
                "tags": ["storage"],
            }
        ],
        "hooks": [{"integration-name": "OpenStack Swift", "python-modules": ["airflow_datastores.hooks.swift"]}],
        "connection-types": [
            {
                "hook-class-name": "airflow_datastores.hooks.swift.SwiftHook",
                "hook-name": "OpenStack Swift",
                "connection-type": "swift",
                # Airflow reads the form (fields, labels) from here without importing the hook.
                "conn-fields": {
                    "auth_version": {
                        "label": "Auth version",
                        "schema": {"type": ["string", "null"], "enum": ["3", "1"], "default": "3"},
                        "description": "3 for Keystone v3 (default), 1 for tempauth / v1 auth",
                    },
                    "project_name": {
                        "label": "Project name",
                        "schema": {"type": ["string", "null"]},
                        "description": "Keystone v3 project (tenant) to scope the token to",
                    },
                    "user_domain_name": {
                        "label": "User domain",
                        "schema": {"type": ["string", "null"]},
                        "description": "Keystone v3 user domain (default: Default)",
                    },
                    "project_domain_name": {
                        "label": "Project domain",
                        "schema": {"type": ["string", "null"]},
                        "description": "Keystone v3 project domain (default: Default)",
                    },
                    "region_name": {
                        "label": "Region",
                        "schema": {"type": ["string", "null"]},
                        "description": "Region of the object-store endpoint in the service catalog",
                    },
                    "cacert": {
                        "label": "CA bundle",
                        "schema": {"type": ["string", "null"]},
                        "description": "Path of a CA bundle on the workers to verify the TLS certificates with",
                    },
                    "insecure": {
                        "label": "Skip TLS verification",
                        "schema": {"type": ["boolean", "null"], "default": False},
                        "description": "Do not verify TLS certificates (test clusters only)",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Auth URL",
                        "login": "User name",
                        "password": "Password or key",
                    },
                    "placeholders": {
                        "host": "https://keystone.example.com:5000/v3",
                        "login": "swift-user",
                        "project_name": "my-project",
                        "user_domain_name": "Default",
                        "project_domain_name": "Default",
                    },
                },
            }
        ],
        "filesystems": ["airflow_datastores.fs.swift"],
        "task-decorators": [
            {"name": "datastore", "class-name": "airflow_datastores.decorators.datastore_task"},
        ],
        "config": {
            "datastores": {
                "description": "Where tasks keep their inputs and outputs.",
                "options": OPTIONS,
            }
        },
    }
