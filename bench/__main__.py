"""`make bench`: staging and snapshot speed as ratios against baselines measured in the same run.

Two profiles. ``localhost``: a real moto S3 server on 127.0.0.1 (started here, stopped at the end): first
ours side by side with a boto3 reference, rclone and the AWS CLI (installed when missing, see
bench/peers.py), then the targets (bench/targets.py), each a ratio from this run. ``network``: SeaweedFS
behind our shaping proxy (bench/shaper.py: a rate per connection and a round trip, as a cloud store
looks from a worker), ours beside the boto3 transfer manager, rclone and the AWS CLI on the four cases
of issue 23, then its goals (bench/network.py). ``--markdown`` prints the tables for the README. Sizes
can be reduced for a quick look: `python -m bench --big-mib 256 --small-count 1000 --huge-mib 512 --repeat 2`.
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

from bench import network, side_by_side, targets  # noqa: E402
from tests.servers.moto import MotoServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=("localhost", "network", "both"), default="both",
                        help="moto on 127.0.0.1, SeaweedFS behind the shaping proxy, or both (default)")
    parser.add_argument("--big-mib", type=int, default=1024, help="localhost: size of the large object (MiB)")
    parser.add_argument("--small-count", type=int, default=5000, help="localhost: number of 8 KiB objects")
    parser.add_argument("--huge-mib", type=int, default=4096, help="localhost: object for the peak-memory case (MiB)")
    parser.add_argument("--net-big-mib", type=int, default=512, help="network: size of the large object (MiB)")
    parser.add_argument("--net-small-count", type=int, default=500, help="network: number of 8 KiB objects")
    parser.add_argument("--rate", type=float, default=40e6, help="network: bytes per second per connection, each way")
    parser.add_argument("--rtt", type=float, default=0.020, help="network: round-trip time in seconds")
    parser.add_argument("--only", action="append", default=[], choices=("stage-big", "stage-small", "snapshot-big",
                                                                       "snapshot-small"),
                        help="network: run only this case (repeatable)")
    parser.add_argument("--sweep", action="store_true",
                        help="network: also stage at several max_connections (where the default comes from)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each interleaved case (min, median)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--no-peers", action="store_true", help="leave rclone and the AWS CLI out")
    parser.add_argument("--no-targets", action="store_true", help="localhost: the side-by-side table only")
    parser.add_argument("--no-scaling", action="store_true",
                        help="leave out the scaling runs (N/5, N, 4N files; big/4, big, 2 x big bytes)")
    args = parser.parse_args()

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="datastores-bench-") as work:
        os.environ["AIRFLOW_HOME"] = os.path.join(work, "airflow")
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        logging.getLogger("airflow_datastores").setLevel(logging.WARNING)  # 5,000 files' hash lines
        if args.profile in ("localhost", "both"):
            _localhost(args, work)
        if args.profile in ("network", "both"):
            run = network.run_network(work=work, big=args.net_big_mib * 2**20, small_count=args.net_small_count,
                                      repeat=args.repeat, profile=network.Profile(rate=args.rate, rtt=args.rtt),
                                      with_peers=not args.no_peers, only=tuple(args.only), sweep=args.sweep)
            goals = run.goals()
            goals.print(markdown=args.markdown)
            print()
            print(run.render(markdown=args.markdown))
    print(f"\n(all cases took {time.monotonic() - started:.0f} s on {os.cpu_count()} cores)")


def _localhost(args: argparse.Namespace, work: str) -> None:
    with MotoServer(log_dir=work) as server:
        os.environ["AIRFLOW_CONN_BENCH_S3"] = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": server.endpoint, "region_name": "us-east-1"},
        })
        big = args.big_mib * 2**20
        peers = side_by_side.run_all(endpoint=server.endpoint, work=work, big=big, small_count=args.small_count,
                                     repeat=args.repeat, with_peers=not args.no_peers)
        if not args.no_targets:
            results = targets.run_all(endpoint=server.endpoint, work=work, comparison=peers, big=big,
                                      small_count=args.small_count, huge=args.huge_mib * 2**20, repeat=args.repeat,
                                      scaling=not args.no_scaling)
            results.print(markdown=args.markdown)
            print()
        print(peers.render(markdown=args.markdown))


if __name__ == "__main__":
    main()
