"""Tags and properties (#17): ``<file>.metadata.json`` sidecars and a step's ``tags=``/``properties=`` go
into the manifest, the sidecar is not a file of the version, its alias key moves an alias, and the CLI
filters versions by them. On the local store, S3 and Azure."""

from __future__ import annotations

import json

import pytest

from airflow_datastores.cli import main
from airflow_datastores.errors import InvalidSpec
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, aliases, load_version, snapshot


@pytest.fixture(params=["local", "s3", "azure"])
def store(request):
    root, conn_id = {"local": ("local_root", None), "s3": ("s3_root", "test_s3"),
                     "azure": ("azure_root", "test_azure")}[request.param]
    return open_store(str(request.getfixturevalue(root)), conn_id=conn_id)


def outputs(tmp_path, name: str, files: dict[str, object]):
    out = tmp_path / name
    for rel, content in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return out


def test_sidecars_and_step_metadata_reach_the_manifest_and_are_not_files(store, tmp_path):
    out = outputs(tmp_path, "out", {
        "model.pkl": "weights",
        "model.pkl.metadata.json": {"valohai.tags": ["validated", "v2"], "valohai.alias": "prod",
                                    "accuracy": 0.93, "params": {"lr": 0.1}},
        "report/summary.txt": "ok",
    })
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="train", run_id="r1"),
                       tags=["nightly"], properties={"dataset": "images/v3"})
    loaded = load_version(store, "d", "train", version.version_id)
    assert [f.path for f in loaded.files] == ["model.pkl", "report/summary.txt"]  # no sidecar among them
    model = loaded.files[0]
    assert model.tags == ["v2", "validated"] and model.properties == {"accuracy": 0.93, "params": {"lr": 0.1}}
    assert loaded.files[1].tags == [] and loaded.files[1].properties == {}
    assert (loaded.tags, loaded.properties) == (["nightly"], {"dataset": "images/v3"})
    assert not [i for i in store.list("d/") if i.key.endswith(".metadata.json")]  # not uploaded either
    assert aliases.current(store, "prod", dag_id="d", task_id="train").version_id == version.version_id
    record = version.to_record()
    assert record["tags"] == ["nightly"] and record["files"][0]["properties"]["accuracy"] == 0.93


@pytest.mark.parametrize(("files", "words"), [
    ({"a.txt.metadata.json": {"x": 1}}, "describes a.txt, which is not in the outputs directory"),
    ({"a.txt": "a", "a.txt.metadata.json": "[1, 2]"}, "a sidecar holds a JSON object"),
    ({"a.txt": "a", "a.txt.metadata.json": "{oops"}, "not valid JSON"),
    ({"a.txt": "a", "a.txt.metadata.json": {"valohai.tags": [1]}}, "tags must be a list of non-empty strings"),
    ({"a.txt": "a", "a.txt.metadata.json": {"valohai.alias": "no/slash"}}, "Alias name 'no/slash' is not usable"),
])
def test_a_bad_sidecar_fails_the_snapshot_naming_it_and_commits_nothing(local_root, tmp_path, files, words):
    store = open_store(local_root)
    out = outputs(tmp_path, "bad", files)
    with pytest.raises(InvalidSpec, match=words):
        snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    assert list(store.list("")) == []


def test_versions_are_filtered_by_tag_and_property(local_root, tmp_path, capsys):
    store = open_store(local_root)
    for run_id, sidecar, tags in (("r1", {"accuracy": 0.81}, ["nightly"]),
                                  ("r2", {"accuracy": 0.93, "valohai.tags": ["best"]}, ["nightly"]),
                                  ("r3", {"accuracy": 0.93}, [])):
        out = outputs(tmp_path, run_id, {"m.bin": run_id, "m.bin.metadata.json": sidecar})
        snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id=run_id), tags=tags)

    def versions(*args: str) -> list[str]:
        assert main(["versions", "--store", local_root, "--json", *args]) == 0
        return [v["version_id"] for v in json.loads(capsys.readouterr().out)]

    assert versions("--tag", "nightly") == ["r1", "r2"]
    assert versions("--tag", "best") == ["r2"]  # a file's tag counts
    assert versions("--where", "accuracy=0.93") == ["r2", "r3"]
    assert versions("--where", "accuracy=0.93", "--tag", "nightly") == ["r2"]
    assert versions("--where", "accuracy=0.5") == []
    with pytest.raises(SystemExit):
        main(["versions", "--store", local_root, "--where", "accuracy"])
    assert "write KEY=VALUE" in capsys.readouterr().err
    assert main(["show", "d", "t", "r2", "--store", local_root]) == 0
    assert "#best accuracy=0.93" in capsys.readouterr().out
