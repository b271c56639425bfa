"""The naive baseline: on every scrape, list every job in the window and format it all again.

This is the exporter one writes first: a prometheus-client collector whose ``collect()`` pages
through ListRestoreJobs for the whole lookback window and builds every family from scratch, served
by prometheus-client's own WSGI app (``generate_latest``, gzip when asked). It exposes the same
series as the real exporter (it builds them with the same ``exporter.metrics`` functions), so the
two differ only in how they get and format the data: no incremental sync, no single flight, no
rate limiting, no cached text. Concurrent scrapes each list everything.

Like the real exporter it creates its boto3 client at the first scrape, so that "cold scrape"
means the same thing for both. Run it alone against the fake::

    python bench/naive_exporter.py --endpoint http://127.0.0.1:8080 --listen 127.0.0.1:9799
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotocoreConfig
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

if __package__ in (None, ""):  # run as a script from a checkout: find the exporter package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exporter.families import RenderContext, metrics
from exporter.job_families import AGGREGATE_FAMILY, JOB_FAMILIES, job_groups
from exporter.model import RestoreJob

PAGE_SIZE = 1000


class NaiveCollector(Collector):
    """Everything in the window, listed and built again at every collect()."""

    def __init__(
        self, endpoint_url: str | None, region: str, lookback_seconds: float = 86400.0
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.lookback_seconds = lookback_seconds
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = boto3.client(
                    "backup",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=BotocoreConfig(retries={"mode": "standard", "total_max_attempts": 4}),
                )
            return self._client

    def describe(self) -> list[Metric]:
        return []  # registering must not call AWS

    def jobs(self) -> list[RestoreJob]:
        paginator = self.client.get_paginator("list_restore_jobs")
        since = time.time() - self.lookback_seconds
        jobs = []
        for page in paginator.paginate(
            ByCreatedAfter=since, PaginationConfig={"PageSize": PAGE_SIZE}
        ):
            jobs.extend(RestoreJob.from_api(item, self.region) for item in page["RestoreJobs"])
        return jobs

    def collect(self) -> Iterator[Metric]:
        jobs = self.jobs()
        context = RenderContext(time.time(), 256)
        yield from metrics(JOB_FAMILIES, jobs, context)
        yield AGGREGATE_FAMILY.metric(job_groups(jobs), context)


def make_app(endpoint_url: str | None, region: str = "us-east-1") -> Any:
    """prometheus-client's WSGI app over a registry holding only the naive collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NaiveCollector(endpoint_url, region))
    return make_wsgi_app(registry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="AWS Backup endpoint URL")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--listen", default="127.0.0.1:9799")
    args = parser.parse_args()
    from exporter.http import make_http_server

    server = make_http_server(make_app(args.endpoint, args.region), args.listen)
    print(f"naive exporter on http://{args.listen}/metrics (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
