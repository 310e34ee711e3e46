"""Ours beside a boto3 reference, rclone and the AWS CLI: the same objects, the same moto server, the
same concurrency, each case run interleaved and repeated (see :mod:`bench.interleave`).

The cases: stage one large object with its md5, sha1 and sha256 (each tool's default way, then with one
GET each, see footnote [a]); stage many 8 KiB objects likewise; stage those again with nothing changed;
snapshot (upload) one large file; snapshot many small files.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.units import human_size
from airflow_datastores.versions import Producer, snapshot
from bench import peers, reference
from bench.cases import BUCKET, CONN_ID, RepeatReader, _client, _write_tree
from bench.interleave import CaseResult, Task, run_case
from bench.peers import CONCURRENCY, Peer
from bench.table import render

UPLOADS = "bench-up"  # a bucket of its own, emptied after every upload, so listings stay small
BIG_KEY = "peers/big.bin"
SMALL_PREFIX = "peers/small/"


@dataclass
class Setting:
    """What every case shares: the client, the places, the sizes and the peers."""

    client: object
    work: str
    big: int
    small_count: int
    rclone: Peer
    aws: Peer

    def place(self, case: str, who: str) -> str:
        """A directory for one contender in one case (made empty)."""
        path = os.path.join(self.work, "peers", case, who)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path


# -- housekeeping ----------------------------------------------------------------------------------

def emptied(path: str) -> Callable[[], None]:
    """A reset step that removes everything under ``path`` and leaves it empty."""
    def reset() -> None:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    return reset


def empty_uploads(client) -> None:
    """Delete every object in the uploads bucket (untimed, between runs)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=UPLOADS):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=UPLOADS, Delete={"Objects": keys, "Quiet": True})


def ours_rerun_task(spec: dict, inputs_dir: str, cache: InputCache) -> Task:
    """Ours staging ``spec`` again with nothing changed: staged once first (untimed), then each run into
    the emptied ``inputs_dir`` as a new task attempt does; a run that downloads anything fails."""
    def rerun() -> None:
        if (result := stage_inputs(spec, inputs_dir=inputs_dir, cache=cache)).bytes_downloaded:
            raise RuntimeError(f"the rerun downloaded {human_size(result.bytes_downloaded)}")

    def first() -> None:
        stage_inputs(spec, inputs_dir=inputs_dir, cache=cache)
        emptied(inputs_dir)()

    return Task(rerun, setup=first, reset=emptied(inputs_dir))


def _peer(peer: Peer, task: Callable[[], Task]) -> Task | str:
    return task() if peer.available else f"not installed: {peer.missing}"


# -- the cases -------------------------------------------------------------------------------------

def stage_big(s: Setting, *, one_stream: bool = False) -> dict[str, Task | str]:
    """One object; ``one_stream``: the others, too, read it in one GET (as ours does) instead of ranges."""
    url, remote = f"s3://{BUCKET}/{BIG_KEY}", f"moto:{BUCKET}/{BIG_KEY}"
    d = {who: s.place("stage-big", who) for who in ("ours", "boto3", "rclone", "aws")}
    config = reference.ONE_STREAM if one_stream else reference.TRANSFER
    return {
        "ours": Task(lambda: stage_inputs({"big": {"url": url, "conn_id": CONN_ID}}, inputs_dir=d["ours"]),
                     reset=emptied(d["ours"])),
        "boto3": Task((lambda: reference.download_hashed(s.client, BUCKET, BIG_KEY, f"{d['boto3']}/big.bin"))
                      if one_stream else
                      (lambda: (s.client.download_file(BUCKET, BIG_KEY, f"{d['boto3']}/big.bin", Config=config),
                                reference.hash_file(f"{d['boto3']}/big.bin"))), reset=emptied(d["boto3"])),
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: (s.rclone.run("copy", remote, d["rclone"], *peers.rclone_flags(one_stream=one_stream)),
                     peers.rclone_hashes(s.rclone, d["rclone"])), reset=emptied(d["rclone"]))),
        "aws": _peer(s.aws, lambda: Task(
            lambda: (peers.aws_s3(s.aws, "cp", url, f"{d['aws']}/big.bin", one_stream=one_stream),
                     reference.hash_file(f"{d['aws']}/big.bin")), reset=emptied(d["aws"]))),
    }


def stage_small(s: Setting) -> dict[str, Task | str]:
    url, remote = f"s3://{BUCKET}/{SMALL_PREFIX}", f"moto:{BUCKET}/{SMALL_PREFIX}"
    d = {who: s.place("stage-small", who) for who in ("ours", "boto3", "rclone", "aws")}
    return {
        "ours": Task(lambda: stage_inputs({"small": {"url": url + "*", "conn_id": CONN_ID}}, inputs_dir=d["ours"]),
                     reset=emptied(d["ours"])),
        "boto3": Task(lambda: reference.fetch_tree(s.client, BUCKET, SMALL_PREFIX, d["boto3"], only_changed=False),
                      reset=emptied(d["boto3"])),
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: (s.rclone.run("copy", remote, d["rclone"], *peers.rclone_flags()),
                     peers.rclone_hashes(s.rclone, d["rclone"])), reset=emptied(d["rclone"]))),
        "aws": _peer(s.aws, lambda: Task(
            lambda: (peers.aws_s3(s.aws, "cp", "--recursive", url, d["aws"]), reference.hash_tree(d["aws"])),
            reset=emptied(d["aws"]))),
    }


def rerun_small(s: Setting) -> dict[str, Task | str]:
    """Each contender first stages the objects its own way (untimed); then each run does it again with
    nothing changed. Ours stages into a new inputs directory each time, as a new task attempt does."""
    url, remote = f"s3://{BUCKET}/{SMALL_PREFIX}", f"moto:{BUCKET}/{SMALL_PREFIX}"
    d = {who: s.place("rerun-small", who) for who in ("ours", "boto3", "rclone", "aws", "cache")}
    cache = InputCache(directory=d["cache"], max_bytes=64 * 2**30)
    spec = {"small": {"url": url + "*", "conn_id": CONN_ID}}

    def boto3_rerun() -> None:
        if fetched := reference.fetch_tree(s.client, BUCKET, SMALL_PREFIX, d["boto3"], only_changed=True):
            raise RuntimeError(f"the rerun fetched {fetched} objects")

    def rclone_copy() -> None:  # objects that rclone did not upload carry no mtime of its own: use S3's
        s.rclone.run("copy", remote, d["rclone"], *peers.rclone_flags(), "--use-server-modtime")

    return {
        "ours": ours_rerun_task(spec, d["ours"], cache),
        "boto3": Task(boto3_rerun,
                      setup=lambda: reference.fetch_tree(s.client, BUCKET, SMALL_PREFIX, d["boto3"], only_changed=False)),
        "rclone": _peer(s.rclone, lambda: Task(rclone_copy, setup=rclone_copy)),
        "aws": _peer(s.aws, lambda: Task(lambda: peers.aws_s3(s.aws, "sync", url, d["aws"]),
                                         setup=lambda: peers.aws_s3(s.aws, "cp", "--recursive", url, d["aws"]))),
    }


def rerun_big(s: Setting) -> dict[str, Task | str]:
    """The large object again, unchanged: ours from the cache; the reference a HEAD compared with the
    local copy's size and time (what a sync does for one object)."""
    url, remote = f"s3://{BUCKET}/{BIG_KEY}", f"moto:{BUCKET}/{BIG_KEY}"
    d = {who: s.place("rerun-big", who) for who in ("ours", "boto3", "rclone", "aws", "cache")}
    cache = InputCache(directory=d["cache"], max_bytes=64 * 2**30)
    spec = {"big": {"url": url, "conn_id": CONN_ID}}
    local = os.path.join(d["boto3"], "big.bin")

    def head() -> None:
        info, stat = s.client.head_object(Bucket=BUCKET, Key=BIG_KEY), os.stat(local)
        if info["ContentLength"] != stat.st_size or info["LastModified"].timestamp() > stat.st_mtime:
            raise RuntimeError("the local copy is not current")

    def rclone_copy() -> None:
        s.rclone.run("copy", remote, d["rclone"], *peers.rclone_flags(), "--use-server-modtime")

    def aws_sync() -> None:
        peers.aws_s3(s.aws, "sync", f"s3://{BUCKET}/{os.path.dirname(BIG_KEY)}/", d["aws"], "--exclude", "*",
                     "--include", os.path.basename(BIG_KEY))

    return {
        "ours": ours_rerun_task(spec, d["ours"], cache),
        "boto3": Task(head, setup=lambda: s.client.download_file(BUCKET, BIG_KEY, local, Config=reference.TRANSFER)),
        "rclone": _peer(s.rclone, lambda: Task(rclone_copy, setup=rclone_copy)),
        "aws": _peer(s.aws, lambda: Task(aws_sync, setup=aws_sync)),
    }


def snapshot_tree(s: Setting, source: str, task_id: str) -> dict[str, Task | str]:
    """Upload everything under ``source``: ours as a committed version, the others as plain copies."""
    store = open_store(f"s3://{UPLOADS}", conn_id=CONN_ID)
    files = sorted(os.listdir(source))

    def ours() -> None:
        producer = Producer(dag_id="bench-peers", task_id=task_id, run_id=f"run-{time.time_ns()}")
        snapshot(source, store=store, producer=producer, max_concurrency=CONCURRENCY)

    def boto3_upload() -> None:
        if len(files) == 1:
            s.client.upload_file(os.path.join(source, files[0]), UPLOADS, f"boto3/{files[0]}", Config=reference.TRANSFER)
        else:
            reference.put_tree(s.client, source, UPLOADS, "boto3/")

    def aws() -> None:
        if len(files) == 1:
            peers.aws_s3(s.aws, "cp", os.path.join(source, files[0]), f"s3://{UPLOADS}/aws/{files[0]}")
        else:
            peers.aws_s3(s.aws, "cp", "--recursive", source, f"s3://{UPLOADS}/aws/")

    def reset() -> None:
        empty_uploads(s.client)

    return {
        "ours": Task(ours, reset=reset),
        "boto3": Task(boto3_upload, reset=reset),
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: s.rclone.run("copy", source, f"moto:{UPLOADS}/rclone", *peers.rclone_flags()), reset=reset)),
        "aws": _peer(s.aws, lambda: Task(aws, reset=reset)),
    }


# -- the whole comparison --------------------------------------------------------------------------

def seed(client, *, work: str, big: int, small_count: int, big_key: str, small_prefix: str) -> tuple[str, str]:
    """Write what the cases move, each once: one large object ``big_key`` and ``small_count`` objects
    of 8 KiB below ``small_prefix`` (in :data:`BUCKET`, with :data:`UPLOADS` made too), and the same as
    local files to upload; returns (the large file's directory, the small files' directory) below ``work``."""
    for bucket in (BUCKET, UPLOADS):
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    client.upload_fileobj(RepeatReader(big), BUCKET, big_key)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.put_object(Bucket=BUCKET, Key=f"{small_prefix}{i:05d}.bin",
                                                  Body=os.urandom(8192)), range(small_count)))
    big_dir = os.path.join(work, "source-big")
    os.makedirs(big_dir)
    with open(os.path.join(big_dir, "big.bin"), "wb") as handle:
        reader = RepeatReader(big)
        while chunk := reader.read():
            handle.write(chunk)
    small_dir = os.path.join(work, "source-small")
    _write_tree(small_dir, small_count, 8192)
    return big_dir, small_dir


def _warm_up(s: Setting) -> None:
    """Stage and snapshot one small file untimed, so no case pays for ours' first imports and
    connection (the peers' start-up is theirs on every run, and is in their times)."""
    scratch = s.place("warm-up", "ours")
    stage_inputs({"one": {"url": f"s3://{BUCKET}/{SMALL_PREFIX}00000.bin", "conn_id": CONN_ID}},
                 inputs_dir=os.path.join(scratch, "in"))
    snapshot(os.path.join(scratch, "in"), store=open_store(f"s3://{UPLOADS}", conn_id=CONN_ID),
             producer=Producer(dag_id="bench-peers", task_id="warm-up", run_id=f"run-{time.time_ns()}"))
    s.client.download_file(BUCKET, f"{SMALL_PREFIX}00000.bin", os.path.join(scratch, "boto3.bin"), Config=reference.TRANSFER)
    empty_uploads(s.client)
    shutil.rmtree(scratch)


def _startup(peer: Peer) -> str:
    """The best of three starts of the tool doing nothing: what each of its commands pays first."""
    if not peer.available:
        return "n/a"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        peer.run("--version") if peer.name == "aws" else peer.run("version")
        times.append(time.perf_counter() - started)
    return f"{min(times):.2f} s"


def footer(s: Setting, repeat: int) -> list[str]:
    return [
        f"min / median of {repeat} interleaved runs (ours, boto3, rclone, aws, then again); (Nx) = ours' min "
        "divided by that tool's min: below 1 ours is faster.",
        f"Concurrency {CONCURRENCY} for the others; ours stages with the [datastores] defaults (max_connections "
        f"32 files at once; on moto one stream a file, its first stream being fast) and snapshots with "
        f"max_concurrency={CONCURRENCY} (up to 8 parts of 16 MiB in flight per store); boto3 {CONCURRENCY} threads / TransferConfig("
        f"max_concurrency={CONCURRENCY}); rclone --transfers {CONCURRENCY} --checkers {CONCURRENCY} "
        f"--multi-thread-streams {CONCURRENCY} --s3-upload-concurrency {CONCURRENCY}; aws "
        f"max_concurrent_requests={CONCURRENCY} (AWS_CONFIG_FILE written by the bench).",
        "stage = download + md5/sha1/sha256 of every file. ours: stage_inputs (hashes and the store's checksum "
        "checked in the same pass); boto3: download_file / get_object, then hashlib (one read, three digests); "
        "in the one-GET row the tight loop: one get_object written while two threads hash it (md5; sha1+sha256); "
        "rclone: `rclone copy`, then `rclone hashsum md5|sha1|sha256` on the local copy; aws: `aws s3 cp` "
        "(--recursive), then hashlib as boto3.",
        "rerun = the same objects again, nothing changed. ours: a new inputs directory served by the cache "
        "(hard links, hashes recorded); boto3: list + stat, skip same size and not older; rclone: `rclone copy "
        "--use-server-modtime` (skips by size + LastModified; without the flag it HEADs every object for an mtime "
        "of its own, over 10x slower here); aws: `aws s3 sync` (skips by size + mtime). Only ours reports the hashes "
        "again. For the one large object, boto3 is a HEAD compared with the local copy's size and time.",
        "snapshot = upload. ours: snapshot() (md5/sha1/sha256 in the same pass, checksums sent, a create-only "
        "manifest); boto3: upload_file / put_object; rclone: `rclone copy` (it reads a large file for its MD5 "
        "first); aws: `aws s3 cp` (--recursive).",
        f"ours and boto3 run in this process; each peer command is a new process (start-up: rclone "
        f"{_startup(s.rclone)}, aws {_startup(s.aws)}). Same moto server on 127.0.0.1, {os.cpu_count()} cores.",
        "[a] moto reads the whole object for every ranged GET, so on moto a download split into ranges (boto3 "
        "download_file, rclone multi-thread streams, aws s3 cp) pays for the object once per range; this row "
        "gives every tool one GET (boto3 multipart_threshold=1 PiB, rclone --multi-thread-streams 0, aws "
        "multipart_threshold = 1TB). Real S3 has no such cost: there ranges on parallel streams help.",
    ]


@dataclass
class Comparison:
    """The cases' results (also by key), the column titles and the footer that says what each tool did."""

    results: list[CaseResult]
    headers: dict[str, str]
    footer: list[str]
    by_key: dict[str, CaseResult]

    def render(self, *, markdown: bool) -> str:
        return render(self.results, self.headers, self.footer, markdown=markdown)

    def ratio(self, key: str, other: str) -> float | None:
        """Ours' best time over ``other``'s in case ``key``; ``None`` when either has no time."""
        return self.by_key[key].ratio(other)


def run_all(*, endpoint: str, work: str, big: int, small_count: int, repeat: int, with_peers: bool = True,
            ) -> Comparison:
    """Install the peers if needed, prepare the data, run the cases, remove what they left."""
    if with_peers:
        rclone, aws = peers.rclone(endpoint, work), peers.awscli(endpoint, work)
    else:
        rclone, aws = (Peer(name, missing="left out (--no-peers)") for name in ("rclone", "aws"))
    s = Setting(client=_client(endpoint), work=work, big=big, small_count=small_count, rclone=rclone, aws=aws)
    print(f"Side by side with rclone and the AWS CLI ({repeat} runs each, interleaved)", flush=True)
    big_dir, small_dir = seed(s.client, work=os.path.join(s.work, "peers"), big=s.big, small_count=s.small_count,
                              big_key=BIG_KEY, small_prefix=SMALL_PREFIX)
    _warm_up(s)
    small = f"{small_count} x 8 KiB"
    cases = [
        ("stage-big", f"stage {human_size(big)} + md5/sha1/sha256", lambda: stage_big(s)),
        ("stage-big-one-get", "same, one GET each (no ranges) [a]", lambda: stage_big(s, one_stream=True)),
        ("stage-small", f"stage {small} + md5/sha1/sha256", lambda: stage_small(s)),
        ("rerun-small", f"rerun {small} unchanged", lambda: rerun_small(s)),
        ("rerun-big", f"rerun {human_size(big)} unchanged", lambda: rerun_big(s)),
        ("snapshot-big", f"snapshot {human_size(big)}", lambda: snapshot_tree(s, big_dir, "big")),
        ("snapshot-small", f"snapshot {small}", lambda: snapshot_tree(s, small_dir, "small")),
    ]
    by_key = {}
    try:
        for key, name, tasks in cases:
            by_key[key] = run_case(name, tasks(), repeat=repeat)
            shutil.rmtree(os.path.join(work, "peers", key.removesuffix("-one-get")), ignore_errors=True)
    finally:
        shutil.rmtree(os.path.join(work, "peers"), ignore_errors=True)
        empty_uploads(s.client)
    titles = {"ours": "ours", "boto3": "boto3 (reference)",
              "rclone": f"rclone {rclone.version}".strip(), "aws": f"aws-cli {aws.version}".strip()}
    return Comparison(list(by_key.values()), titles, footer(s, repeat), by_key)
