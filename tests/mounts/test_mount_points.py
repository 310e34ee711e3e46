"""Mount points made for a task are removed after it: only what was created, only when empty, and only
once no other task uses them (an rmdir on the worker would unmount another task's mount there)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from airflow_datastores.mounts import Mount, run_with_mounts
from airflow_datastores.mounts.mount_points import mount_points_in_use

from .conftest import mounted_anywhere


def test_a_bind_mount_leaves_no_directory_it_created(tmp_path):
    source = tmp_path / "onprem"
    source.mkdir()
    (source / "a.txt").write_text("a")
    destination = tmp_path / "new" / "deeper" / "data"
    seen = run_with_mounts([Mount(str(source), str(destination))], os.listdir, str(destination))
    assert seen == ["a.txt"]
    assert not os.path.exists(tmp_path / "new") and os.path.isdir(tmp_path)
    assert mounted_anywhere(destination) == []


def test_an_existing_empty_destination_stays(tmp_path):
    source = tmp_path / "onprem"
    source.mkdir()
    destination = tmp_path / "data"
    destination.mkdir()
    run_with_mounts([Mount(str(source), str(destination))], os.listdir, str(destination))
    assert os.path.isdir(destination) and os.listdir(destination) == []


def test_a_mount_point_another_task_still_uses_stays_until_it_ends(tmp_path):
    source = tmp_path / "onprem"
    source.mkdir()
    (source / "a.txt").write_text("a")
    destination = tmp_path / "mnt" / "data"
    mounted, release = tmp_path / "mounted", tmp_path / "release"

    def long_task(path: str) -> list[str]:
        mounted.touch()
        deadline = time.monotonic() + 300
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return os.listdir(path)

    result: list = []
    other = threading.Thread(target=lambda: result.append(
        run_with_mounts([Mount(str(source), str(destination))], long_task, str(destination))))
    other.start()
    try:
        deadline = time.monotonic() + 300
        while not mounted.exists():
            assert other.is_alive() and time.monotonic() < deadline, "the long task did not mount"
            time.sleep(0.02)
        # A short task with the same mount point ends while the long one is mounted there.
        assert run_with_mounts([Mount(str(source), str(destination))], os.listdir, str(destination)) == ["a.txt"]
        assert os.path.isdir(destination) and mounted_anywhere(destination) != []
    finally:
        release.touch()
        other.join(timeout=300)
    assert result == [["a.txt"]]
    assert not os.path.exists(tmp_path / "mnt") and mounted_anywhere(destination) == []


def test_only_empty_directories_it_created_go(tmp_path):
    state = str(tmp_path / "state")
    (tmp_path / "have").mkdir()
    with mount_points_in_use([str(tmp_path / "have" / "new" / "a"), str(tmp_path / "have" / "b")],
                             state_dir=state) as created:
        assert created == [str(tmp_path / "have" / "new"), str(tmp_path / "have" / "new" / "a"),
                           str(tmp_path / "have" / "b")]
        (tmp_path / "have" / "b" / "written-meanwhile.txt").write_text("keep me")
    assert sorted(os.listdir(tmp_path / "have")) == ["b"]
    assert os.listdir(tmp_path / "have" / "b") == ["written-meanwhile.txt"]


def test_what_a_killed_task_created_goes_when_the_next_task_ends(tmp_path):
    state = str(tmp_path / "state")
    first = tmp_path / "first" / "mnt"
    script = (
        "import os, signal, sys\n"
        "from airflow_datastores.mounts.mount_points import mount_points_in_use\n"
        f"with mount_points_in_use([{str(first)!r}], state_dir={state!r}):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == -9
    assert os.path.isdir(first)  # killed before it could tidy up
    with mount_points_in_use([str(tmp_path / "second" / "mnt")], state_dir=state):
        pass
    assert not os.path.exists(tmp_path / "first") and not os.path.exists(tmp_path / "second")
