"""A scrape: sync every target in parallel within the deadline, then describe what we know.

``Exporter.scrape()`` is the one place a scrape touches AWS. It starts (or joins) each target's
sync, waits for all of them together up to ``sync.deadline``, and returns a consistent view of
every target. A target whose sync is still running past the deadline is served from its last
known state, and its ``target_data_age_seconds`` says how old that is; the sync goes on in the
background and the next scrape gets its result.

The HTTP server renders a scrape with the cached text renderer (exposition.py).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric

from exporter.aws import ApiStats, BackupApi, make_client, make_limiter
from exporter.config import Config, TargetConfig
from exporter.metrics import (
    TargetHealth,
    aggregate_family,
    build_info_family,
    health_families,
    identity,
)
from exporter.model import RestoreJob
from exporter.ratelimit import RequestLimiter
from exporter.sync import TargetSnapshot, TargetSyncer

log = logging.getLogger(__name__)

ClientFactory = Callable[[TargetConfig, ApiStats], Any]


@dataclass(frozen=True)
class Scrape:
    """Everything one scrape shows, taken at one instant."""

    now: float
    snapshots: tuple[TargetSnapshot, ...]
    health: tuple[TargetHealth, ...]

    def exposed_jobs(self) -> Iterator[RestoreJob]:
        """Per-job series to expose: each job once, even if two targets both see it."""
        return _unique(snapshot.jobs for snapshot in self.snapshots)

    def all_jobs(self) -> Iterator[RestoreJob]:
        """Every job held, including those over the per-target cap, for the aggregate."""
        return _unique(snapshot.all_jobs for snapshot in self.snapshots)


def _unique(tables: Iterable[Mapping[str, RestoreJob]]) -> Iterator[RestoreJob]:
    seen: set[tuple[str, str, str, str]] = set()
    for table in tables:
        for job in table.values():
            key = identity(job)
            if key not in seen:
                seen.add(key)
                yield job


class _Target:
    def __init__(self, syncer: TargetSyncer, stats: ApiStats) -> None:
        self.syncer = syncer
        self.stats = stats


class Exporter:
    """Owns one syncer per target and the threads they sync on."""

    def __init__(
        self,
        config: Config,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._executor = ThreadPoolExecutor(
            max_workers=min(32, max(1, len(config.targets))), thread_name_prefix="sync"
        )
        self._targets: list[_Target] = []
        self._warned_slow: dict[int, Future[None] | None] = {}
        self._limiters: dict[str, RequestLimiter] = {}
        factory = client_factory or self._default_client_factory
        for target in config.targets:
            stats = ApiStats()
            api = BackupApi(functools.partial(factory, target, stats))
            syncer = TargetSyncer(
                target,
                api,
                config.sync,
                config.metrics,
                self._executor,
                describe_concurrency=config.rate_limit.describe_concurrency,
                list_concurrency=config.rate_limit.list_concurrency,
                clock=clock,
            )
            self._targets.append(_Target(syncer, stats))

    def _default_client_factory(self, target: TargetConfig, stats: ApiStats) -> Any:
        # One limiter per target for the process's life, even when its client is rebuilt.
        limiter = self._limiters.setdefault(target.name, make_limiter(self.config.rate_limit))
        return make_client(target, self.config.aws, self.config.rate_limit, stats, limiter)

    @property
    def syncers(self) -> Sequence[TargetSyncer]:
        return [target.syncer for target in self._targets]

    def api_requests(self, operation: str | None = None, outcome: str | None = None) -> int:
        """HTTP requests sent to AWS so far over all targets, optionally of one kind."""
        return sum(
            count
            for target in self._targets
            for (op, result), count in target.stats.snapshot().items()
            if operation in (None, op) and outcome in (None, result)
        )

    def scrape(self) -> Scrape:
        started = time.monotonic()
        finished: dict[int, float] = {}
        lock = threading.Lock()
        pending: list[Future[None]] = []
        futures: dict[int, Future[None]] = {}
        for index, target in enumerate(self._targets):
            future = target.syncer.refresh()
            if future is None:
                finished[index] = started
                continue
            futures[index] = future

            def mark(_: Future[None], index: int = index) -> None:
                with lock:
                    finished.setdefault(index, time.monotonic())

            future.add_done_callback(mark)
            pending.append(future)
        deadline = self.config.sync.deadline_seconds
        if pending:
            wait(pending, timeout=deadline)
        cutoff = time.monotonic()
        now = self._clock()
        snapshots = []
        health = []
        for index, target in enumerate(self._targets):
            snapshot = target.syncer.snapshot()
            snapshots.append(snapshot)
            with lock:
                done = finished.get(index, cutoff)
            if snapshot.syncing and index not in finished:
                # One warning per slow sync, not one per scrape that finds it still running.
                first_time = self._warned_slow.get(index) is not futures.get(index)
                self._warned_slow[index] = futures.get(index)
                log.log(
                    logging.WARNING if first_time else logging.DEBUG,
                    "target %s: sync still running after the %.1fs deadline; serving data %s",
                    snapshot.target.name,
                    deadline,
                    f"that is {now - snapshot.data_timestamp:.0f}s old"
                    if snapshot.data_timestamp
                    else "(none yet)",
                )
            health.append(
                TargetHealth(
                    name=snapshot.target.name,
                    region=snapshot.target.region,
                    up=snapshot.up,
                    down_reason=snapshot.down_reason,
                    scrape_seconds=max(0.0, min(done, cutoff) - started),
                    data_age_seconds=(
                        None
                        if snapshot.data_timestamp is None
                        else max(0.0, now - snapshot.data_timestamp)
                    ),
                    jobs=len(snapshot.all_jobs),
                    jobs_dropped=snapshot.jobs_dropped,
                    api_requests=target.stats.snapshot(),
                    syncs=dict(target.syncer.stats.runs),
                    lookup_errors=dict(snapshot.lookup_errors),
                )
            )
        return Scrape(now, tuple(snapshots), tuple(health))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def non_job_families(scrape: Scrape) -> list[Metric]:
    """The families that are not per job: the aggregate (always there, so that alerting need
    not touch per-job series), the exporter's health and its build info."""
    return [
        aggregate_family(scrape.all_jobs()),
        *health_families(scrape.health),
        build_info_family(),
    ]
