"""Serve the fake AWS Backup (exporter/demo/fake_backup) alone, to point an exporter at by hand.

The same fake the benchmarks, the tests and ``--demo`` use: a seeded population of restore jobs
(``generate_jobs``), moved along every ``--tick`` seconds, with ``--latency`` added to every
request::

    python bench/fake_backup.py --jobs 1000 --latency 0.05 --port 8080

``FakeBackup``, ``generate_jobs`` and ``serve`` stay importable from here for bench scripts that
import them under these names.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: find exporter/
    sys.path.insert(0, str(ROOT))

from exporter.demo.fake_backup import FakeBackup, generate_jobs  # noqa: E402

__all__ = ["FakeBackup", "generate_jobs", "main", "serve"]


@contextmanager
def serve(fake: FakeBackup, port: int = 0) -> Iterator[str]:
    """``fake.serving(port)``: serve on 127.0.0.1 (a free port by default); yield the URL."""
    with fake.serving(port) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tick", type=float, default=15.0, help="seconds between tick()s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fake = FakeBackup(latency=args.latency)
    fake.reset(generate_jobs(args.jobs, seed=args.seed), seed=args.seed)
    with serve(fake, args.port) as url:
        print(f"fake AWS Backup with {args.jobs} restore jobs at {url} (Ctrl-C stops)")
        try:
            while True:
                time.sleep(args.tick)
                fake.tick()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
