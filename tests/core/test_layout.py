"""The store's key layout is written and read in one module: every key it builds reads back to what
built it, what it did not build reads as nothing, and a real snapshot's keys are what it says."""

from __future__ import annotations

import itertools

from airflow_datastores.versions import Producer, snapshot
from airflow_datastores.versions.layout import (
    attempt_prefix,
    manifest_key,
    manifest_prefix,
    parse_attempt_key,
    parse_manifest_key,
)
from airflow_datastores.versions.manifest import list_versions

IDS = ["d", "my.dag-2", "Train_Model", "x" * 200]
VERSIONS = ["manual__2026-12-06T03-14-35.207915-00-00", "r1.map-3", "adhoc-20261206T031435-abc123"]


def test_every_key_built_reads_back():
    for dag, task, version, try_number in itertools.product(IDS, IDS[:2], VERSIONS, (1, 12)):
        prefix = attempt_prefix(dag, task, version, try_number=try_number)
        parsed = parse_attempt_key(prefix + "sub/dir/file name#1.csv")
        assert (parsed.dag_id, parsed.task_id, parsed.version_id, parsed.try_number) == (dag, task, version,
                                                                                         try_number)
        assert parsed.path == "sub/dir/file name#1.csv" and parsed.prefix == prefix
        assert parse_attempt_key(prefix).path == "" and parse_attempt_key(prefix).prefix == prefix
        assert parse_manifest_key(manifest_key(dag, task, version)) == (dag, task, version)
        assert manifest_key(dag, task, version).startswith(manifest_prefix(dag, task))


def test_an_attempt_token_of_any_length_reads_back():
    # A commit writes 8 hex digits; attempt directories other writers (or other releases) left keep theirs,
    # so a purge still finds and removes them.
    for token in ("aa", "0123abcdef01", "Z9"):
        parsed = parse_attempt_key(f"d/t/r/try-3-{token}/f.bin")
        assert (parsed.dag_id, parsed.try_number, parsed.token, parsed.path) == ("d", 3, token, "f.bin")


def test_what_the_layout_did_not_build_reads_as_nothing():
    for key in ("_aliases/@global/best/0000000001.json", "_lineage/d/t/v/d2/t2/v2.json", "_datasets/x/v1.json",
                "data/raw.csv", "d/t/v/attempt-1/f", "d/t/v/try-1/f", "d/t/v/try-x-0123abcd/f",
                "_manifests/d/t/v.txt", "_manifests/d/t", "_manifests/d/t/.json", "d//v/try-1-0123abcd/f"):
        assert parse_attempt_key(key) is None and parse_manifest_key(key) is None, key


def test_a_snapshots_keys_are_the_layouts(local_root, tmp_path):
    from airflow_datastores.stores.registry import get_store

    store = get_store(local_root)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("a")
    version = snapshot(str(tmp_path / "out"), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r",
                                                                             try_number=3))
    parsed = parse_attempt_key(version.files[0].key)
    assert parsed.prefix == version.data_prefix and (parsed.try_number, parsed.path) == (3, "a.txt")
    (summary,) = list_versions(store, dag_id="d", task_id="t")
    assert parse_manifest_key(summary.manifest_key) == ("d", "t", version.version_id)
