"""What `make demo` tells a new user is true: its closing text names where a real version's files and
manifest are (the demo itself runs two DAG runs, too slow for a test; its text comes from one function)."""

from __future__ import annotations

import importlib.util
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _demo():
    spec = importlib.util.spec_from_file_location("datastores_demo", os.path.join(REPO, "scripts", "demo.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_pattern(layout: str, **values: str) -> re.Pattern[str]:
    """``layout`` (``<dag>/<task>/...``) as a regular expression; each ``<name>`` is ``values[name]``."""
    parts = re.split(r"<(\w+)>", layout)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else values[p] for i, p in enumerate(parts)))


def test_the_closing_text_names_where_a_real_version_is(tmp_path, monkeypatch):
    from airflow_datastores.stores.registry import clear_cache, default_store_url, get_store
    from airflow_datastores.versions import Producer, snapshot

    home = tmp_path / "airflow"
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "model.bin").write_bytes(b"weights")
    try:
        version = snapshot(str(tmp_path / "out"), store=get_store(),
                           producer=Producer(dag_id="demo_dag", task_id="train", run_id="manual__1", try_number=2))
    finally:
        clear_cache()
    text = _demo().closing_text(str(home))
    files = re.search(r"files of each version are under (\S+)", text)[1]
    manifests = re.search(r"its manifest is written, (\S+?)\.?\s", text)[1]
    store_dir = default_store_url().removeprefix("file://")
    for named in (files, manifests):  # the text names paths in the default store, relative to the repository
        assert os.path.normpath(os.path.join(REPO, named)).startswith(store_dir + os.sep), named
    layout = os.path.relpath(os.path.join(REPO, files), store_dir) + "/"
    values = {"dag": "demo_dag", "task": "train", "version": re.escape(version.version_id), "n": "2",
              "id": "[0-9a-f]+"}
    key = version.files[0].key
    assert _as_pattern(layout, **values).fullmatch(key.removesuffix("sub/model.bin")), (layout, key)
    assert os.path.isfile(os.path.join(store_dir, key))
    manifest = os.path.relpath(os.path.join(REPO, manifests), store_dir)
    found = [os.path.relpath(os.path.join(d, n), store_dir) for d, _, ns in os.walk(store_dir) for n in ns
             if n.endswith(".json")]
    assert [m for m in found if _as_pattern(manifest, **values).fullmatch(m)] == found != [], (manifest, found)
