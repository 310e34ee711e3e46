"""`make bench`: staging and snapshot speed as ratios against baselines measured in the same run.

Runs against a real moto S3 server on 127.0.0.1 (started here, stopped at the end): first ours side by
side with a boto3 reference, rclone and the AWS CLI (installed when missing, see bench/peers.py), then
the targets (bench/targets.py), each a ratio from this run. Prints the targets table and the side-by-side
table; `--markdown` prints both for the README. Sizes can be reduced for a quick look:
`python -m bench --big-mib 256 --small-count 1000 --huge-mib 512 --repeat 2`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench import side_by_side, targets  # noqa: E402
from tests.servers.moto import MotoServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large object (MiB)")
    parser.add_argument("--small-count", type=int, default=5000, help="number of 8 KiB objects")
    parser.add_argument("--huge-mib", type=int, default=4096, help="object for the peak-memory case (MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each interleaved case (min, median)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--no-peers", action="store_true", help="leave rclone and the AWS CLI out")
    parser.add_argument("--no-scaling", action="store_true",
                        help="leave out the scaling runs (N/5, N, 4N files; big/4, big, 2 x big bytes)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="datastores-bench-") as work, MotoServer(log_dir=work) as server:
        os.environ["AIRFLOW_HOME"] = os.path.join(work, "airflow")
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        os.environ["AIRFLOW_CONN_BENCH_S3"] = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": server.endpoint, "region_name": "us-east-1"},
        })
        logging.getLogger("airflow_datastores").setLevel(logging.WARNING)  # 5,000 files' hash lines
        started = time.monotonic()
        big = args.big_mib * 2**20
        peers = side_by_side.run_all(endpoint=server.endpoint, work=work, big=big, small_count=args.small_count,
                                     repeat=args.repeat, with_peers=not args.no_peers)
        results = targets.run_all(endpoint=server.endpoint, work=work, comparison=peers, big=big,
                                  small_count=args.small_count, huge=args.huge_mib * 2**20, repeat=args.repeat,
                                  scaling=not args.no_scaling)
        results.print(markdown=args.markdown)
        print()
        print(peers.render(markdown=args.markdown))
        print(f"\n(all cases took {time.monotonic() - started:.0f} s on {os.cpu_count()} cores)")

if __name__ == "__main__":
    main()
