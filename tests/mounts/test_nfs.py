"""NFS mounts against a real nfs-ganesha on 127.0.0.1: user space, and the kernel where it has NFS."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from airflow_datastores.errors import ShareUnreachable
from airflow_datastores.mounts import (
    Mount,
    MountFailed,
    check_mounts_reachable,
    run_command_with_mounts,
    run_with_mounts,
)
from airflow_datastores.mounts.drivers import kernel_nfs_unavailable

from .conftest import mounted_anywhere, processes_mentioning


def derive(share: str, outputs: str) -> dict:
    """A preprocessing step: read raw data from the share, write what it derives to the outputs."""
    with open(os.path.join(share, "raw", "numbers.csv")) as handle:
        numbers = [int(line) for line in handle if line.strip()]
    os.makedirs(outputs, exist_ok=True)
    with open(os.path.join(outputs, "total.txt"), "w") as handle:
        handle.write(f"{sum(numbers)}\n")
    return {"count": len(numbers), "listing": sorted(os.listdir(share))}


def test_userspace_driver_reads_the_share_and_the_task_writes_derived_outputs(
    nfs_share, mount_point, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    (nfs_share.dir / "raw").mkdir()
    (nfs_share.dir / "raw" / "numbers.csv").write_text("".join(f"{n}\n" for n in range(1000)))
    (nfs_share.dir / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    outputs = tmp_path / "outputs"

    mount = nfs_share.mount(mount_point, readonly=True, driver="userspace")
    result = run_with_mounts([mount], derive, str(mount_point), str(outputs))

    assert result == {"count": 1000, "listing": ["big.bin", "raw"]}
    assert (outputs / "total.txt").read_text() == f"{sum(range(1000))}\n"
    assert f"Mount {mount.describe()}: userspace NFS client (nfs-rs over FUSE) (asked for)" in caplog.text
    assert (
        f"Connected to NFS server 127.0.0.1 port {nfs_share.server.port} with NFS 4.1 for {nfs_share.source}"
        in caplog.text
    )
    assert "Mounted data is not versioned" in caplog.text
    assert mounted_anywhere(mount_point) == []
    assert processes_mentioning(str(mount_point)) == []


def test_auto_says_which_driver_it_used(nfs_share, mount_point, caplog):
    caplog.set_level(logging.INFO)
    mount = nfs_share.mount(mount_point, readonly=True)
    run_with_mounts([mount], os.listdir, str(mount_point))
    problem = kernel_nfs_unavailable()
    if problem:
        expected = f"Mount {mount.describe()}: userspace NFS client (nfs-rs over FUSE) because {problem}"
    else:
        expected = f"Mount {mount.describe()}: kernel NFS client (mount.nfs)"
    assert expected in caplog.text


def test_a_command_reads_and_writes_the_share_and_large_files_arrive_intact(nfs_share, mount_point, caplog):
    caplog.set_level(logging.INFO)
    payload = os.urandom(5 * 1024 * 1024 + 123)
    (nfs_share.dir / "in.bin").write_bytes(payload)
    script = (
        'cd "$1" && cp in.bin copy.bin && mkdir -p d && mv copy.bin d/moved.bin'
        " && sha256sum in.bin d/moved.bin && ls"
    )
    code = run_command_with_mounts(
        [nfs_share.mount(mount_point, driver="userspace")],
        ["sh", "-c", script, "sh", str(mount_point)],
        env=None,
        cwd="/",
        log=logging.getLogger("task.command"),
    )
    assert code == 0
    assert (nfs_share.dir / "d" / "moved.bin").read_bytes() == payload
    lines = [r.getMessage() for r in caplog.records if r.name == "task.command"]
    digests = {line.split()[0] for line in lines[:2]}
    assert len(digests) == 1 and lines[2:] == ["d", "in.bin"]


def test_readonly_nfs_refuses_writes(nfs_share, mount_point):
    (nfs_share.dir / "keep.txt").write_text("original")

    def try_to_change(path: str) -> list[int]:
        codes = []
        for action in (
            lambda: open(os.path.join(path, "keep.txt"), "w").close(),  # noqa: SIM115
            lambda: open(os.path.join(path, "new.txt"), "w").close(),  # noqa: SIM115
            lambda: os.mkdir(os.path.join(path, "dir")),
            lambda: os.unlink(os.path.join(path, "keep.txt")),
        ):
            try:
                action()
                codes.append(0)
            except OSError as err:
                codes.append(err.errno)
        return codes

    codes = run_with_mounts(
        [nfs_share.mount(mount_point, readonly=True, driver="userspace")], try_to_change, str(mount_point)
    )
    assert codes == [errno.EROFS] * 4
    assert sorted(os.listdir(nfs_share.dir)) == ["keep.txt"]
    assert (nfs_share.dir / "keep.txt").read_text() == "original"


def test_the_servers_root_can_be_mounted(nfs_server, nfs_share, mount_point):
    mount = Mount(
        f"{nfs_server.host}:/",
        str(mount_point),
        readonly=True,
        options={"port": nfs_server.port},
        driver="userspace",
    )
    listing = run_with_mounts(
        [mount], lambda path: (os.listdir(path), os.listdir(os.path.join(path, "export"))), str(mount_point)
    )
    assert listing[0] == ["export"]
    assert nfs_share.name in listing[1]


def test_mount_and_unmount_happen_even_when_the_step_fails(nfs_share, mount_point, caplog):
    caplog.set_level(logging.INFO)
    (nfs_share.dir / "data.txt").write_text("half")

    def fail(path: str) -> None:
        with open(os.path.join(path, "data.txt")) as handle:
            raise ValueError(f"bad data: {handle.read()}")

    with pytest.raises(ValueError, match="bad data: half"):
        run_with_mounts([nfs_share.mount(mount_point, driver="userspace")], fail, str(mount_point))
    assert f"Mounted {nfs_share.source} -> {mount_point}" in caplog.text
    assert f"Unmounted {mount_point}" in caplog.text
    assert mounted_anywhere(mount_point) == []
    assert processes_mentioning(str(mount_point)) == []

    code = run_command_with_mounts(
        [nfs_share.mount(mount_point, driver="userspace")],
        ["cat", f"{mount_point}/missing.txt"],
        env=None,
        cwd=None,
        log=logging.getLogger("task.command"),
    )
    assert code == 1
    assert mounted_anywhere(mount_point) == []
    assert processes_mentioning(str(mount_point)) == []


def test_a_missing_export_fails_with_the_servers_name(nfs_server, mount_point):
    mount = Mount(
        f"{nfs_server.source}/no-such-share",
        str(mount_point),
        options={"port": nfs_server.port},
        driver="userspace",
    )
    with pytest.raises(MountFailed) as caught:
        run_with_mounts([mount], os.listdir, str(mount_point))
    assert str(caught.value) == (
        f"NFS mount {mount.describe()} through the userspace driver failed: NFS server 127.0.0.1 port "
        f"{nfs_server.port}: the server has no export /export/no-such-share (mounting {mount.source})"
    )
    assert processes_mentioning(str(mount_point)) == []


@pytest.mark.timeout(30)
def test_a_share_that_does_not_answer_fails_fast_naming_server_and_port(mount_point):
    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ran = []
    with pytest.raises(
        ShareUnreachable,
        match=rf"^NFS server 127.0.0.1 port {port} \(for 127.0.0.1:/data\) is not reachable: "
        "Connection refused$",
    ):
        run_with_mounts([Mount("127.0.0.1:/data", str(mount_point), options={"port": port})], ran.append, 1)
    assert ran == []

    with socket.socket() as silent:  # accepts connections, never answers: the check's deadline ends it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        mount = Mount("127.0.0.1:/data", str(mount_point), options={"port": port})
        with pytest.raises(
            ShareUnreachable,
            match=rf"^NFS server 127.0.0.1 port {port} \(for 127.0.0.1:/data\) did not answer within 1 s",
        ):
            check_mounts_reachable([mount], timeout=1.0)


def test_a_server_that_speaks_another_nfs_version_is_named(nfs_server, mount_point):
    mount = Mount(nfs_server.source, str(mount_point), options={"port": nfs_server.port, "vers": "3"})
    with pytest.raises(
        ShareUnreachable,
        match=rf"port {nfs_server.port} \(for 127.0.0.1:/export\) does not speak NFS version 3; "
        "it offers versions 4 to 4",
    ):
        check_mounts_reachable([mount])


def test_a_task_timeout_in_the_parent_stops_the_body_and_unmounts(nfs_share, mount_point, caplog):
    caplog.set_level(logging.INFO)

    def on_alarm(signum, frame):
        raise TimeoutError("execution_timeout")  # what Airflow's task timeout does, by SIGALRM

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(TimeoutError, match="execution_timeout"):
            run_with_mounts([nfs_share.mount(mount_point, driver="userspace")], time.sleep, 60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert mounted_anywhere(mount_point) == []
    assert processes_mentioning(str(mount_point)) == []


KILLED_TASK = textwrap.dedent(
    """
    import json, os, sys, time
    from airflow_datastores.mounts import Mount, run_with_mounts
    spec, ready = json.loads(sys.argv[1]), sys.argv[2]

    def hold(path):
        open(ready, "w").write(str(sorted(os.listdir(path))))
        time.sleep(600)

    run_with_mounts([Mount(**spec)], hold, spec["destination"])
    """
)


def test_killing_the_task_process_takes_the_mounts_and_helpers_with_it(nfs_share, mount_point, tmp_path):
    (nfs_share.dir / "x.txt").write_text("x")
    spec = {
        "source": nfs_share.source,
        "destination": str(mount_point),
        "options": {"port": nfs_share.server.port},
        "driver": "userspace",
    }
    ready = tmp_path / "ready"
    task = subprocess.Popen([sys.executable, "-c", KILLED_TASK, json.dumps(spec), str(ready)])
    try:
        deadline = time.monotonic() + 60
        # Wait for the content, not the file: the child creates the file before it writes to it.
        while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline and task.poll() is None:
            time.sleep(0.05)
        assert ready.read_text() == "['x.txt']"
        helpers = psutil.Process(task.pid).children(recursive=True)
        names = sorted(" ".join(p.cmdline()[1:3]) for p in helpers)
        assert (
            len(helpers) == 2 and "-m airflow_datastores.mounts.nfs_fuse" in names
        )  # the mounted child + FUSE daemon
        assert mounted_anywhere(mount_point) == [p.pid for p in sorted(helpers, key=lambda p: p.pid)]
        task.send_signal(signal.SIGKILL)
        task.wait()
        gone, alive = psutil.wait_procs(helpers, timeout=15)
        assert alive == []
    finally:
        if task.poll() is None:
            task.kill()
            task.wait()
    assert mounted_anywhere(mount_point) == []


@pytest.mark.skipif(bool(kernel_nfs_unavailable()), reason=f"kernel NFS driver: {kernel_nfs_unavailable()}")
def test_kernel_driver(nfs_share, mount_point, tmp_path):
    (nfs_share.dir / "raw").mkdir()
    (nfs_share.dir / "raw" / "numbers.csv").write_text("1\n2\n3\n")
    mount = nfs_share.mount(mount_point, readonly=True, driver="kernel", options={"vers": "4.1"})
    result = run_with_mounts([mount], derive, str(mount_point), str(tmp_path / "outputs"))
    assert result == {"count": 3, "listing": ["raw"]}
    assert (tmp_path / "outputs" / "total.txt").read_text() == "6\n"
    assert mounted_anywhere(mount_point) == []
