"""The fake AWS Backup's injected latency, measured: one request, then eight at once.

The benchmarks rely on the latency being slept in each request's own thread, so that concurrent
requests overlap as they do against AWS. This prints the figures; it asserts nothing.

    python bench/fake_latency.py [--latency 0.2] [--concurrent 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from exporter.demo.fake_backup import FakeBackup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added per request")
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()
    fake = FakeBackup(latency=args.latency)
    with fake.serving() as url:
        clients = [
            boto3.client(
                "backup",
                region_name="us-east-1",
                endpoint_url=url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for _ in range(args.concurrent)
        ]
        started = time.monotonic()
        clients[0].list_restore_jobs(MaxResults=1)
        one = time.monotonic() - started
        with ThreadPoolExecutor(args.concurrent) as pool:
            started = time.monotonic()
            list(pool.map(lambda client: client.list_restore_jobs(MaxResults=1), clients))
            together = time.monotonic() - started
    print(
        f"latency {args.latency:.3f} s: one request {one:.3f} s, {args.concurrent} at once "
        f"{together:.3f} s (serial would be {args.concurrent * args.latency:.3f} s)"
    )
    print(
        f"command: python bench/fake_latency.py --latency {args.latency} "
        f"--concurrent {args.concurrent}"
    )


if __name__ == "__main__":
    main()
