"""The network profile: ours beside the boto3 transfer manager, rclone and the AWS CLI against a real S3
server (SeaweedFS) behind a shaping proxy of our own (:mod:`bench.shaper`), so that every connection
has a cloud store's per-stream rate and round trip.

The four cases of issue 23: stage one large object with its md5, sha1 and sha256; stage many 8 KiB
objects; snapshot one large file; snapshot many 8 KiB files. Each tool runs with its own defaults
(ours: the ``[datastores]`` defaults, nothing tuned), except where the issue names a setting (boto3's
32 threads for many small objects, rclone ``--transfers 16``). Rounds are interleaved (see
:mod:`bench.interleave`); min and median.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from airflow_datastores import config
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import clear_cache, open_store
from airflow_datastores.units import human_size
from airflow_datastores.versions import Producer, snapshot
from bench import peers, reference
from bench.cases import BUCKET, CONN_ID, Results, _peak_rss
from bench.interleave import CaseResult, Task, run_case
from bench.peers import Peer
from bench.shaper import Shaper
from bench.side_by_side import UPLOADS, emptied, empty_uploads, seed
from bench.table import render

BIG_KEY = "net/big.bin"
SMALL_PREFIX = "net/small/"
#: What the issue names: boto3 with 32 threads for many small objects, rclone --transfers 16.
BOTO3_THREADS = 32
RCLONE_TRANSFERS = 16
REMOTE = "net"


@dataclass
class Profile:
    """What the proxy simulates: each connection's rate (bytes per second, each way) and round trip."""

    rate: float = 40e6
    rtt: float = 0.020

    def describe(self) -> str:
        return f"{self.rate / 1e6:.0f} MB/s per connection each way, {self.rtt * 1000:.0f} ms round trip"


@dataclass
class Setting:
    client: object  # boto3, through the proxy, with connections for 32 threads
    direct: object  # boto3 straight to the server: setup and cleanup, never timed
    work: str
    big: int
    small_count: int
    rclone: Peer
    aws: Peer
    splits: dict[str, list[float]] = field(default_factory=dict)

    def place(self, case: str, who: str) -> str:
        path = os.path.join(self.work, "net", case, who)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path


def _peer(peer: Peer, task: Callable[[], Task]) -> Task | str:
    return task() if peer.available else f"not installed: {peer.missing}"


def _rclone_flags() -> list[str]:
    return ["-q", "--transfers", str(RCLONE_TRANSFERS), "--s3-no-check-bucket"]


def _aws(peer: Peer, *args: str) -> None:
    peer.run("s3", *args, "--endpoint-url", peer.endpoint, "--only-show-errors", "--no-progress")


# -- the cases -------------------------------------------------------------------------------------

def stage_big(s: Setting) -> dict[str, Task | str]:
    """Ours stages with the three digests and the store's checksum checked; boto3's transfer manager
    downloads (10 ranged streams), then one hashlib pass reads the file for the three digests; the two
    halves are also kept apart (``s.splits``) for the goals. rclone and aws download only."""
    url = f"s3://{BUCKET}/{BIG_KEY}"
    d = {who: s.place("stage-big", who) for who in ("ours", "boto3", "rclone", "aws")}
    s.splits["download"], s.splits["hash"] = [], []

    def boto3_download_and_hash() -> None:
        path = os.path.join(d["boto3"], "big.bin")
        started = time.perf_counter()
        s.client.download_file(BUCKET, BIG_KEY, path, Config=TransferConfig())
        middle = time.perf_counter()
        reference.hash_file(path)
        s.splits["download"].append(middle - started)
        s.splits["hash"].append(time.perf_counter() - middle)

    return {
        "ours": Task(lambda: stage_inputs({"big": {"url": url, "conn_id": CONN_ID}}, inputs_dir=d["ours"],
                                          progress_interval=0), reset=emptied(d["ours"])),
        "boto3": Task(boto3_download_and_hash, reset=emptied(d["boto3"])),
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: s.rclone.run("copy", f"{REMOTE}:{BUCKET}/{BIG_KEY}", d["rclone"], *_rclone_flags()),
            reset=emptied(d["rclone"]))),
        "aws": _peer(s.aws, lambda: Task(lambda: _aws(s.aws, "cp", url, f"{d['aws']}/big.bin"),
                                         reset=emptied(d["aws"]))),
        "boto3+": "-",
    }


def stage_small(s: Setting) -> dict[str, Task | str]:
    url = f"s3://{BUCKET}/{SMALL_PREFIX}"
    d = {who: s.place("stage-small", who) for who in ("ours", "boto3", "rclone", "aws")}
    return {
        "ours": Task(lambda: stage_inputs({"small": {"url": url + "*", "conn_id": CONN_ID}}, inputs_dir=d["ours"],
                                          progress_interval=0), reset=emptied(d["ours"])),
        "boto3": Task(lambda: reference.fetch_tree(s.client, BUCKET, SMALL_PREFIX, d["boto3"], only_changed=False,
                                                   threads=BOTO3_THREADS), reset=emptied(d["boto3"])),
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: s.rclone.run("copy", f"{REMOTE}:{BUCKET}/{SMALL_PREFIX}", d["rclone"], *_rclone_flags()),
            reset=emptied(d["rclone"]))),
        "aws": _peer(s.aws, lambda: Task(lambda: _aws(s.aws, "cp", "--recursive", url, d["aws"]),
                                         reset=emptied(d["aws"]))),
        "boto3+": "-",
    }


def snapshot_tree(s: Setting, source: str, task_id: str) -> dict[str, Task | str]:
    """Upload everything under ``source``: ours as a committed version (with the concurrency a task
    gets from ``[datastores]``), the others as plain copies."""
    store = open_store(f"s3://{UPLOADS}", conn_id=CONN_ID)
    files = sorted(os.listdir(source))

    def ours() -> None:
        producer = Producer(dag_id="bench-net", task_id=task_id, run_id=f"run-{time.time_ns()}")
        snapshot(source, store=store, producer=producer, max_concurrency=config.max_concurrency())

    def boto3_upload() -> None:
        if len(files) == 1:
            s.client.upload_file(os.path.join(source, files[0]), UPLOADS, f"boto3/{files[0]}", Config=TransferConfig())
        else:
            reference.put_tree(s.client, source, UPLOADS, "boto3/", threads=BOTO3_THREADS)

    def aws() -> None:
        if len(files) == 1:
            _aws(s.aws, "cp", os.path.join(source, files[0]), f"s3://{UPLOADS}/aws/{files[0]}")
        else:
            _aws(s.aws, "cp", "--recursive", source, f"s3://{UPLOADS}/aws/")

    def reset() -> None:
        empty_uploads(s.direct)

    def boto3_hashed() -> None:
        reference.upload_hashed(s.client, os.path.join(source, files[0]), UPLOADS, "ref/big.bin",
                                config=TransferConfig())

    return {
        "ours": Task(ours, reset=reset),
        "boto3": Task(boto3_upload, reset=reset),
        "boto3+": Task(boto3_hashed, reset=reset) if len(files) == 1 else "-",
        "rclone": _peer(s.rclone, lambda: Task(
            lambda: s.rclone.run("copy", source, f"{REMOTE}:{UPLOADS}/rclone", *_rclone_flags()), reset=reset)),
        "aws": _peer(s.aws, lambda: Task(aws, reset=reset)),
    }


def sweep_connections(s: Setting, *, big: bool) -> dict[str, Task | str]:
    """Ours alone at several ``max_connections``: where the default comes from. Many small objects wait
    on round trips (more connections, fewer waits) until the client's CPU bounds them; a large
    object's ranges add up until the hashing or the CPU does."""
    url = f"s3://{BUCKET}/{BIG_KEY}" if big else f"s3://{BUCKET}/{SMALL_PREFIX}*"
    tasks: dict[str, Task | str] = {}
    for count in SWEEP:
        d = s.place("sweep-big" if big else "sweep-small", str(count))
        tasks[f"ours-{count}"] = Task(lambda d=d, count=count: stage_inputs(
            {"x": {"url": url, "conn_id": CONN_ID}}, inputs_dir=d, progress_interval=0, max_connections=count,
            max_concurrency=count), reset=emptied(d))
    return tasks


#: The values of max_connections that --sweep measures.
SWEEP = (4, 8, 16, 32, 64)


# -- the whole profile -----------------------------------------------------------------------------

def _prepare(s: Setting) -> tuple[str, str]:
    big_dir, small_dir = seed(s.direct, work=os.path.join(s.work, "net"), big=s.big, small_count=s.small_count,
                              big_key=BIG_KEY, small_prefix=SMALL_PREFIX)
    # Untimed: ours' first imports and connection, and boto3's.
    scratch = s.place("warm-up", "ours")
    stage_inputs({"one": {"url": f"s3://{BUCKET}/{SMALL_PREFIX}00000.bin", "conn_id": CONN_ID}},
                 inputs_dir=os.path.join(scratch, "in"))
    s.client.download_file(BUCKET, f"{SMALL_PREFIX}00000.bin", os.path.join(scratch, "boto3.bin"))
    shutil.rmtree(scratch)
    return big_dir, small_dir


@dataclass
class NetworkRun:
    profile: Profile
    results: list[CaseResult]
    by_key: dict[str, CaseResult]
    headers: dict[str, str]
    footer: list[str]
    splits: dict[str, list[float]]
    sweeps: list[CaseResult] = field(default_factory=list)
    memory: tuple[int, int] | None = None  # (RSS before, peak RSS while) a process stages the large object

    def render(self, *, markdown: bool) -> str:
        text = render(self.results, self.headers, self.footer, markdown=markdown)
        if self.sweeps:
            headers = {f"ours-{count}": f"max_connections {count}" for count in SWEEP}
            text += "\n\n" + render(self.sweeps, headers, ["ours alone, min / median s; (Nx) against nothing"],
                                     markdown=markdown)
        return text

    def goals(self) -> Results:
        """The goals of issue 23, each a ratio of this run's times."""
        results = Results()
        print("Goals (network profile)", flush=True)
        big = self.by_key.get("stage-big")
        ours = big.outcomes["ours"] if big else None
        download, hashing = min(self.splits.get("download") or [0]), min(self.splits.get("hash") or [0])
        if big and ours.seconds and download and hashing:
            results.add("stage large: ours / (boto3 download + a hashing pass)",
                        f"{ours.best / big.outcomes['boto3'].best:.2f}x ({ours.best:.2f} s vs "
                        f"{download:.2f} + {hashing:.2f} s)", "<= 1.0x", ours.best <= big.outcomes["boto3"].best)
            slower = max(download, hashing)
            results.add("stage large: ours / the slower of boto3 download, one hashing pass",
                        f"{ours.best / slower:.2f}x (vs {slower:.2f} s)", "<= 1.3x", ours.best <= 1.3 * slower)
        for key, case in self.by_key.items():
            for peer in ("rclone", "aws"):
                ratio = case.ratio(peer)
                results.add(f"{case.name}: ours / {peer}", "n/a" if ratio is None else f"{ratio:.2f}x", "< 1x",
                            None if ratio is None else ratio < 1)
            if key.endswith("small"):
                for other in ("boto3", "rclone"):
                    ratio = case.ratio(other)
                    results.add(f"{case.name}: ours / {other}", "n/a" if ratio is None else f"{ratio:.2f}x",
                                "<= 1.1x", None if ratio is None else ratio <= 1.1)
        if self.memory:
            before, peak = self.memory
            results.add("peak memory staging the large object as parallel ranges",
                        f"+{human_size(peak - before)} ({human_size(peak)} process peak)", "<= 64 MiB",
                        peak - before <= 64 * 2**20)
        if "snapshot-big" in self.by_key:
            for other, what in (("boto3", "boto3 upload_file"), ("boto3+", "the same + CRC64NVME + hashes [b]")):
                ratio = self.by_key["snapshot-big"].ratio(other)
                results.add(f"snapshot large: ours / {what}", "n/a" if ratio is None else f"{ratio:.2f}x",
                            "<= 1.15x", None if ratio is None else ratio <= 1.15)
        return results


def run_network(*, work: str, big: int, small_count: int, repeat: int, profile: Profile, with_peers: bool = True,
                only: tuple[str, ...] = (), sweep: bool = False) -> NetworkRun:
    """Start SeaweedFS and the proxy, prepare the objects, run the cases, stop both.

    :param only: run only these cases (``stage-big``, ``stage-small``, ``snapshot-big``, ``snapshot-small``).
    :param sweep: also stage both with ``max_connections`` at each of :data:`SWEEP` (where the default
        comes from).
    """
    import json

    from tests.servers.seaweedfs import SeaweedFSServer

    server_dir = os.path.join(work, "seaweedfs")
    os.makedirs(server_dir, exist_ok=True)
    with SeaweedFSServer(log_dir=server_dir) as server, \
            Shaper(upstream_port=server.port, rate=profile.rate, rtt=profile.rtt) as shaper:
        clear_cache()
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": shaper.endpoint, "region_name": "us-east-1"},
        })
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        client = boto3.client("s3", endpoint_url=shaper.endpoint, config=Config(max_pool_connections=BOTO3_THREADS),
                              **keys)
        direct = boto3.client("s3", endpoint_url=server.endpoint, config=Config(max_pool_connections=16), **keys)
        if with_peers:
            rclone = peers.rclone(shaper.endpoint, work, remote=REMOTE)
            aws = peers.awscli(shaper.endpoint, work, concurrency=None)
        else:
            rclone, aws = (Peer(name, missing="left out (--no-peers)") for name in ("rclone", "aws"))
        s = Setting(client=client, direct=direct, work=work, big=big, small_count=small_count, rclone=rclone, aws=aws)
        print(f"Network profile: SeaweedFS behind the shaping proxy, {profile.describe()} ({repeat} runs each, "
              "interleaved)", flush=True)
        big_dir, small_dir = _prepare(s)
        small = f"{small_count} x 8 KiB"
        cases = [
            ("stage-big", f"stage {human_size(big)} + md5/sha1/sha256", lambda: stage_big(s)),
            ("stage-small", f"stage {small} + md5/sha1/sha256", lambda: stage_small(s)),
            ("snapshot-big", f"snapshot {human_size(big)}", lambda: snapshot_tree(s, big_dir, "big")),
            ("snapshot-small", f"snapshot {small}", lambda: snapshot_tree(s, small_dir, "small")),
        ]
        if sweep:
            cases += [("sweep-big", f"stage {human_size(big)}, by max_connections", lambda: sweep_connections(s, big=True)),
                      ("sweep-small", f"stage {small}, by max_connections", lambda: sweep_connections(s, big=False))]
        by_key = {}
        memory = None
        try:
            if not only or "stage-big" in only:
                memory = _peak_rss(dict(os.environ), f"s3://{BUCKET}/{BIG_KEY}", os.path.join(work, "net", "memory"))
                shutil.rmtree(os.path.join(work, "net", "memory"), ignore_errors=True)
            for key, name, tasks in cases:
                if only and key not in only and not key.startswith("sweep"):
                    continue
                by_key[key] = run_case(name, tasks(), repeat=repeat)
                shutil.rmtree(os.path.join(work, "net", key), ignore_errors=True)
        finally:
            shutil.rmtree(os.path.join(work, "net"), ignore_errors=True)
            clear_cache()
    titles = {"ours": "ours", "boto3": "boto3 transfer manager",
              "rclone": f"rclone {rclone.version} --transfers {RCLONE_TRANSFERS}".replace("  ", " "),
              "aws": f"aws-cli {aws.version}".strip(), "boto3+": "boto3 upload_file + CRC64NVME + hashes [b]"}
    footer = [
        f"SeaweedFS 4.48 on 127.0.0.1 behind bench/shaper.py: {profile.describe()}, a new connection waits one "
        f"round trip; {os.cpu_count()} cores shared by the server, the proxy and the client.",
        f"min / median of {repeat} interleaved runs; (Nx) = ours' min over that tool's min: below 1 ours is faster.",
        "ours: stage_inputs / snapshot with the [datastores] defaults (max_connections "
        f"{getattr(config, 'max_connections', lambda: 'n/a')()}); stage = download + md5/sha1/sha256 + the store's checksum checked.",
        "boto3: large stage = download_file (TransferConfig defaults: 10 threads, 8 MiB ranges) then one hashlib "
        f"pass for the three digests; small = list + get_object on {BOTO3_THREADS} threads, hashed in memory; "
        f"snapshot = upload_file (defaults) / put_object on {BOTO3_THREADS} threads.",
        f"rclone copy --transfers {RCLONE_TRANSFERS} (its defaults otherwise: 4 streams of a large file) and "
        "aws s3 cp (its defaults: 10 requests at once): download only, no hashes; each a new process.",
        "[b] what a snapshot delivers, by hand: upload_file (defaults) with a full-object CRC64NVME while two "
        "threads read the file for md5 and for sha1 + sha256.",
    ]
    sweeps = [by_key.pop(key) for key in ("sweep-big", "sweep-small") if key in by_key]
    return NetworkRun(profile, list(by_key.values()), by_key, titles, footer, s.splits, sweeps, memory)
