"""What Airflow's ProvidersManager reads: connection types and forms, filesystems, the decorator, the
``[datastores]`` options. Imports nothing of Airflow, so reading it is cheap."""

from __future__ import annotations

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
                "options": {
                    "default_store": {
                        "description": "URL or name of the store used when a task names none. "
                        "Empty: a local directory, $AIRFLOW_HOME/datastores.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://my-bucket/airflow",
                        "default": "",
                    },
                    "stores": {
                        "description": "Named stores, as JSON: name -> URL, or name -> "
                        '{"url": ..., "conn_id": ...}. Inputs under a named store\'s URL use its connection.',
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": '{"raw": {"url": "s3://raw-data", "conn_id": "aws_raw"}}',
                        "default": "",
                    },
                    "cache_dir": {
                        "description": "Local cache of staged inputs on each worker. "
                        "Empty: $AIRFLOW_HOME/datastores-cache.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/var/cache/airflow-datastores",
                        "default": "",
                    },
                    "work_dir": {
                        "description": "Where tasks get their inputs and outputs directories. Empty: "
                        "$AIRFLOW_HOME/datastores-work. Keep it on the same file system as cache_dir.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/var/lib/airflow-datastores/work",
                        "default": "",
                    },
                    "cache_max_bytes": {
                        "description": "Upper bound of the cache's size in bytes; the least recently "
                        "used entries go first.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "107374182400",
                        "default": "10737418240",
                    },
                    "max_connections": {
                        "description": "How many connections one task may have open to its stores at once: "
                        "many small files transfer that many at once (each waits on round trips), a large "
                        "object is read as parallel ranges that share them (each stream is capped by the "
                        "network), and large uploads send parts in parallel.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "64",
                        "default": "32",
                    },
                    "max_concurrency": {
                        "description": "How many files one task transfers at once. Empty: as many as "
                        "max_connections.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "16",
                        "default": "",
                    },
                    "retry_attempts": {
                        "description": "Tries of one request to a store in all, the first included (1: no "
                        "retry). Transient failures (resets, timeouts, 408/429/5xx, throttling) are retried "
                        "with exponential backoff and jitter; a read resumes at its last byte.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "12",
                        "default": "8",
                    },
                    "retry_max_seconds": {
                        "description": "No retry of a request starts after this many seconds since its first try.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "600",
                        "default": "300",
                    },
                    "read_timeout": {
                        "description": "Seconds a request may wait for the next bytes before it counts as "
                        "stalled and is retried.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "120",
                        "default": "60",
                    },
                    "environment_queues": {
                        "description": "YAML pipelines: JSON object of Valohai environment (a step's "
                        "'environment', a machine type) -> the Airflow queue its task goes to. A step whose "
                        "environment is not listed runs on the default queue, with a note.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": '{"aws-eu-west-1-p2-xlarge": "gpu"}',
                        "default": "",
                    },
                    "datums": {
                        "description": "Valohai datum:// URLs: JSON object of datum id (or name) -> the URL of "
                        "that file here, for teams that copied their Valohai data into their own bucket. A datum "
                        "not listed is looked up as an alias of that name (one that names a file).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": '{"0182b0ad-5a7a-c36b-e79e-80623acea29f": "s3://bucket/data/train.csv"}',
                        "default": "",
                    },
                },
            }
        },
    }
