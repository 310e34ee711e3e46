"""The command line on every backend: ``--json`` prints exactly one JSON document on stdout (logs go
to stderr), ``ls`` of a directory never lists a sibling that merely starts the same, and a password
written into a URL never comes back in an error."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from airflow_datastores.cli import main
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, snapshot

CLI = os.path.join(os.path.dirname(sys.executable), "airflow-datastores")
ROOTS = {"local_root": None, "s3_root": "test_s3", "azure_root": "test_azure", "gcs_root": "test_gcs",
         "swift_root": "test_swift"}


def _fill(root: str, conn_id: str | None, tmp_path) -> None:
    store = open_store(root, conn_id=conn_id)
    for key in ("data/a.csv", "data/sub/b.csv", "data-cache/c.csv", "database.db"):
        store.write(key, io.BytesIO(key.encode()))
    for run, content in (("r1", b"one"), ("r2", b"two")):
        out = tmp_path / run
        out.mkdir()
        (out / "model.bin").write_bytes(content)
        snapshot(str(out), store=store, producer=Producer(dag_id="etl", task_id="fit", run_id=run))


def _commands(root: str, conn: list[str]) -> list[tuple[list[str], int]]:
    """Every command, as ``(argv, the exit status it must give)``; purge --yes after those that read what it may delete."""
    store = ["--store", root, *conn]
    ok = [["ls", f"{root}/data", *conn], ["versions", *store], ["show", "etl", "fit", "latest", *store],
          ["verify", "etl", "fit", "r1", *store], ["diff", "etl", "fit", "r1", "r2", *store],
          ["purge", "--keep-last", "1", *store], ["stores"],
          ["alias", "set", "etl", "fit", "prod", "r1", *store], ["alias", "set", "etl", "fit", "prod", *store],
          ["alias", "set", "etl", "fit", "best", "r2", "--global", *store], ["alias", "ls", *store],
          ["alias", "history", "etl", "fit", "prod", *store], ["alias", "history", "best", "--global", *store],
          ["dataset", "create", "models/v1", "--from", "etl/fit/r1", *store],
          ["dataset", "create", "models/v2", "--from", "etl/fit/r2/*.bin", "--base", "models/v1", *store],
          ["dataset", "ls", *store], ["dataset", "show", "models/latest", *store],
          ["dataset", "verify", "models/v1", *store], ["dataset", "diff", "models/v1", "models/v2", *store],
          ["purge", "--keep-last", "1", "--orphans-older-than", "never", "--yes", *store]]
    failing = [["show", "etl", "fit", "no-such-version", *store], ["dataset", "show", "models/v9", *store]]
    return [(argv, 0) for argv in ok] + [(argv, 1) for argv in failing]


def _check_document(argv: list[str], code: int, expected: int, out: str, err: str) -> object:
    """stdout is one JSON document: the command's result on success, ``{"error": ...}`` on failure."""
    assert code == expected, (argv, code, out[-2000:], err[-2000:])
    document = json.loads(out)  # the whole of stdout, nothing before or after
    is_error = isinstance(document, dict) and set(document) == {"error"}
    assert is_error == (expected != 0), (argv, document)
    return document


@pytest.mark.parametrize("root_fixture", list(ROOTS))
def test_ls_of_a_directory_lists_it_and_not_its_siblings(request, root_fixture, tmp_path, capsys):
    root, conn_id = request.getfixturevalue(root_fixture), ROOTS[root_fixture]
    _fill(root, conn_id, tmp_path)
    capsys.readouterr()
    conn = ["--conn-id", conn_id] if conn_id else []
    for url in (f"{root}/data", f"{root}/data/"):
        assert main(["ls", url, "--json", *conn]) == 0
        listed = [item["url"] for item in json.loads(capsys.readouterr().out)]
        assert listed == [f"{root}/data/a.csv", f"{root}/data/sub/b.csv"], url
    assert main(["ls", f"{root}/database.db", "--json", *conn]) == 0  # one object
    assert [i["url"] for i in json.loads(capsys.readouterr().out)] == [f"{root}/database.db"]
    assert main(["ls", f"{root}/data*", "--json", *conn]) == 0  # a wildcard is a pattern
    assert [i["url"] for i in json.loads(capsys.readouterr().out)] == [f"{root}/database.db"]


@pytest.mark.parametrize("root_fixture", list(ROOTS))
def test_json_is_one_document_on_stdout_for_every_command(request, root_fixture, tmp_path, capfd):
    root, conn_id = request.getfixturevalue(root_fixture), ROOTS[root_fixture]
    _fill(root, conn_id, tmp_path)
    capfd.readouterr()
    documents = {}
    for argv, expected in _commands(root, ["--conn-id", conn_id] if conn_id else []):
        code = main([*argv, "--json"])
        captured = capfd.readouterr()
        documents[" ".join(argv[:2])] = _check_document(argv, code, expected, captured.out, captured.err)
    _check_results(documents)


def _check_results(documents: dict[str, object]) -> None:
    """The documents say what the commands did (not merely that they are JSON)."""
    assert documents["alias history"][-1]["alias"] == "best"
    assert {e["alias"] for e in documents["alias ls"]} == {"prod", "best"}
    assert documents["dataset create"] == {"name": "models", "version": "v2", "files": 1}
    assert [(d["name"], d["version"]) for d in documents["dataset ls"]] == [("models", "v1"), ("models", "v2")]
    assert documents["dataset verify"]["ok"] is True and documents["dataset verify"]["checked"] == 1
    assert documents["dataset diff"]["changed"] == ["model.bin"]
    assert documents["purge --keep-last"]["dry_run"] is False


def test_json_is_one_document_on_stdout_in_a_real_process_on_s3(s3_root, tmp_path):
    # In a process of its own, the log lines Airflow and the SDKs write to file descriptor 1 must go to
    # stderr too. One command of each kind (every command runs in-process above; a process costs 3 s).
    _fill(s3_root, "test_s3", tmp_path)
    store = ["--store", s3_root, "--conn-id", "test_s3"]
    for argv, expected in ((["versions", *store, "--json"], 0), (["show", "etl", "fit", "latest", *store, "-o", "json"], 0),
                           (["alias", "set", "etl", "fit", "prod", *store, "--json"], 0),
                           (["dataset", "create", "models/v1", "--from", "etl/fit/r1", *store, "--json"], 0),
                           (["show", "etl", "fit", "no-such-version", *store, "--json"], 1)):
        result = subprocess.run([CLI, *argv], capture_output=True, text=True, env=os.environ, timeout=300)
        _check_document(argv, result.returncode, expected, result.stdout, result.stderr)
        assert "AWS Connection" not in result.stdout and "AWS Connection" in result.stderr


def _logged(caplog) -> str:
    """Every log record pytest's handler took (they may never reach stderr), messages and tracebacks."""
    formatter = logging.Formatter()
    return "\n".join(formatter.format(r) for r in caplog.records)


def test_a_password_in_a_url_never_comes_back(http_server, capfd, caplog, tmp_path):
    secret = "pw-0f9e8d7c"
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    for url in (f"http://reader:{secret}@127.0.0.1:{http_server.port}/private/missing.txt",
                f"s3://AKIAEXAMPLE:{secret}@bucket/key", f"ftp://u:{secret}@host/x"):
        for json_flag in ([], ["--json"]):
            assert main(["ls", url, *json_flag]) == 1
            captured = capfd.readouterr()
            assert secret not in captured.out + captured.err + _logged(caplog)
            assert "error" in (captured.err + captured.out)
    # Staged with the password in its URL: records and log lines carry the URL without it.
    (http_server.root_dir / "private").mkdir(exist_ok=True)
    (http_server.root_dir / "private" / "p.txt").write_bytes(b"private data")
    from airflow_datastores.errors import NotFound
    from airflow_datastores.inputs.stage import stage_inputs
    from tests.servers.http import BASIC_PASSWORD, BASIC_USER

    base = f"http://{BASIC_USER}:{BASIC_PASSWORD}@127.0.0.1:{http_server.port}/private"
    caplog.clear()
    record = stage_inputs({"p": f"{base}/p.txt"}, inputs_dir=str(tmp_path / "in")).records[0]
    assert BASIC_PASSWORD not in json.dumps(record.to_dict())
    assert open(record.path, "rb").read() == b"private data"
    staged = capfd.readouterr()
    seen = staged.out + staged.err + _logged(caplog)
    assert "p.txt: downloaded" in seen and BASIC_PASSWORD not in seen  # the log lines were captured
    # A missing file: the error shows the URL with its password as ***.
    with pytest.raises(NotFound) as err:
        stage_inputs({"m": f"{base}/missing.txt"}, inputs_dir=str(tmp_path / "in2"))
    assert f"http://{BASIC_USER}:***@127.0.0.1:{http_server.port}/private/missing.txt does not exist" in str(err.value)
    assert BASIC_PASSWORD not in str(err.value)
    captured = capfd.readouterr()
    assert BASIC_PASSWORD not in captured.out + captured.err + _logged(caplog)


def test_http_ls_of_one_file_and_a_401_that_names_the_connection(http_server, capsys, monkeypatch):
    (http_server.root_dir / "one.txt").write_bytes(b"1")
    capsys.readouterr()
    assert main(["ls", f"{http_server.endpoint}/one.txt", "--json"]) == 0
    assert [i["url"] for i in json.loads(capsys.readouterr().out)] == [f"{http_server.endpoint}/one.txt"]
    monkeypatch.setenv("AIRFLOW_CONN_WRONG_HTTP", json.dumps({"conn_type": "http", "login": "reader",
                                                              "password": "not-it-123"}))
    (http_server.root_dir / "private").mkdir(exist_ok=True)
    (http_server.root_dir / "private" / "q.txt").write_bytes(b"q")
    assert main(["ls", f"{http_server.endpoint}/private/q.txt", "--conn-id", "wrong_http"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "'wrong_http'" in err and "not-it-123" not in err
