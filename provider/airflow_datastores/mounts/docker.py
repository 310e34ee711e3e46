"""The same mounts as Docker mounts, for ``DockerOperator(mounts=...)``.

A bind mount stays a bind mount. An NFS share becomes a volume of Docker's ``local`` driver with NFS
options (what ``docker volume create --driver local --opt type=nfs ...`` makes); the Docker daemon
mounts it, so the task's container needs no privilege. The volume's name is derived from the share
and its options, so two tasks with the same spec share one volume and a changed spec gets a new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_datastores.mounts.spec import Mount, parse_mounts

if TYPE_CHECKING:
    import docker.types

log = logging.getLogger(__name__)

SOURCE_LABEL = "io.airflow-datastores.source"


def nfs_volume_name(mount: Mount) -> str:
    """``datastore-nfs-<hash of source, options, readonly>``."""
    key = json.dumps([mount.source, list(mount.option_items), mount.readonly])
    return "datastore-nfs-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def nfs_driver_options(mount: Mount) -> dict[str, str]:
    """The ``local`` driver's options for an NFS share: type, device and ``o`` (addr and mount options)."""
    extra = ["ro"] if mount.readonly else []
    options = ",".join(part for part in (f"addr={mount.server}", mount.options_string(*extra)) if part)
    return {"type": "nfs", "o": options, "device": f":{mount.export}"}


def to_docker_mounts(mounts: Sequence[Mount | dict | str]) -> list[docker.types.Mount]:
    """``docker.types.Mount`` objects for ``DockerOperator(mounts=...)``."""
    types = _types()
    result = []
    for mount in parse_mounts(list(mounts)):
        if mount.type == "bind":
            if mount.options:
                log.warning(
                    "Docker bind mounts take no mount options; ignored for %s: %s",
                    mount.describe(),
                    mount.options_string(),
                )
            result.append(
                types.Mount(
                    target=mount.destination, source=mount.source, type="bind", read_only=mount.readonly
                )
            )
        else:
            result.append(
                types.Mount(
                    target=mount.destination,
                    source=nfs_volume_name(mount),
                    type="volume",
                    read_only=mount.readonly,
                    labels={SOURCE_LABEL: mount.source},
                    driver_config=types.DriverConfig("local", options=nfs_driver_options(mount)),
                )
            )
    return result


def _types():
    try:
        import docker.types
    except ImportError as err:
        raise ImportError(
            "Docker mounts need the docker SDK: pip install 'airflow-provider-datastores[docker]'"
        ) from err
    return docker.types
