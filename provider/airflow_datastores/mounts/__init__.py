"""Mounts for tasks: NFS shares and worker directories, seen by one task only, while it runs.

A preprocessing task can read a large dataset in place from a network file system instead of
downloading it, and snapshot what it derives into versioned outputs. Mounted data itself is not
versioned, and the task says so in its log.

* :mod:`.spec` -- :class:`Mount` and :func:`parse_mounts` (dicts, ``"src:dst[:ro]"`` strings)
* :mod:`.validation` -- :func:`validate_mounts` against the task's inputs and outputs directories
* :mod:`.checks` -- :func:`check_mounts_reachable`: shares answer, destinations are usable
* :mod:`.runner` -- :func:`run_with_mounts`, :func:`run_command_with_mounts` in a private mount namespace
* :mod:`.drivers` -- bind, NFS through the kernel, NFS through user space (FUSE: :mod:`.nfs_fuse`)
* :mod:`.kubernetes`, :mod:`.docker` -- the same specs as pod volumes and Docker mounts
"""

from __future__ import annotations

from airflow_datastores.errors import MountedProcessDied, MountError, MountFailed, MountNotPermitted, ShareUnreachable
from airflow_datastores.mounts.checks import check_mounts_reachable
from airflow_datastores.mounts.docker import to_docker_mounts
from airflow_datastores.mounts.drivers import kernel_nfs_unavailable, select_driver, userspace_nfs_unavailable
from airflow_datastores.mounts.kubernetes import to_executor_config, to_kubernetes
from airflow_datastores.mounts.namespace import has_mount_privilege
from airflow_datastores.mounts.runner import NOT_VERSIONED, run_command_with_mounts, run_with_mounts
from airflow_datastores.mounts.spec import Mount, parse_mount, parse_mounts
from airflow_datastores.mounts.validation import validate_mounts

__all__ = [
    "NOT_VERSIONED",
    "Mount",
    "MountError",
    "MountFailed",
    "MountNotPermitted",
    "MountedProcessDied",
    "ShareUnreachable",
    "check_mounts_reachable",
    "has_mount_privilege",
    "kernel_nfs_unavailable",
    "parse_mount",
    "parse_mounts",
    "run_command_with_mounts",
    "run_with_mounts",
    "select_driver",
    "to_docker_mounts",
    "to_executor_config",
    "to_kubernetes",
    "userspace_nfs_unavailable",
    "validate_mounts",
]
