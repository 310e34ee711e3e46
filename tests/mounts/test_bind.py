"""Bind mounts for real, as root: seen by the task only, read-only enforced, gone afterwards."""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_datastores.errors import MountedProcessDied, MountNotPermitted, ShareUnreachable
from airflow_datastores.mounts import Mount, run_command_with_mounts, run_with_mounts
from airflow_datastores.mounts.namespace import is_mount_point

from .conftest import mounted_anywhere, processes_mentioning


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "onprem"
    (root / "images").mkdir(parents=True)
    (root / "images" / "cat.txt").write_text("meow\n")
    return root


def look_around(destination: str) -> dict:
    """Runs in the mounted process: what it sees, and what the worker (its parent) sees."""
    with open(f"/proc/{os.getppid()}/mountinfo", encoding="utf-8") as info:
        parent_sees = any(f" {destination} " in line for line in info)
    return {
        "files": sorted(os.listdir(destination)),
        "cat": open(os.path.join(destination, "images", "cat.txt")).read(),
        "mounted_here": is_mount_point(destination),
        "parent_sees_it": parent_sees,
    }


def test_a_callable_sees_the_bind_mount_and_nobody_else_does(source, mount_point, caplog):
    caplog.set_level(logging.INFO)
    seen = run_with_mounts([Mount(str(source), str(mount_point))], look_around, str(mount_point))
    assert seen == {"files": ["images"], "cat": "meow\n", "mounted_here": True, "parent_sees_it": False}
    # Afterwards: not mounted in any namespace of this machine; the mount point made for it is gone.
    assert mounted_anywhere(mount_point) == []
    assert not os.path.exists(mount_point)
    # The child's log records reached this process's loggers, with the warning that nothing is versioned.
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert (
        "airflow_datastores.mounts.runner",
        "INFO",
        f"Mounted {source} -> {mount_point} (bind, read-write)",
    ) in messages
    assert ("airflow_datastores.mounts.runner", "INFO", f"Unmounted {mount_point}") in messages
    warning = next(m for _, level, m in messages if level == "WARNING")
    assert warning.startswith(f"Mounted data is not versioned: {source} -> {mount_point} (bind, read-write).")
    assert "Write what the task derives from it to the outputs directory" in warning


def test_a_command_sees_the_bind_mount_and_its_output_streams_to_the_log(source, mount_point, caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("task.command")
    argv = [
        "sh",
        "-c",
        'cat "$1/images/cat.txt"; grep -c " $1 " /proc/self/mountinfo; echo oops >&2; exit 3',
        "sh",
        str(mount_point),
    ]
    code = run_command_with_mounts(
        [f"{source}:{mount_point}"], argv, env={"PATH": os.environ["PATH"]}, cwd="/", log=log
    )
    assert code == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "task.command"]
    assert lines == ["meow", "1", "oops"]
    assert mounted_anywhere(mount_point) == []


def test_paths_reach_mount_as_arguments_never_through_a_shell(tmp_path):
    odd = tmp_path / "a b;$(touch pwned)"
    odd.mkdir()
    (odd / "f.txt").write_text("ok")
    destination = tmp_path / "dst;`touch pwned2`"
    seen = run_with_mounts([Mount(str(odd), str(destination))], os.listdir, str(destination))
    assert seen == ["f.txt"]
    # Nothing else appeared (the mount point made for the task went with it).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a b;$(touch pwned)"]
    assert not os.path.exists("pwned") and not os.path.exists("pwned2")


def test_readonly_is_enforced_for_callables_and_commands(source, mount_point):
    def try_to_write(path: str) -> int:
        try:
            open(os.path.join(path, "new.txt"), "w").close()
        except OSError as err:
            return err.errno
        return 0

    mounts = [Mount(str(source), str(mount_point), readonly=True)]
    assert run_with_mounts(mounts, try_to_write, str(mount_point)) == errno.EROFS
    code = run_command_with_mounts(
        mounts, ["touch", f"{mount_point}/new.txt"], env=None, cwd=None, log=logging.getLogger("t")
    )
    assert code == 1
    assert sorted(os.listdir(source)) == ["images"]


def test_writes_through_a_read_write_bind_land_in_the_source(source, mount_point):
    def write(path: str) -> None:
        with open(os.path.join(path, "derived.txt"), "w") as handle:
            handle.write("42\n")

    run_with_mounts([Mount(str(source), str(mount_point))], write, str(mount_point))
    assert (source / "derived.txt").read_text() == "42\n"


def test_mounts_are_undone_when_the_callable_fails(source, mount_point, caplog):
    caplog.set_level(logging.INFO)

    def fail(path: str) -> None:
        raise KeyError(f"no label in {sorted(os.listdir(path))}")

    with pytest.raises(KeyError) as caught:
        run_with_mounts([Mount(str(source), str(mount_point))], fail, str(mount_point))
    assert caught.value.args == ("no label in ['images']",)
    assert any("Raised in the task's mounted process" in note for note in caught.value.__notes__)
    assert f"Unmounted {mount_point}" in caplog.text
    assert mounted_anywhere(mount_point) == []
    assert not os.path.exists(mount_point)


def test_mounts_end_with_the_process_when_it_is_killed(source, mount_point):
    def die(path: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(
        MountedProcessDied, match=r"was killed by SIGKILL before it finished; its mounts ended with it"
    ):
        run_with_mounts([Mount(str(source), str(mount_point))], die, str(mount_point))
    assert mounted_anywhere(mount_point) == []
    assert not os.path.exists(mount_point)


def test_two_tasks_mount_different_sources_at_the_same_destination_at_once(tmp_path, mount_point):
    sources = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(name)
        sources.append(tmp_path / name)

    def task(source):
        return run_with_mounts(
            [Mount(str(source), str(mount_point))], list_when_both_are_mounted, str(mount_point), str(source)
        )

    def list_when_both_are_mounted(path: str, source: str) -> list[str]:
        # Both tasks are mounted when the other one's marker file exists.
        open(f"{source}.ready", "w").close()
        other = [s for s in map(str, sources) if s != source][0]
        while not os.path.exists(f"{other}.ready"):
            time.sleep(0.01)
        return os.listdir(path)

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(task, source) for source in sources]
        seen = [future.result(timeout=60) for future in futures]
    assert seen == [["first.txt"], ["second.txt"]]
    assert mounted_anywhere(mount_point) == []


def test_an_existing_destination_is_kept_and_what_it_held_reappears(source, tmp_path):
    destination = tmp_path / "existing"
    destination.mkdir()
    (destination / "local.txt").write_text("underneath")
    seen = run_with_mounts([Mount(str(source), str(destination))], os.listdir, str(destination))
    assert seen == ["images"]
    assert os.listdir(destination) == ["local.txt"]


def test_results_and_exceptions_cross_the_process_boundary(source, mount_point):
    mounts = [Mount(str(source), str(mount_point))]
    assert run_with_mounts(mounts, lambda *a, **k: (a, k), 1, two=2) == ((1,), {"two": 2})
    with pytest.raises(TypeError, match="the result of the mounted callable cannot be sent back to the task"):
        run_with_mounts(mounts, lambda: lambda: None)


def test_a_missing_bind_source_or_a_file_as_destination_fails_before_anything_runs(tmp_path, mount_point):
    ran = []
    with pytest.raises(
        ShareUnreachable, match=rf"Bind mount source {tmp_path}/nope does not exist on this worker"
    ):
        run_with_mounts([f"{tmp_path}/nope:{mount_point}"], ran.append, 1)
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(ShareUnreachable, match=rf"Mount destination {file} exists and is not a directory"):
        run_with_mounts([f"{tmp_path}:{file}"], ran.append, 1)
    assert ran == []


def test_without_the_privilege_to_mount_the_error_says_what_is_missing_and_points_to_kubernetes(
    source, mount_point
):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a process that is not root and has no CAP_SYS_ADMIN
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            try:
                run_with_mounts([Mount(str(source), str(mount_point))], print, "must not run")
                message = "no error"
            except MountNotPermitted as err:
                message = str(err)
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    assert message.startswith("Mounting needs root or the CAP_SYS_ADMIN capability in the task's process")
    assert "(uid 65534, no CAP_SYS_ADMIN)" in message
    assert "on Kubernetes the same mounts become pod volumes" in message
    assert "to_executor_config" in message and "to_docker_mounts" in message


def test_a_sigterm_to_the_mounted_process_unwinds_the_body_and_unmounts(source, mount_point, caplog):
    caplog.set_level(logging.INFO)

    def stopped(path: str) -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        finally:
            logging.getLogger("task").info("cleanup of the body ran")

    with pytest.raises(MountedProcessDied, match="The task's mounted process was stopped by SIGTERM"):
        run_with_mounts([Mount(str(source), str(mount_point))], stopped, str(mount_point))
    assert "cleanup of the body ran" in caplog.text
    assert f"Unmounted {mount_point}" in caplog.text
    assert mounted_anywhere(mount_point) == []


def test_without_mounts_a_callable_runs_in_process_and_a_command_still_streams(caplog):
    caplog.set_level(logging.INFO)
    assert run_with_mounts([], os.getpid) == os.getpid()
    code = run_command_with_mounts([], ["echo", "plain"], log=logging.getLogger("task.command"))
    assert code == 0
    assert [r.getMessage() for r in caplog.records if r.name == "task.command"] == ["plain"]
    assert "not versioned" not in caplog.text


def test_processes_a_command_leaves_running_are_killed_so_the_mounts_can_end(source, mount_point, caplog):
    caplog.set_level(logging.INFO)
    marker = "987.654"  # a daemonised sleep that would keep the namespace, and its mount, alive
    argv = [
        "sh",
        "-c",
        f'cd "$1" && setsid sh -c "exec sleep {marker}" </dev/null >/dev/null 2>&1 & echo started',
        "sh",
        str(mount_point),
    ]
    code = run_command_with_mounts([Mount(str(source), str(mount_point))], argv, log=logging.getLogger("t"))
    assert code == 0
    assert "Killed 1 process(es) the task left running on its mounts" in caplog.text
    assert processes_mentioning(f"sleep {marker}") == []
    assert mounted_anywhere(mount_point) == []
