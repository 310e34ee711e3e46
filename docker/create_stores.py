"""Create the bucket or container of every store in ``[datastores] stores`` (docker-compose demo).

airflow-init runs this once the store servers are healthy. It reads the same configuration and Airflow
connections as the tasks do, so the compose file stays the one place that names buckets and hosts.
Creating a bucket that already exists is not an error: the script can run on every ``up``.
It never prints a credential.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from urllib.parse import urlsplit

#: scheme -> the connection the provider uses when a store names none
DEFAULT_CONN_IDS = {
    "s3": "aws_default",
    "az": "wasb_default",
    "gs": "google_cloud_default",
    "swift": "swift_default",
}


def connection(conn_id: str):
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def create_s3_bucket(bucket: str, conn) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    extra = conn.extra_dejson
    client = boto3.client(
        "s3",
        endpoint_url=extra.get("endpoint_url"),
        region_name=extra.get("region_name", "us-east-1"),
        aws_access_key_id=conn.login or None,
        aws_secret_access_key=conn.password or None,
        config=Config(**extra.get("config_kwargs", {})),
    )
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def create_azure_container(container: str, conn) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every request at INFO
    client = BlobServiceClient.from_connection_string(conn.extra_dejson["connection_string"])
    try:
        client.create_container(container)
    except ResourceExistsError:
        pass


def create_gcs_bucket(bucket: str, conn) -> None:
    from google.api_core.exceptions import Conflict
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    extra = conn.extra_dejson
    client = storage.Client(
        project=extra.get("project") or "datastores-demo",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": extra["emulator_host"]},
    )
    try:
        client.create_bucket(bucket)
    except Conflict:
        pass


def create_swift_container(container: str, conn) -> None:
    from swiftclient.client import Connection as SwiftConnection

    extra = conn.extra_dejson
    swift = SwiftConnection(
        authurl=conn.host,
        user=conn.login,
        key=conn.password,
        auth_version=str(extra.get("auth_version", "1")),
        retries=0,
    )
    try:
        swift.put_container(container)  # PUT of an existing container is a 202, not an error
    finally:
        swift.close()


CREATORS = {
    "s3": create_s3_bucket,
    "az": create_azure_container,
    "gs": create_gcs_bucket,
    "swift": create_swift_container,
}


def create(name: str, url: str, conn_id: str | None, attempts: int = 10) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        os.makedirs(parts.path, exist_ok=True)
        print(f"store {name!r}: directory {parts.path} ready")
        return
    if scheme not in CREATORS:
        print(f"store {name!r}: nothing to create for {scheme}:// stores")
        return
    conn_id = conn_id or DEFAULT_CONN_IDS[scheme]
    conn = connection(conn_id)
    for attempt in range(1, attempts + 1):
        try:
            CREATORS[scheme](parts.netloc, conn)
        except Exception as err:  # a server that just turned healthy may still refuse a request or two
            if attempt == attempts:
                raise SystemExit(
                    f"store {name!r}: could not create {scheme}://{parts.netloc} with connection "
                    f"{conn_id!r} ({type(err).__name__}); is its server up? (docker compose ps)"
                ) from None
            time.sleep(min(2 * attempt, 10))
        else:
            print(f"store {name!r}: {scheme}://{parts.netloc} ready (connection {conn_id})")
            return


def main() -> int:
    raw = os.environ.get("AIRFLOW__DATASTORES__STORES", "").strip()
    if not raw:
        print("AIRFLOW__DATASTORES__STORES is empty: no store to create")
        return 0
    stores = json.loads(raw)
    for name, spec in stores.items():
        if isinstance(spec, str):
            spec = {"url": spec}
        create(name, spec["url"], spec.get("conn_id"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
