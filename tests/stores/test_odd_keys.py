"""Every key a bucket can hold stages, or fails naming it: odd characters, empty objects, directory
markers, a version's files with such names; and what the local file system cannot hold (a file that is
also a directory, a name over its limit, a NUL) fails before any byte moves, naming the key(s), the
input and what to do, and leaves nothing behind.

moto refuses a key with a newline (404): the control characters run on SeaweedFS and the local store.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_datastores.errors import DataStoreError, InvalidSpec, NotFound
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.versions import Producer, make_reference, snapshot

from .test_contract import WRITABLE

#: Keys every server here holds.
PRINTABLE = ["sp ace.txt", "per%25cent.txt", "100%.txt", "plus+sign.txt", "hash#x.txt", "what?.txt", "semi;colon.txt",
             "and&amp.txt", "ünïcødé 文件.txt", "empty.txt"]
#: Keys with control characters: SeaweedFS, GCS and local directories hold them (moto refuses a newline).
CONTROL = ["new\nline.txt", "tab\there.txt"]
CONTROL_ON = {"local", "seaweedfs", "gcs"}


def _keys(backend: str) -> list[str]:
    return PRINTABLE + (CONTROL if backend in CONTROL_ON else [])


def _body(key: str) -> bytes:
    return b"" if key == "empty.txt" else key.encode()


@pytest.fixture(params=sorted(WRITABLE))
def root(request):
    fixture, conn_id = WRITABLE[request.param]
    return request.param, str(request.getfixturevalue(fixture)), conn_id


def _staged(result) -> dict[str, bytes]:
    return {os.path.relpath(r.path, result.inputs_dir): open(r.path, "rb").read() for r in result.records}


def _files(directory) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _, fs in os.walk(directory) for f in fs)


def test_every_key_stages_through_a_wildcard_and_a_directory_marker_is_no_file(root, tmp_path):
    backend, url, conn_id = root
    store = open_store(url, conn_id=conn_id)
    keys = _keys(backend)
    for key in keys:
        store.write_bytes(f"odd/{key}", _body(key))
    if backend != "local":  # a directory marker: an empty object whose key ends with '/'
        store.write_bytes("odd/dir/", b"")
    for pattern in ("odd/**", "odd/*"):
        result = stage_inputs({"o": {"url": f"{url}/{pattern}", "conn_id": conn_id}},
                              inputs_dir=str(tmp_path / pattern.replace("*", "x")))
        assert _staged(result) == {f"o/{key}": _body(key) for key in keys}
        assert all(r.sha256 == hashlib.sha256(_body(os.path.basename(r.path))).hexdigest() for r in result.records)


def test_every_key_stages_by_its_own_url(root, tmp_path):
    backend, url, conn_id = root
    store = open_store(url, conn_id=conn_id)
    keys = _keys(backend)
    for key in keys:
        store.write_bytes(f"one/{key}", _body(key))
    store.write_bytes("one/whatX.txt", b"a sibling the wildcard '?' matches too")
    for number, key in enumerate(keys):
        # '?' is the wildcard of one character: '[?]' names the character itself; '#' is part of the key.
        written = key.replace("?", "[?]")
        result = stage_inputs({"o": {"url": f"{url}/one/{written}", "conn_id": conn_id}},
                              inputs_dir=str(tmp_path / f"in{number}"))
        assert _staged(result) == {f"o/{key}": _body(key)}, key
    result = stage_inputs({"o": {"url": f"{url}/one/what?.txt", "conn_id": conn_id}}, inputs_dir=str(tmp_path / "q"))
    assert sorted(_staged(result)) == ["o/what?.txt", "o/whatX.txt"]


def test_a_version_stages_back_with_exactly_its_files(root, tmp_path):
    backend, url, conn_id = root
    store = open_store(url, conn_id=conn_id)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    names = [key for key in _keys(backend) if key != "what?.txt"] + ["sub/what?.txt"]
    for name in names:
        (out / name).write_bytes(_body(os.path.basename(name)))
    version = snapshot(str(out), store=store, producer=Producer(dag_id="d", task_id="t", run_id="r"))
    assert sorted(f.path for f in version.files) == sorted(names)
    for suffix in ("", "/**"):
        ref = make_reference(dag_id="d", task_id="t", path=suffix.lstrip("/"), store=store.root)
        result = stage_inputs({"v": {"url": ref, "keep_directories": "suffix", "conn_id": conn_id}},
                              inputs_dir=str(tmp_path / f"in{len(suffix)}"))
        assert _staged(result) == {f"v/{name}": _body(os.path.basename(name)) for name in names}, suffix


@pytest.mark.parametrize("backend", ["seaweedfs", "local"])
def test_a_file_that_is_also_a_directory_fails_naming_both_keys_and_leaves_nothing(backend, request, tmp_path):
    fixture, conn_id = WRITABLE[backend]
    url = str(request.getfixturevalue(fixture))
    store = open_store(url, conn_id=conn_id)
    store.write_bytes("a/first.txt", b"staged before the clash, if anything were")
    store.write_bytes("c/x/y", b"below x")
    if backend == "local":  # a directory cannot also be a file here: the file comes from another one
        other = tmp_path / "other"
        other.mkdir()
        (other / "x").write_bytes(b"a file")
        urls, clash = [f"{url}/c/**", f"file://{other}/x"], (f"{url}/c/x/y", f"file://{other}/x")
    else:
        store.write_bytes("c/x", b"a file")
        urls, clash = [f"{url}/c/**"], (f"{url}/c/x", f"{url}/c/x/y")
    inputs = {"a": {"url": f"{url}/a/first.txt", "conn_id": conn_id},
              "c": {"urls": urls, "keep_directories": "suffix", "conn_id": conn_id}}
    with pytest.raises(InvalidSpec) as err:
        stage_inputs(inputs, inputs_dir=str(tmp_path / "in"))
    message = str(err.value)
    assert all(part in message for part in clash) and "Input 'c'" in message, message
    assert "separate inputs" in message
    assert _files(tmp_path / "in") == []


def test_a_name_over_the_file_systems_limit_fails_naming_the_key(s3_root, tmp_path):
    # S3 keys may be 1,024 bytes in any segment (SeaweedFS refuses a segment over 255 bytes).
    store = open_store(s3_root, conn_id="test_s3")
    long = "l" * 240 + "-ünïcødé.txt"  # 253 characters, 257 bytes
    store.write_bytes(f"long/{long}", b"x")
    store.write_bytes("long/short.txt", b"y")
    with pytest.raises(InvalidSpec) as err:
        stage_inputs({"l": {"url": f"{s3_root}/long/*", "conn_id": "test_s3"}}, inputs_dir=str(tmp_path / "in"))
    message = str(err.value)
    assert f"{s3_root}/long/{long}" in message and "Input 'l'" in message and "255 bytes" in message, message
    assert ".part-" not in message
    assert _files(tmp_path / "in") == []
    # Just within the limit: staged, though our temporary name beside it would not fit.
    fits = "f" * 255
    store.write_bytes(f"fits/{fits}", b"z")
    result = stage_inputs({"f": {"url": f"{s3_root}/fits/*", "conn_id": "test_s3"}}, inputs_dir=str(tmp_path / "ok"))
    assert _staged(result) == {f"f/{fits}": b"z"}


def test_a_name_the_local_file_system_cannot_hold_fails_naming_the_key(s3_root, tmp_path):
    store = open_store(s3_root, conn_id="test_s3")
    store.write_bytes("nul/bad\x00name.txt", b"x")  # moto holds a NUL; no file name can
    store.write_bytes("nul/good.txt", b"y")
    with pytest.raises(InvalidSpec) as err:
        stage_inputs({"n": {"url": f"{s3_root}/nul/*", "conn_id": "test_s3"}}, inputs_dir=str(tmp_path / "in"))
    message = str(err.value)
    assert "bad\\x00name.txt" in message and "Input 'n'" in message and "rename" in message, message
    assert _files(tmp_path / "in") == []


def test_a_directory_marker_with_bytes_fails_naming_it(s3_root, tmp_path):
    store = open_store(s3_root, conn_id="test_s3")
    store.write_bytes("m/dir/", b"bytes under a directory's name")
    store.write_bytes("m/dir/f.txt", b"f")
    with pytest.raises(DataStoreError, match=r"m/dir/ .*holds 30 bytes"):
        stage_inputs({"m": {"url": f"{s3_root}/m/**", "conn_id": "test_s3"}}, inputs_dir=str(tmp_path / "in"))


@pytest.mark.parametrize("character", ["#", "?"])
def test_does_not_exist_explains_a_hash_or_question_mark(s3_root, tmp_path, character):
    store = open_store(s3_root, conn_id="test_s3")
    store.write_bytes("a/hash.txt", b"x")
    with pytest.raises(NotFound) as err:
        stage_inputs({"h": {"url": f"{s3_root}/a/hash{character}x.txt", "conn_id": "test_s3"}},
                     inputs_dir=str(tmp_path / "in"))
    assert "'#' is part of the key" in str(err.value) and "[?]" in str(err.value), str(err.value)


def test_does_not_exist_explains_a_hash_in_an_http_url(http_server, tmp_path):
    directory = http_server.root_dir / f"odd-{os.getpid()}"
    directory.mkdir(exist_ok=True)
    (directory / "hash#x.txt").write_bytes(b"x")
    with pytest.raises(NotFound) as err:
        stage_inputs({"h": f"{http_server.endpoint}/{directory.name}/hash#x.txt"}, inputs_dir=str(tmp_path / "in"))
    assert "'#' a fragment, which is never sent" in str(err.value) and "%23" in str(err.value), str(err.value)
    staged = stage_inputs({"h": f"{http_server.endpoint}/{directory.name}/hash%23x.txt"},
                          inputs_dir=str(tmp_path / "ok"))
    assert open(staged.records[0].path, "rb").read() == b"x"
