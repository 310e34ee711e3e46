"""The targets of `make bench`, each a ratio measured in this run: ours against the boto3 reference and
the peers (from the side-by-side cases), against a bare listing and a HEAD, against our own smaller
runs (scaling) and against a bare Python start (the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from airflow_datastores.inputs.cache import InputCache
from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store
from airflow_datastores.units import human_size
from airflow_datastores.versions import Producer, snapshot
from bench import reference
from bench.cases import (
    BLOCK,
    BUCKET,
    CONN_ID,
    RepeatReader,
    Results,
    _client,
    _peak_rss,
    _put_big,
    _verification_cost,
    timed,
)
from bench.interleave import Task, run_case
from bench.side_by_side import BIG_KEY, SMALL_PREFIX, UPLOADS, Comparison, emptied, empty_uploads, ours_rerun_task

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A whole staging process, as a scheduler would start one for a task's inputs.
STAGE_PROCESS = (
    "import sys\n"
    "from airflow_datastores.inputs import stage_inputs\n"
    "stage_inputs({'big': {'url': sys.argv[1], 'conn_id': sys.argv[2]}}, inputs_dir=sys.argv[3])\n"
)


def _ratio(results: Results, case: str, value: float | None, target: float, *, what: str, strict: bool = False) -> None:
    """A row ``ours / what = value``; met when ``value <= target`` (``< target`` when ``strict``)."""
    if value is None:
        results.add(case, f"n/a ({what} did not run)", f"{'<' if strict else '<='} {target}x", None)
        return
    ok = value < target if strict else value <= target
    results.add(case, f"{value:.2f}x {what}", f"{'<' if strict else '<='} {target}x", ok)


def _peers(results: Results, comparison: Comparison, big: int, small: str) -> None:
    """Items 1-4 where the side-by-side cases measured them."""
    for key, label in (("snapshot-big", f"snapshot {human_size(big)}"), ("snapshot-small", f"snapshot {small}")):
        _ratio(results, f"{label}: ours / boto3", comparison.ratio(key, "boto3"), 1.15, what="boto3 upload")
        _ratio(results, f"{label}: ours / aws s3 cp", comparison.ratio(key, "aws"), 1.0, what="aws", strict=True)
        _ratio(results, f"{label}: ours / rclone copy", comparison.ratio(key, "rclone"), 1.0, what="rclone",
               strict=True)
    _ratio(results, f"stage {human_size(big)} in process: ours / boto3 one GET + 2 hash threads",
           comparison.ratio("stage-big-one-get", "boto3"), 1.1, what="reference")
    _ratio(results, f"stage {small}: ours / rclone", comparison.ratio("stage-small", "rclone"), 1.0, what="rclone")


def _snapshot_with_hashes(results: Results, s3, source: str, repeat: int) -> None:
    """A snapshot must also record md5, sha1 and sha256, and leaves a full-object CRC64NVME: ours beside
    an upload with that checksum and the digests computed on two threads while it runs, the like-for-like
    reference for what a snapshot delivers. (boto3's default is a composite CRC32, which a reader can only
    check part by part; on moto a full-object checksum costs the server two more copies of the object
    at the commit.)"""
    store = open_store(f"s3://{UPLOADS}", conn_id=CONN_ID)
    path = os.path.join(source, os.listdir(source)[0])
    tasks = {
        "ours": Task(lambda: snapshot(source, store=store, max_concurrency=8, producer=Producer(
            dag_id="bench", task_id="hashes", run_id=f"run-{time.time_ns()}")), reset=lambda: empty_uploads(s3)),
        "boto3": Task(lambda: reference.upload_hashed(s3, path, UPLOADS, "ref/big.bin"), reset=lambda: empty_uploads(s3)),
    }
    case = run_case("snapshot with md5/sha1/sha256", tasks, repeat=repeat)
    _ratio(results, f"snapshot {human_size(os.path.getsize(path))}: ours / boto3 upload, CRC64NVME + hashes beside it",
           case.ratio("boto3"), 1.15, what="reference")


def _whole_process(results: Results, endpoint: str, work: str, repeat: int) -> None:
    """Item 2: a process that stages the large object, start to end, against the reference process."""
    ours_dir, ref_dir = os.path.join(work, "process", "ours"), os.path.join(work, "process", "ref")
    url = f"s3://{BUCKET}/{BIG_KEY}"
    ours_cmd = [sys.executable, "-c", STAGE_PROCESS, url, CONN_ID, ours_dir]
    ref_cmd = [sys.executable, "-m", "bench.reference", endpoint, BUCKET, BIG_KEY, os.path.join(ref_dir, "big.bin")]

    def run(command: list[str]) -> None:
        subprocess.run(command, check=True, cwd=REPO, env=os.environ.copy(), capture_output=True)

    tasks = {"ours": Task(lambda: run(ours_cmd), setup=emptied(ours_dir), reset=emptied(ours_dir)),
             "boto3": Task(lambda: run(ref_cmd), setup=emptied(ref_dir), reset=emptied(ref_dir))}
    case = run_case("whole process: stage the large object", tasks, repeat=repeat)
    _ratio(results, "stage it, whole process: ours / boto3 process",
           case.ratio("boto3"), 1.5, what="reference process")
    imports = min(timed(lambda: run([sys.executable, "-c", "import airflow"])) for _ in range(3))
    bare = min(timed(lambda: run([sys.executable, "-c", "import boto3"])) for _ in range(3))
    results.add("  of which Airflow's import (S3Hook needs it)", f"{imports:.2f} s (python + boto3: {bare:.2f} s)",
                "-", None)


def _rerun_vs_listing(results: Results, s3, work: str, small_count: int, repeat: int) -> None:
    """Item 4: an unchanged rerun of the small objects against a bare listing of their prefix."""
    d, cache = os.path.join(work, "rerun", "in"), InputCache(directory=os.path.join(work, "rerun", "cache"),
                                                              max_bytes=64 * 2**30)
    spec = {"small": {"url": f"s3://{BUCKET}/{SMALL_PREFIX}*", "conn_id": CONN_ID}}

    def listing() -> None:
        for _page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=SMALL_PREFIX):
            pass

    tasks = {"ours": ours_rerun_task(spec, d, cache),
             "boto3": Task(listing)}
    case = run_case("rerun against a bare listing", tasks, repeat=repeat)
    _ratio(results, f"rerun {small_count} x 8 KiB unchanged: ours / bare listing",
           case.ratio("boto3"), 1.2, what="listing")


def _rerun_vs_head(results: Results, s3, work: str, big: int) -> None:
    """Item 4: an unchanged rerun of the large object against one HEAD of it. Each takes a few
    milliseconds, so 40 interleaved rounds, where the side-by-side table's few cannot tell."""
    d, cache = os.path.join(work, "rerun-one", "in"), InputCache(directory=os.path.join(work, "rerun-one", "cache"),
                                                                  max_bytes=64 * 2**30)
    spec = {"big": {"url": f"s3://{BUCKET}/{BIG_KEY}", "conn_id": CONN_ID}}

    tasks = {"ours": ours_rerun_task(spec, d, cache),
             "boto3": Task(lambda: s3.head_object(Bucket=BUCKET, Key=BIG_KEY))}
    case = run_case("rerun of one object against a HEAD", tasks, repeat=40, quiet=True)
    ours, ref = case.outcomes["ours"], case.outcomes["boto3"]
    _ratio(results, f"rerun {human_size(big)} unchanged: ours / HEAD (min of 40)",
           case.ratio("boto3"), 1.2, what="HEAD")
    if ours.seconds and ref.seconds:
        results.add("  medians", f"{ours.median * 1000:.2f} ms vs {ref.median * 1000:.2f} ms "
                    f"({ours.median / ref.median:.2f}x)", "-", None)


def _cli(results: Results, work: str, repeat: int) -> None:
    """Item 6: `airflow-datastores versions` on a local store against `python -c "import boto3"`."""
    root = os.path.join(work, "cli-store")
    outputs = os.path.join(work, "cli-out")
    os.makedirs(outputs, exist_ok=True)
    with open(os.path.join(outputs, "a.txt"), "w") as handle:
        handle.write("a")
    snapshot(outputs, store=open_store(f"file://{root}"), producer=Producer(dag_id="d", task_id="t", run_id="r1"))
    cli = os.path.join(os.path.dirname(sys.executable), "airflow-datastores")
    run = lambda *command: subprocess.run(list(command), check=True, capture_output=True)  # noqa: E731
    tasks = {"ours": Task(lambda: run(cli, "versions", "--store", f"file://{root}")),
             "boto3": Task(lambda: run(sys.executable, "-c", "import boto3"))}
    case = run_case("CLI start", tasks, repeat=max(repeat, 3))
    _ratio(results, "`airflow-datastores versions`, local store: ours / python -c 'import boto3'",
           case.ratio("boto3"), 2.0, what="python + boto3")


def _linear(results: Results, label: str, points: list[tuple[str, float]], unit: str) -> None:
    """Time per unit at each size; linear when the largest is within 1.25x of the smallest."""
    spread = max(p for _, p in points) / min(p for _, p in points)
    shown = ", ".join(f"{size}: {per * 1000:.2f} ms/{unit}" if unit == "file" else f"{size}: {per:.2f} s/{unit}"
                      for size, per in points)
    results.add(label, f"{spread:.2f}x spread ({shown})", "<= 1.25x", spread <= 1.25)


def _scaling(results: Results, s3, work: str, big: int, small_count: int) -> None:
    """Item 5: staging time per file at three counts and per GiB at three sizes (one run each)."""
    points = []
    for count in (max(small_count // 5, 1), small_count, small_count * 4):
        prefix = f"scale/{count}/"
        with ThreadPoolExecutor(8) as pool:  # within the client's 10 connections
            list(pool.map(lambda i, p=prefix: s3.put_object(Bucket=BUCKET, Key=f"{p}{i:06d}.bin",
                                                            Body=BLOCK[i % 1000: i % 1000 + 8192]), range(count)))
        inputs_dir = os.path.join(work, "scale", str(count))
        seconds = timed(lambda p=prefix, d=inputs_dir: stage_inputs(
            {"s": {"url": f"s3://{BUCKET}/{p}*", "conn_id": CONN_ID}}, inputs_dir=d))
        print(f"    {count} files: {seconds:.1f} s", flush=True)
        points.append((f"{count}", seconds / count))
        emptied(inputs_dir)()
        _delete_prefix(s3, prefix)
    _linear(results, "stage N x 8 KiB, N = " + " / ".join(p for p, _ in points), points, "file")

    points = []
    inputs_dir = os.path.join(work, "scale", "bytes")
    for size in (big // 4, big, big * 2):
        key = f"scale/{size}.bin"
        _put_big(s3, key, size)
        seconds = timed(lambda k=key, d=inputs_dir: stage_inputs(
            {"b": {"url": f"s3://{BUCKET}/{k}", "conn_id": CONN_ID}}, inputs_dir=d))
        print(f"    {human_size(size)}: {seconds:.1f} s", flush=True)
        points.append((human_size(size), seconds / (size / 2**30)))
        emptied(inputs_dir)()
        s3.delete_object(Bucket=BUCKET, Key=key)
    _linear(results, "stage one object of " + " / ".join(p for p, _ in points), points, "GiB")


def _memory(results: Results, s3, work: str, big: int, huge: int) -> None:
    """Item 5: peak memory of a process staging ``huge`` bytes, and against ``big``."""
    url = f"s3://{BUCKET}/{BIG_KEY}"
    _put_big(s3, "huge.bin", huge)
    env = dict(os.environ)
    base_big, peak_big = _peak_rss(env, url, os.path.join(work, "mem-big"))
    base_huge, peak_huge = _peak_rss(env, f"s3://{BUCKET}/huge.bin", os.path.join(work, "mem-huge"))
    s3.delete_object(Bucket=BUCKET, Key="huge.bin")
    used = peak_huge - base_huge
    results.add(f"peak memory staging {human_size(huge)}",
                f"+{human_size(used)} while staging ({human_size(peak_huge)} process peak)", "<= 200 MiB",
                used <= 200 * 2**20)
    results.add(f"memory {human_size(huge)} vs {human_size(big)}",
                f"+{human_size(used)} vs +{human_size(peak_big - base_big)}", "flat",
                used < 1.25 * (peak_big - base_big) + 16 * 2**20)


def _verification(results: Results, work: str, big: int) -> None:
    """What checking the store's checksums costs (issue 11), on an SDK upload and on ours."""
    store = open_store(f"s3://{BUCKET}", conn_id=CONN_ID)
    store.write("ours.bin", RepeatReader(big))  # as a snapshot writes it: a full-object CRC64NVME
    for key, what in ((BIG_KEY, "SDK upload, composite CRC32"), ("ours.bin", "our upload, CRC64NVME")):
        t_on, t_off = _verification_cost(f"s3://{BUCKET}/{key}", os.path.join(work, "verify"), rounds=2)
        results.add(f"stage {human_size(big)} ({what}): verified / size only", f"{t_on / t_off:.3f}x "
                    f"({t_on:.1f} s vs {t_off:.1f} s)", "<= 1.05x", t_on / t_off <= 1.05)
    store.delete("ours.bin")


def _delete_prefix(s3, prefix: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def run_all(*, endpoint: str, work: str, comparison: Comparison, big: int, small_count: int, huge: int,
            repeat: int, scaling: bool = True) -> Results:
    """Every target of issue 15 that this run can measure, in the issue's order."""
    results = Results()
    s3 = _client(endpoint)
    print("Targets", flush=True)
    _peers(results, comparison, big, f"{small_count} x 8 KiB")
    source = os.path.join(work, "hashes-source")
    os.makedirs(source, exist_ok=True)
    with open(os.path.join(source, "big.bin"), "wb") as handle:
        reader = RepeatReader(big)
        while chunk := reader.read():
            handle.write(chunk)
    _snapshot_with_hashes(results, s3, source, repeat)
    emptied(source)()
    _whole_process(results, endpoint, work, repeat)
    _rerun_vs_listing(results, s3, work, small_count, repeat)
    _rerun_vs_head(results, s3, work, big)
    if scaling:
        _scaling(results, s3, work, big, small_count)
    _memory(results, s3, work, big, huge)
    _cli(results, work, repeat)
    _verification(results, work, big)
    return results
