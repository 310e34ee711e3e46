"""What each driver is given: mount(8) argument lists, the FUSE daemon's settings, the driver chosen."""

from __future__ import annotations

import re

import pytest

from airflow_datastores.mounts import Mount, MountError, MountFailed
from airflow_datastores.mounts.drivers import (
    BindDriver,
    KernelNfsDriver,
    UserspaceNfsDriver,
    bind_mount_arguments,
    kernel_nfs_arguments,
    kernel_nfs_unavailable,
    select_driver,
    userspace_config,
)


def test_bind_arguments_are_lists_and_read_only_comes_from_a_remount():
    odd = "/data/a b;$(touch pwned)"
    assert bind_mount_arguments(Mount(odd, "/mnt/x")) == [["--bind", "--", odd, "/mnt/x"]]
    assert bind_mount_arguments(Mount("/data", "/mnt/x", readonly=True, options="nosuid,nodev")) == [
        ["--bind", "--", "/data", "/mnt/x"],
        ["-o", "remount,bind,ro,nosuid,nodev", "--", "/mnt/x"],
    ]


def test_kernel_nfs_arguments_pass_the_options_through():
    mount = Mount("10.0.0.2:/mystore", "/mnt/store", readonly=True, options={"vers": "4.1", "hard": True})
    assert kernel_nfs_arguments(mount) == [
        "-t", "nfs", "-o", "vers=4.1,hard,ro", "--", "10.0.0.2:/mystore", "/mnt/store",
    ]  # fmt: skip
    assert kernel_nfs_arguments(Mount("[fd00::2]:/d", "/mnt/d")) == [
        "-t",
        "nfs",
        "--",
        "[fd00::2]:/d",
        "/mnt/d",
    ]


def test_userspace_settings_follow_the_nfs_options():
    mount = Mount(
        "10.0.0.2:/mystore",
        "/mnt/store",
        readonly=True,
        options="vers=4,port=20490,timeo=150,noresvport,nosuid,rsize=1048576",
    )
    assert userspace_config(mount, connect_timeout=3.0) == {
        "source": "10.0.0.2:/mystore",
        "server": "10.0.0.2",
        "export": "/mystore",
        "mountpoint": "/mnt/store",
        "readonly": True,
        "versions": ["4.1", "4.0"],
        "port": 20490,
        "mountport": None,
        "noresvport": True,
        "connect_timeout": 3.0,
        "operation_timeout": 15.0,
        "flags": ["nosuid"],
    }
    assert userspace_config(Mount("h:/x", "/mnt/x"), connect_timeout=1)["versions"] == ["4.1", "4.0"]
    assert userspace_config(Mount("h:/x", "/mnt/x", options="vers=3"), connect_timeout=1)["versions"] == ["3"]
    for options, message in [
        ("vers=4.2", "the userspace driver speaks NFS 3, 4.0 and 4.1, not 4.2"),
        ("sec=krb5", "the userspace driver supports sec=sys only"),
        ("proto=rdma", "the userspace driver speaks NFS over TCP only"),
    ]:
        with pytest.raises(MountFailed, match=message):
            userspace_config(Mount("h:/x", "/mnt/x", options=options), connect_timeout=1)


def test_driver_choice():
    assert isinstance(select_driver(Mount("/data", "/mnt/x"))[0], BindDriver)
    driver, why = select_driver(Mount("h:/x", "/mnt/x", driver="userspace"))
    assert (
        isinstance(driver, UserspaceNfsDriver)
        and why == "userspace NFS client (nfs-rs over FUSE) (asked for)"
    )
    problem = kernel_nfs_unavailable()
    if problem is None:
        assert isinstance(select_driver(Mount("h:/x", "/mnt/x"))[0], KernelNfsDriver)
        assert isinstance(select_driver(Mount("h:/x", "/mnt/x", driver="kernel"))[0], KernelNfsDriver)
    else:
        driver, why = select_driver(Mount("h:/x", "/mnt/x"))
        assert isinstance(driver, UserspaceNfsDriver)
        assert why == f"userspace NFS client (nfs-rs over FUSE) because {problem}"
        with pytest.raises(MountFailed, match=re.escape(f"asks for the kernel driver, but {problem}")):
            select_driver(Mount("h:/x", "/mnt/x", driver="kernel"))


def test_an_option_we_do_not_know_goes_to_the_kernel_as_written_and_the_userspace_driver_refuses_it():
    from airflow_datastores.mounts.drivers.kernel_nfs import kernel_nfs_arguments

    with pytest.raises(MountError, match="'hot' is not a known nfs mount option"):
        Mount("h:/x", "/mnt/x", options={"hot": True})  # a Python DAG author is told at once
    lenient = Mount("h:/x", "/mnt/x", options={"vers": "4.1", "hot": True, "cache": "fs"}, strict_options=False)
    assert kernel_nfs_arguments(lenient) == ["-t", "nfs", "-o", "vers=4.1,hot,cache=fs", "--", "h:/x", "/mnt/x"]
    with pytest.raises(MountFailed, match="the userspace driver does not know the option\\(s\\) 'hot', 'cache'"):
        userspace_config(lenient, connect_timeout=1)
