"""Datasets (#17): versions listing files of committed versions, made by a snapshot, by sidecars and by
the CLI; read as dataset:// inputs; verified, diffed; purge keeps what they list. On the local store,
S3 and Azure."""

from __future__ import annotations

import json
import os

import pytest

from airflow_datastores.cli import main
from airflow_datastores.errors import AlreadyExists, InvalidSpec, NotFound
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, load_version, snapshot
from airflow_datastores.versions.datasets import list_dataset_versions, load_dataset_version
from airflow_datastores.versions.retention import PurgeRule, purge


@pytest.fixture(params=["local", "s3", "azure"])
def store(request):
    root, conn_id = {"local": ("local_root", None), "s3": ("s3_root", "test_s3"),
                     "azure": ("azure_root", "test_azure")}[request.param]
    return open_store(str(request.getfixturevalue(root)), conn_id=conn_id)


def commit(store, tmp_path, run_id: str, files: dict[str, object], **options):
    out = tmp_path / f"out-{run_id}"
    for rel, content in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(content if isinstance(content, str) else json.dumps(content))
    return snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="label", run_id=run_id), **options)


def stage(store, tmp_path, url: str, name: str = "in"):
    url = f"{url}?store={store.root}"
    return stage_inputs({"images": {"url": url, "conn_id": store.conn_id, "keep_directories": "suffix"}},
                        inputs_dir=str(tmp_path / name))


def contents(result) -> dict[str, str]:
    base = os.path.join(result.inputs_dir, "images")
    return {os.path.relpath(r.path, base): open(r.path).read() for r in result.records}


def test_a_snapshot_makes_a_dataset_version_that_inputs_read_by_name(store, tmp_path):
    first = commit(store, tmp_path, "r1", {"cats/1.jpg": "c1", "dogs/1.jpg": "d1"}, dataset_version="images/v1")
    assert [f.path for f in load_dataset_version(store, "images", "v1").files] == ["cats/1.jpg", "dogs/1.jpg"]
    assert contents(stage(store, tmp_path, "dataset://images/v1")) == {"cats/1.jpg": "c1", "dogs/1.jpg": "d1"}
    only_cats = stage(store, tmp_path, "dataset://images/latest/cats/*.jpg", "cats")
    assert contents(only_cats) == {"1.jpg": "c1"}
    assert only_cats.records[0].source == "dataset://images/cats/1.jpg"
    assert only_cats.records[0].verified == "manifest:sha256"

    # A later version adds files through their sidecars, on top of v1; no bytes are copied.
    commit(store, tmp_path, "r2", {
        "cats/2.jpg": "c2", "cats/2.jpg.metadata.json": {
            "valohai.dataset-versions": [{"uri": "dataset://images/v2", "from": "dataset://images/v1"}]},
        "notes.txt": "not in the dataset"})
    v2 = load_dataset_version(store, "images", "latest")
    assert v2.version == "v2" and [f.path for f in v2.files] == ["cats/1.jpg", "cats/2.jpg", "dogs/1.jpg"]
    assert v2.files[0].key == first.files[0].key  # the bytes of r1, where r1 keeps them
    assert contents(stage(store, tmp_path, "dataset://images/v2", "v2"))["cats/2.jpg"] == "c2"

    with pytest.raises(AlreadyExists, match="dataset version images/v1 exists"):
        commit(store, tmp_path, "r3", {"x.jpg": "x"}, dataset_version="images/v1")
    assert not [v for v in store.list("d/label/r3/")]  # refused before anything was uploaded
    with pytest.raises(NotFound, match="no dataset version images/v9"):
        stage(store, tmp_path, "dataset://images/v9", "nine")


def test_purge_keeps_versions_a_dataset_lists(store, tmp_path):
    old = commit(store, tmp_path, "r1", {"a.jpg": "a"}, dataset_version="images/v1")
    commit(store, tmp_path, "r2", {"b.jpg": "b"})
    result = purge(store, rule=PurgeRule(keep_last=1, orphans_older_than=None), dry_run=False)
    assert result.items == [] and "dataset version images/v1 lists its files" in result.kept[0].reason
    assert load_version(store, "d", "label", old.version_id).files[0].path == "a.jpg"


def test_cli_creates_lists_shows_verifies_and_diffs(local_root, tmp_path, capsys):
    store = open_store(local_root)
    first = commit(store, tmp_path, "r1", {"cats/1.jpg": "c1", "dogs/1.jpg": "d1"})
    second = commit(store, tmp_path, "r2", {"cats/1.jpg": "c1 again", "cats/2.jpg": "c2"})

    def run(*args: str) -> tuple[int, object]:
        code = main(["dataset", *args, "--store", local_root, "--json"])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    assert run("create", "images/v1", "--from", f"d/label/{first.version_id}/cats") == (
        0, {"name": "images", "version": "v1", "files": 1})
    assert run("create", "images/v2", "--from", f"d/label/{second.version_id}/cats/*.jpg", "--base", "images/v1")[0] == 0
    code, listed = run("ls")
    assert code == 0 and [(d["name"], d["version"]) for d in listed] == [("images", "v1"), ("images", "v2")]
    code, shown = run("show", "images/latest")
    assert [f["path"] for f in shown["files"]] == ["cats/1.jpg", "cats/2.jpg"]
    assert run("diff", "images/v1", "images/v2")[1] | {} == {
        "old": "v1", "new": "v2", "added": ["cats/2.jpg"], "removed": [], "changed": ["cats/1.jpg"], "unchanged": 0}
    assert run("verify", "images/v2")[1]["ok"] is True
    with open(os.path.join(local_root.removeprefix("file://"), second.files[1].key), "w") as handle:
        handle.write("tampered")  # cats/2.jpg, in r2's files
    code, report = run("verify", "images/v2")
    assert code == 1 and report["corrupt"] == ["cats/2.jpg"]
    assert main(["dataset", "create", "images/v1", "--from", f"d/label/{first.version_id}", "--store", local_root]) == 1
    assert "exists; dataset versions are never overwritten" in capsys.readouterr().err
    assert [v[0] for v in list_dataset_versions(store, "images")] == ["v1", "v2"]


def test_dataset_mistakes_are_named(local_root, tmp_path):
    store = open_store(local_root)
    with pytest.raises(InvalidSpec, match="write <dataset>/<version>"):
        commit(store, tmp_path, "r1", {"a": "a"}, dataset_version="images")
    with pytest.raises(InvalidSpec, match="is not a dataset version; write dataset://<dataset>/<version>"):
        commit(store, tmp_path, "r2", {"a": "a", "a.metadata.json": {"valohai.dataset-versions": ["images/v1"]}})
    with pytest.raises(InvalidSpec, match="is not a dataset URL"):
        stage_inputs({"m": "dataset://images"}, inputs_dir=str(tmp_path / "in"))
