"""What every bench case shares (the bucket, the connection, the data, the results table) and the two
measurements that need a process or a store of their own: peak memory and the cost of verification."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3

from airflow_datastores.inputs.stage import stage_inputs
from airflow_datastores.stores.registry import open_store

BUCKET = "bench"
CONN_ID = "bench_s3"
BLOCK = os.urandom(8 * 2**20)


@dataclass
class Row:
    case: str
    value: str
    target: str
    ok: bool


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def add(self, case: str, value: str, target: str, ok: bool | None) -> None:
        """One row; ``ok`` is ``None`` where there is nothing to compare (a peer is missing, or a note)."""
        self.rows.append(Row(case, value, target, ok))
        print(f"  {case}: {value} (target {target}) {_verdict(ok)}", flush=True)

    def print(self, *, markdown: bool) -> None:
        print()
        if markdown:
            print("| case | measured | target | |")
            print("|---|---|---|---|")
            for r in self.rows:
                print(f"| {r.case} | {r.value} | {r.target} | {_verdict(r.ok).lower()} |")
            return
        width = max(len(r.case) for r in self.rows)
        for r in self.rows:
            print(f"{r.case.ljust(width)}  {r.value:>36}  target {r.target:<10} {_verdict(r.ok)}")


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else "met" if ok else "MISSED"


class RepeatReader(io.RawIOBase):
    """``size`` bytes made of a repeated random block, without holding them."""

    def __init__(self, size: int) -> None:
        self.remaining = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        n = len(BLOCK) if n is None or n < 0 else n
        n = min(n, self.remaining, len(BLOCK))
        self.remaining -= n
        return BLOCK[:n]


def timed(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _put_big(client, key: str, size: int) -> None:
    client.upload_fileobj(RepeatReader(size), BUCKET, key)


def _verification_cost(url: str, directory: str, rounds: int = 3) -> tuple[float, float]:
    """(best time verified, best time size only) of staging ``url``, runs interleaved: what checking
    the store's checksums (on the hash threads, in the same pass) adds."""
    from airflow_datastores.stores.base import Vouched

    store = open_store(f"s3://{BUCKET}", conn_id=CONN_ID).inner
    checked = store.vouched
    on, off = [], []
    for number in range(rounds):
        for times, vouched in ((on, checked), (off, lambda info, **_: Vouched(source="size"))):
            store.vouched = vouched
            target = os.path.join(directory, f"{number}-{len(times)}-{len(on) + len(off)}")
            times.append(timed(lambda t=target: stage_inputs({"big": {"url": url, "conn_id": CONN_ID}},
                                                             inputs_dir=t)))
            subprocess.run(["rm", "-rf", target], check=True)
    del store.vouched
    return min(on), min(off)


def _write_tree(directory: str, count: int, size: int) -> None:
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        with open(os.path.join(directory, f"part-{i:05d}.bin"), "wb") as handle:
            handle.write(BLOCK[i % 1000 : i % 1000 + size])


def _peak_rss(env: dict, url: str, inputs_dir: str) -> tuple[int, int]:
    """(RSS before staging, peak RSS while staging) of a fresh process that stages ``url``, in bytes.

    The peak is sampled from /proc every 10 ms during the staging only, so the imports' own peak does
    not hide it.
    """
    script = (
        "import threading, time\n"
        "from airflow_datastores.inputs import stage_inputs\n"
        "from airflow_datastores.stores.registry import open_store\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096\n"
        f"open_store('s3://{BUCKET}', conn_id='{CONN_ID}').stat({url.split('/', 3)[3]!r})\n"
        "base, peak, done = rss(), [0], threading.Event()\n"
        "def sample():\n"
        "    while not done.is_set():\n"
        "        peak[0] = max(peak[0], rss()); time.sleep(0.01)\n"
        "threading.Thread(target=sample, daemon=True).start()\n"
        f"stage_inputs({{'x': {{'url': {url!r}, 'conn_id': '{CONN_ID}'}}}}, inputs_dir={inputs_dir!r})\n"
        "done.set(); time.sleep(0.02)\n"
        "print(base, max(peak[0], rss()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    base, peak = out.stdout.split()[-2:]
    return int(base), int(peak)
