"""The airflow-datastores command on the default store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_datastores.cli import main
from airflow_datastores.stores.registry import get_store
from airflow_datastores.versions import Producer, snapshot


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    store = get_store()  # the default: $AIRFLOW_HOME/datastores
    assert store.root == f"file://{tmp_path}/home/datastores"
    for run, files in (("r1", {"a.txt": b"one", "b.txt": b"same"}), ("r2", {"a.txt": b"two!", "c.txt": b"new"})):
        out = tmp_path / run
        out.mkdir()
        for name, data in files.items():
            (out / name).write_bytes(data)
        snapshot(str(out), store=store, producer=Producer(dag_id="etl", task_id="load", run_id=run))
    return store


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_versions_table_and_json(home, capsys):
    code, out = run(capsys, "versions")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["DAG", "TASK", "VERSION", "COMMITTED", "FILES", "SIZE", "TAGS"]
    assert lines[2].split()[:3] == ["etl", "load", "r1"] and lines[2].split()[-3:] == ["7", "B", "-"]
    assert "2 versions in" in out
    code, out = run(capsys, "versions", "etl", "load", "--json")
    data = json.loads(out)
    assert [v["version_id"] for v in data] == ["r1", "r2"] and data[1]["total_size"] == 7


def test_show_verify_diff(home, capsys):
    code, out = run(capsys, "show", "etl", "load", "latest")
    assert code == 0 and "version    r2" in out and "a.txt" in out
    code, out = run(capsys, "diff", "etl", "load", "r1", "r2")
    assert "+ c.txt" in out and "- b.txt" in out and "~ a.txt" in out and "1 added, 1 removed, 1 changed" in out
    code, out = run(capsys, "verify", "etl", "load", "r1")
    assert code == 0 and out.startswith("OK: 2 files checked")
    key = next(i.key for i in home.list("etl/load/r1/") if i.key.endswith("a.txt"))
    with open(os.path.join(home.path, key), "wb") as handle:
        handle.write(b"ONE")
    code, out = run(capsys, "verify", "etl", "load", "r1")
    assert code == 1 and "a.txt: CORRUPT" in out and "FAILED" in out


def test_purge_is_a_dry_run_unless_yes(home, capsys):
    code, out = run(capsys, "purge", "--keep-last", "1")
    assert code == 0 and "Would delete 1 item," in out and "add --yes" in out
    assert run(capsys, "versions", "--json")[1].count('"version_id"') == 2
    code, out = run(capsys, "purge", "--keep-last", "1", "--yes")
    assert "Deleted 1 item, 7 B" in out
    assert [v["version_id"] for v in json.loads(run(capsys, "versions", "--json")[1])] == ["r2"]


def test_counts_of_one_are_singular(home, tmp_path, capsys):
    out_dir = tmp_path / "one"
    out_dir.mkdir()
    (out_dir / "only.txt").write_bytes(b"1")
    snapshot(str(out_dir), store=home, producer=Producer(dag_id="etl", task_id="single", run_id="r1"))
    code, out = run(capsys, "verify", "etl", "single", "r1")
    assert code == 0 and out.startswith("OK: 1 file checked, 0 missing, 0 corrupt")
    code, out = run(capsys, "show", "etl", "single", "r1")
    assert "size       1 B in 1 file\n" in out
    code, out = run(capsys, "versions", "etl", "single")
    assert "\n1 version in " in out


def test_errors_are_one_line_and_exit_nonzero(home, capsys):
    code, out = run(capsys, "show", "etl", "load", "nope")
    assert code == 1 and out.startswith("error: ") and "no committed version 'nope'" in out


def usage_error(capsys, *argv: str) -> str:
    """What argparse says about a command line it refuses (exit code 2, usage on stderr, nothing on stdout)."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.out == ""
    return captured.err


@pytest.mark.parametrize(("argv", "said"), [
    (["purge", "--older-than", "ten days"], "argument --older-than: 'ten days' is not a duration"),
    (["purge", "--task-id", "load"], "--task-id needs --dag-id"),
    (["purge", "--all-tasks"], "--all-tasks widens --version"),
    (["versions", "--where", "accuracy"], "argument --where: 'accuracy': write KEY=VALUE"),
    (["alias"], "the following arguments are required: ACTION"),
    (["alias", "rename", "etl", "load", "prod"], "invalid choice: 'rename'"),
    (["alias", "set", "etl"], "the following arguments are required: TASK, NAME"),
    (["alias", "history", "etl", "load"], "write DAG TASK NAME (an alias of the task), or NAME --global"),
    (["alias", "history", "etl", "load", "prod", "--global"], "or NAME --global"),
    (["dataset", "create", "images/v1"], "the following arguments are required: --from"),
    (["dataset", "create", "images/v1", "--from", "etl/load"], "write DAG/TASK/VERSION[/PATH or wildcard]"),
    (["dataset", "create", "images", "--from", "etl/load/r1"], "write <dataset>/<version>"),
    (["dataset", "show"], "the following arguments are required: NAME/VERSION"),
    (["dataset", "diff", "images/v1"], "the following arguments are required: NAME/NEW"),
    (["versions", "-o", "yaml"], "argument -o/--output: invalid choice: 'yaml'"),
])
def test_the_parser_refuses_what_no_command_can_run(home, capsys, argv, said):
    assert said in usage_error(capsys, *argv)


def test_output_json_and_its_synonym_print_the_same_document(home, capsys):
    documents = []
    for flag in (["-o", "json"], ["--output", "json"], ["--json"]):
        code, out = run(capsys, "versions", "etl", "load", *flag)
        documents.append(json.loads(out))
    assert code == 0 and documents[0] == documents[1] == documents[2]
    assert [v["version_id"] for v in documents[0]] == ["r1", "r2"]
    code, out = run(capsys, "versions", "etl", "load", "-o", "table")
    assert code == 0 and out.splitlines()[0].split() == ["DAG", "TASK", "VERSION", "COMMITTED", "FILES", "SIZE", "TAGS"]


def test_every_command_has_help_that_names_its_arguments(capsys):
    for argv, names in ((["alias", "set"], ["DAG", "TASK", "NAME", "VERSION", "--global", "--path"]),
                        (["alias", "history"], ["DAG TASK NAME | NAME --global"]),
                        (["dataset", "create"], ["NAME/VERSION", "--from", "--base"]),
                        (["purge"], ["--dag-id", "--task-id", "--all-tasks", "default 24h", "-o {table,json}"])):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--help"])
        text = capsys.readouterr().out
        assert exit_.value.code == 0 and all(name in text for name in names), (argv, text)


def test_console_script_is_installed(home):
    exe = os.path.join(os.path.dirname(sys.executable), "airflow-datastores")
    result = subprocess.run([exe, "stores"], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0 and "default" in result.stdout and home.root in result.stdout


def test_show_says_one_file_and_where_the_files_are(home, capsys, tmp_path):
    out = tmp_path / "single"
    out.mkdir()
    (out / "only.txt").write_bytes(b"x" * 78)
    version = snapshot(str(out), store=home, producer=Producer(dag_id="etl", task_id="one", run_id="r1"))
    code, text = run(capsys, "show", "etl", "one", "r1")
    assert code == 0 and "size       78 B in 1 file\n" in text
    files_line = next(line for line in text.splitlines() if line.startswith("files in"))
    directory = files_line.split(None, 2)[2]
    assert directory.endswith(f"/etl/one/r1/{version.data_prefix.split('/')[-2]}/")
    assert os.path.isfile(directory[len("file://"):] + "only.txt")
