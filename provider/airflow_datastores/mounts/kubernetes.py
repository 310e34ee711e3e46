"""The same mounts as Kubernetes pod volumes: for KubernetesPodOperator and the KubernetesExecutor.

NFS becomes an ``nfs`` volume (the node's kubelet mounts it), a bind mount a ``hostPath`` volume of
the node; ``readonly`` sets ``readOnly`` on both the volume and the container's volume mount. No
privilege is needed in the task's container.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_datastores.errors import MountError
from airflow_datastores.mounts.spec import NFS_DEFAULT_PORT, Mount, parse_mounts

if TYPE_CHECKING:
    from kubernetes.client import models as k8s

log = logging.getLogger(__name__)

#: The container that the KubernetesExecutor runs the task in; pod_override merges into it by name.
BASE_CONTAINER = "base"


def volume_name(mount: Mount) -> str:
    """A stable DNS-1123 name for the mount's volume, derived from its destination."""
    return "datastore-" + hashlib.sha256(mount.destination.encode()).hexdigest()[:12]


def to_kubernetes(
    mounts: Sequence[Mount | dict | str],
) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount]]:
    """Pod volumes and the container's volume mounts: ``KubernetesPodOperator(volumes=, volume_mounts=)``."""
    models = _models()
    volumes, volume_mounts = [], []
    for mount in parse_mounts(list(mounts)):
        name = volume_name(mount)
        if mount.type == "nfs":
            _check_nfs_options(mount)
            source = {
                "nfs": models.V1NFSVolumeSource(
                    server=mount.server, path=mount.export, read_only=mount.readonly
                )
            }
        else:
            if mount.options:
                log.warning(
                    "Kubernetes hostPath volumes take no mount options; ignored for %s: %s",
                    mount.describe(),
                    mount.options_string(),
                )
            source = {"host_path": models.V1HostPathVolumeSource(path=mount.source, type="Directory")}
        volumes.append(models.V1Volume(name=name, **source))
        volume_mounts.append(
            models.V1VolumeMount(name=name, mount_path=mount.destination, read_only=mount.readonly)
        )
    return volumes, volume_mounts


def to_executor_config(mounts: Sequence[Mount | dict | str]) -> dict[str, Any]:
    """``executor_config`` for the KubernetesExecutor: a pod override with the volumes on "base"."""
    models = _models()
    volumes, volume_mounts = to_kubernetes(mounts)
    pod = models.V1Pod(
        spec=models.V1PodSpec(
            containers=[models.V1Container(name=BASE_CONTAINER, volume_mounts=volume_mounts)],
            volumes=volumes,
        )
    )
    return {"pod_override": pod}


def _check_nfs_options(mount: Mount) -> None:
    if mount.port != NFS_DEFAULT_PORT:
        raise MountError(
            f"options: port={mount.port} cannot be expressed as a Kubernetes nfs volume, which always uses "
            f"port {NFS_DEFAULT_PORT}; use a PersistentVolume with mountOptions for {mount.source}"
        )
    ignored = [name for name, _ in mount.option_items if name != "port"]
    if ignored:
        log.warning(
            "Kubernetes nfs volumes take no mount options (the kubelet mounts with its defaults); ignored "
            "for %s: %s. Use a PersistentVolume with mountOptions to set them.",
            mount.describe(),
            ", ".join(ignored),
        )


def _models():
    try:
        from kubernetes.client import models
    except ImportError as err:
        raise ImportError(
            "Kubernetes mounts need the kubernetes client: "
            "pip install 'airflow-provider-datastores[kubernetes]'"
        ) from err
    return models
