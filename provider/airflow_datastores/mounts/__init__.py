"""Mounts for tasks: NFS shares and worker directories, seen by one task only, while it runs.

A preprocessing task can read a large dataset in place from a network file system instead of
downloading it, and snapshot what it derives into versioned outputs. Mounted data itself is not
versioned, and the task says so in its log.

* :mod:`.spec` -- :class:`Mount` and :func:`parse_mounts` (dicts, ``"src:dst[:ro]"`` strings)
* :mod:`.paths`, :mod:`.options` -- a spec's source and destination, and its mount options, checked
* :mod:`.validation` -- :func:`validate_mounts` against the task's inputs and outputs directories
* :mod:`.checks` -- :func:`check_mounts_reachable`: shares answer, destinations are usable
* :mod:`.runner` -- :func:`run_with_mounts`, :func:`run_command_with_mounts` in a private mount namespace
  (:mod:`.namespace`, :mod:`.mount_points`, :mod:`.forwarding` serve it)
* :mod:`.drivers` -- bind, NFS through the kernel, NFS through user space (the FUSE daemon
  :mod:`.nfs_fuse` serving :mod:`.nfs_filesystem`)
* :mod:`.kubernetes`, :mod:`.docker` -- the same specs as pod volumes and Docker mounts

Errors are in :mod:`airflow_datastores.errors`; :class:`MountError` (a spec that cannot be used) and
:class:`MountFailed` (a mount that could not be made) are here too.
"""

from __future__ import annotations

from airflow_datastores.errors import MountError, MountFailed
from airflow_datastores.mounts.checks import check_mounts_reachable
from airflow_datastores.mounts.docker import to_docker_mounts
from airflow_datastores.mounts.kubernetes import to_executor_config, to_kubernetes
from airflow_datastores.mounts.runner import run_command_with_mounts, run_with_mounts
from airflow_datastores.mounts.spec import Mount, parse_mounts
from airflow_datastores.mounts.validation import validate_mounts

__all__ = [
    "Mount",
    "MountError",
    "MountFailed",
    "check_mounts_reachable",
    "parse_mounts",
    "run_command_with_mounts",
    "run_with_mounts",
    "to_docker_mounts",
    "to_executor_config",
    "to_kubernetes",
    "validate_mounts",
]
