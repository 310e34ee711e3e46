"""FIPS-mode hosts: md5 and sha1 serve as checksums here (ETags, Content-MD5, records), never as
security, so every digest is made with ``usedforsecurity=False`` in one helper (hashing.digest); a
FIPS-mode OpenSSL refuses md5 and sha1 made any other way."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

import airflow_datastores
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, snapshot

PROVIDER = Path(airflow_datastores.__file__).parent
#: A digest made without saying it is no security: hashlib.md5(...), hashlib.sha1(...), hashlib.new(...)
#: without usedforsecurity=False on the same line.
_BARE = re.compile(r"hashlib\.(md5|sha1)\(|hashlib\.new\((?![^)]*usedforsecurity=False)")


def test_no_bare_md5_or_sha1_in_the_provider():
    found = [f"{path.relative_to(PROVIDER.parent)}:{number}: {line.strip()}"
             for path in sorted(PROVIDER.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1) if _BARE.search(line)]
    assert found == [], "use airflow_datastores.hashing.digest() (usedforsecurity=False):\n" + "\n".join(found)


@pytest.fixture
def fips(monkeypatch):
    """hashlib as on a FIPS-mode host: md5 and sha1 only with usedforsecurity=False."""
    real_new = hashlib.new

    def refuse(name: str, kwargs: dict) -> None:
        if name.lower() in ("md5", "sha1") and kwargs.get("usedforsecurity", True):
            raise ValueError(f"[digital envelope routines] unsupported: {name} is not allowed in FIPS mode")

    def new(name, data=b"", **kwargs):
        refuse(name, kwargs)
        return real_new(name, data, **kwargs)

    for name in ("md5", "sha1"):
        real = getattr(hashlib, name)

        def guarded(data=b"", *, _name=name, _real=real, **kwargs):
            refuse(_name, kwargs)
            return _real(data, **kwargs)

        monkeypatch.setattr(hashlib, name, guarded)
    monkeypatch.setattr(hashlib, "new", new)
    with pytest.raises(ValueError, match="FIPS"):
        hashlib.md5(b"x")


@pytest.mark.parametrize("where", ["local_root", "s3_root"])
def test_staging_and_a_snapshot_work_on_a_fips_host(where, request, tmp_path):
    root = request.getfixturevalue(where)
    conn_id = "test_s3" if where == "s3_root" else None
    store = open_store(root, conn_id=conn_id)
    store.write_bytes("in/a.txt", b"alpha")
    request.getfixturevalue("fips")
    staged = stage_inputs({"a": {"url": f"{root}/in/*.txt", "conn_id": conn_id}}, inputs_dir=str(tmp_path / "in"))
    assert staged.records[0].md5 == "2c1743a391305fbf367df8e4f069f9f9"
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.bin").write_bytes(os.urandom(1000))
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r"))
    assert version.files[0].sha1 and store.read_bytes(version.files[0].key) == (out / "b.bin").read_bytes()
