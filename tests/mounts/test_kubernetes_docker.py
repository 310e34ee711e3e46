"""The same specs as Kubernetes pod volumes and Docker mounts, checked field by field."""

from __future__ import annotations

import logging

import docker.types
import pytest
from kubernetes.client import models as k8s

from airflow_datastores.mounts import MountError, to_docker_mounts, to_executor_config, to_kubernetes
from airflow_datastores.mounts.docker import nfs_volume_name
from airflow_datastores.mounts.kubernetes import volume_name
from airflow_datastores.mounts.spec import parse_mount

SPECS = [
    {"source": "fs-1234aa62.efs.eu-west-1.amazonaws.com:/", "destination": "/mnt/efs", "readonly": True},
    "10.0.0.2:/mystore:/mnt/store",
    {"source": "/data/raw", "destination": "/mnt/raw", "readonly": True},
]


def test_kubernetes_volumes_and_volume_mounts():
    volumes, volume_mounts = to_kubernetes(SPECS)
    assert all(isinstance(volume, k8s.V1Volume) for volume in volumes)
    assert all(isinstance(mount, k8s.V1VolumeMount) for mount in volume_mounts)
    efs, store, raw = volumes
    names = [volume_name(parse_mount(spec)) for spec in SPECS]
    assert [volume.name for volume in volumes] == names == [mount.name for mount in volume_mounts]
    assert len(set(names)) == 3 and all(name.startswith("datastore-") and len(name) <= 63 for name in names)

    assert isinstance(efs.nfs, k8s.V1NFSVolumeSource)
    assert (efs.nfs.server, efs.nfs.path, efs.nfs.read_only) == (
        "fs-1234aa62.efs.eu-west-1.amazonaws.com",
        "/",
        True,
    )
    assert efs.host_path is None
    assert (store.nfs.server, store.nfs.path, store.nfs.read_only) == ("10.0.0.2", "/mystore", False)
    assert isinstance(raw.host_path, k8s.V1HostPathVolumeSource)
    assert (raw.host_path.path, raw.host_path.type) == ("/data/raw", "Directory")
    assert raw.nfs is None

    assert [(m.mount_path, m.read_only) for m in volume_mounts] == [
        ("/mnt/efs", True),
        ("/mnt/store", False),
        ("/mnt/raw", True),
    ]


def test_executor_config_puts_the_volumes_on_the_base_container():
    config = to_executor_config(SPECS)
    assert list(config) == ["pod_override"]
    pod = config["pod_override"]
    assert isinstance(pod, k8s.V1Pod)
    (container,) = pod.spec.containers
    assert container.name == "base"
    volumes, volume_mounts = to_kubernetes(SPECS)
    assert pod.spec.volumes == volumes
    assert container.volume_mounts == volume_mounts


def test_kubernetes_refuses_a_port_it_cannot_express_and_warns_about_dropped_options(caplog):
    with pytest.raises(
        MountError, match="options: port=20490 cannot be expressed as a Kubernetes nfs volume"
    ):
        to_kubernetes([{"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": {"port": 20490}}])
    with caplog.at_level(logging.WARNING):
        to_kubernetes([{"source": "10.0.0.2:/x", "destination": "/mnt/x", "options": "vers=4.1,hard"}])
    assert "Kubernetes nfs volumes take no mount options" in caplog.text
    assert "vers, hard" in caplog.text


def test_docker_mounts():
    mounts = to_docker_mounts(
        [
            *SPECS,
            {
                "source": "10.0.0.2:/mystore",
                "destination": "/mnt/tuned",
                "options": "vers=4.1,port=2050,hard",
            },
        ]
    )
    assert all(isinstance(mount, docker.types.Mount) for mount in mounts)
    efs, store, raw, tuned = mounts

    assert efs["Type"] == "volume"
    assert efs["Target"] == "/mnt/efs"
    assert efs["ReadOnly"] is True
    assert efs["Source"] == nfs_volume_name(parse_mount(SPECS[0]))
    assert efs["VolumeOptions"]["DriverConfig"] == {
        "Name": "local",
        "Options": {"type": "nfs", "o": "addr=fs-1234aa62.efs.eu-west-1.amazonaws.com,ro", "device": ":/"},
    }
    assert efs["VolumeOptions"]["Labels"] == {
        "io.airflow-datastores.source": "fs-1234aa62.efs.eu-west-1.amazonaws.com:/"
    }

    assert (store["Type"], store["Target"], store["ReadOnly"]) == ("volume", "/mnt/store", False)
    assert store["VolumeOptions"]["DriverConfig"]["Options"] == {
        "type": "nfs",
        "o": "addr=10.0.0.2",
        "device": ":/mystore",
    }
    assert tuned["VolumeOptions"]["DriverConfig"]["Options"] == {
        "type": "nfs",
        "o": "addr=10.0.0.2,vers=4.1,port=2050,hard",
        "device": ":/mystore",
    }
    # Same share, other options: another volume, so Docker never reuses a volume made with other options.
    assert len({efs["Source"], store["Source"], tuned["Source"]}) == 3

    assert dict(raw) == {"Target": "/mnt/raw", "Source": "/data/raw", "Type": "bind", "ReadOnly": True}
