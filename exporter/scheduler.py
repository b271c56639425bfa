"""A scrape: sync every target in parallel within the deadline, then take one consistent view.

``Exporter.scrape()`` is the one place a scrape touches AWS. It starts (or joins) each target's
sync, waits for all of them together up to ``sync.deadline``, and returns a consistent view of
every target. A target whose sync is still running past the deadline is served from its last
known state, and its ``target_data_age_seconds`` says how old that is; the sync goes on in the
background and the next scrape gets its result.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from exporter.aws_client import ApiStats, BackupClient, identity_of, make_client, make_limiter
from exporter.aws_sessions import AwsSessions
from exporter.background import BackgroundSync
from exporter.backup_api import BackupApi
from exporter.blocks import BlockCache
from exporter.config import Config, TargetConfig
from exporter.job_summaries import JobSummariesSource
from exporter.organization import OrganizationApi, OrganizationTargets
from exporter.priority import ScrapesFirst
from exporter.protected_resources import ProtectedResourcesSource
from exporter.ratelimit import RequestLimiter
from exporter.restore_jobs import RestoreJobsSource
from exporter.restore_testing import RestoreTestingSource
from exporter.store import Scrape, TargetHealth, TargetSnapshot
from exporter.sync import TargetSync
from exporter.targets import CombinedTargets, Shard, StaticTargets, TargetSource

log = logging.getLogger(__name__)

ClientFactory = Callable[[TargetConfig, ApiStats], BackupClient]
MAX_SYNC_THREADS = 32
MAX_REQUEST_THREADS = 48  # with 16 syncs, 64 threads for AWS: well under the 100 of issue 9


@dataclass(frozen=True)
class _Target:
    sync: TargetSync
    stats: ApiStats


class Exporter:
    """Owns one sync per target, the threads they run on, and the scrape that waits for them."""

    def __init__(
        self,
        config: Config,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], float] = time.time,
        targets: TargetSource | None = None,
        shard: Shard | None = None,
        sessions: AwsSessions | None = None,
        schedule_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._factory = client_factory or self._default_client_factory
        organization = config.organization
        self._sessions = sessions or AwsSessions(
            organization.sts_concurrency if organization else 4
        )
        self._stop = threading.Event()
        self.discoveries: tuple[OrganizationTargets, ...] = ()
        if targets is None and organization is not None:
            api = OrganizationApi(organization, config.aws, self._sessions)
            self.discoveries = (OrganizationTargets(organization, api, clock),)
        self.shard = shard or Shard()
        self._target_source = targets or CombinedTargets(
            [StaticTargets(config.targets), *self.discoveries], self.shard
        )
        workers = _sync_workers(config)
        per_sync = max(config.rate_limit.list_concurrency, config.rate_limit.describe_concurrency)
        self._sync_pool = ThreadPoolExecutor(workers, thread_name_prefix="sync")
        self._request_pool = ThreadPoolExecutor(
            min(MAX_REQUEST_THREADS, workers * per_sync), thread_name_prefix="request"
        )
        self._lock = threading.Lock()
        self._targets: dict[str, _Target] = {}
        self._warned_slow: dict[str, Future[None] | None] = {}
        self._limiters: dict[str, RequestLimiter] = {}
        # The per-job text of every target, shared with /metrics (http.py); in background mode
        # each sync pre-renders its target's, so that scrapes only join it.
        self.blocks = (
            BlockCache(config.metrics.message_max_length) if config.metrics.per_job else None
        )
        # In background mode, syncs give way while a scrape renders (priority.py).
        self.scrapes_first = ScrapesFirst()
        self.background: BackgroundSync | None = None
        if config.sync.interval_seconds is not None:
            self.background = BackgroundSync(
                config.sync.interval_seconds, self._current_syncs, schedule_clock
            )
        self._reconcile()

    def start(self) -> None:
        """Start the background work: discovery, and the sync schedule in background mode.
        Without it (tests), targets sync on the scrape or when ``background.tick()`` is called."""
        for discovery in self.discoveries:
            _daemon(f"discovery-{discovery.name}", discovery.run, self._stop)
        if self.background is not None:
            _daemon("sync-schedule", self.background.run, self._stop)

    def _current_syncs(self) -> list[TargetSync]:
        return [target.sync for target in self._reconcile()]

    def _default_client_factory(self, target: TargetConfig, stats: ApiStats) -> BackupClient:
        # One limiter per target for the process's life, even when its client is rebuilt.
        limiter = self._limiters.setdefault(target.name, make_limiter(self.config.rate_limit))
        give_way = self.scrapes_first.give_way if self.background is not None else None
        return make_client(
            target, self.config.aws, self.config.rate_limit, stats, limiter, self._sessions,
            give_way,
        )  # fmt: skip

    def _reconcile(self) -> list[_Target]:
        """Bring the syncs in line with the target source: new targets start, gone ones leave."""
        wanted = {target.name: target for target in self._target_source.targets()}
        with self._lock:
            for name, known in list(self._targets.items()):
                now_wanted = wanted.get(name)
                # identity first: the target source hands out the same configs until they change
                if now_wanted is not known.sync.target and now_wanted != known.sync.target:
                    del self._targets[name]
            for name, target in wanted.items():
                if name not in self._targets:
                    self._targets[name] = self._new_target(target)
            return [self._targets[name] for name in wanted]

    def _new_target(self, target: TargetConfig) -> _Target:
        stats = ApiStats()
        identity = identity_of(target)
        api = BackupApi(
            functools.partial(self._factory, target, stats),
            on_reset=lambda: self._sessions.forget(identity),
        )
        config = self.config
        source = RestoreJobsSource(
            target, api, config.sync, config.rate_limit, self._request_pool, self._clock
        )
        testing = target.restore_testing
        sync = TargetSync(
            source,
            config.sync,
            config.metrics,
            self._sync_pool,
            self._clock,
            RestoreTestingSource(target, api, config.sync, self._clock)
            if testing.enabled
            else None,
            ProtectedResourcesSource(target, api, self._clock)
            if testing.enabled and testing.protected_resources
            else None,
            JobSummariesSource(target, api, self._clock)
            if target.restore_job_summaries.enabled
            else None,
        )
        if self.background is not None and self.blocks is not None:
            blocks, clock, first = self.blocks, self._clock, self.scrapes_first

            def prepare(snapshot: TargetSnapshot) -> None:
                first.give_way()
                blocks.prepare(snapshot.target.name, snapshot.jobs, clock(), snapshot.all_jobs)

            sync.after_sync = prepare
        return _Target(sync, stats)

    @property
    def syncers(self) -> Sequence[TargetSync]:
        with self._lock:
            return [target.sync for target in self._targets.values()]

    def api_requests(self, operation: str | None = None, outcome: str | None = None) -> int:
        """HTTP requests sent to AWS so far over all targets, optionally of one kind."""
        with self._lock:
            targets = list(self._targets.values())
        return sum(
            count
            for target in targets
            for (op, result), count in target.stats.snapshot().items()
            if operation in (None, op) and outcome in (None, result)
        )

    def scrape(self) -> Scrape:
        """Refresh every target up to the deadline (in background mode: none), then one view
        of all of them."""
        targets = self._reconcile()
        started = time.monotonic()
        waits = _Waits(started)
        if self.background is None:
            futures = {
                t.sync.target.name: waits.track(t.sync.target.name, t.sync.refresh())
                for t in targets
            }
            waits.wait(self.config.sync.deadline_seconds)
        else:
            futures = {}
        cutoff, now = time.monotonic(), self._clock()
        snapshots, health = [], []
        for target in targets:
            snapshot = target.sync.snapshot()
            name = snapshot.target.name
            if self.background is None and snapshot.syncing and not waits.finished(name):
                self._warn_slow(snapshot, futures.get(name), now)
            snapshots.append(snapshot)
            seconds = max(0.0, min(waits.done_at(name, started), cutoff) - started)
            health.append(_health(snapshot, target, seconds, now))
        discovery = tuple(d.status() for d in self.discoveries)
        return Scrape(now, tuple(snapshots), tuple(health), discovery=discovery)

    def _warn_slow(self, snapshot: TargetSnapshot, future: Future[None] | None, now: float) -> None:
        """One warning per slow sync, not one per scrape that finds it still running."""
        name = snapshot.target.name
        first_time = self._warned_slow.get(name) is not future
        self._warned_slow[name] = future
        age = snapshot.data_timestamp
        log.log(
            logging.WARNING if first_time else logging.DEBUG,
            "target %s: sync still running after the %.1fs deadline; serving data %s",
            name,
            self.config.sync.deadline_seconds,
            f"that is {now - age:.0f}s old" if age else "(none yet)",
        )

    def close(self) -> None:
        self._stop.set()
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        self._request_pool.shutdown(wait=False, cancel_futures=True)


class _Waits:
    """When each target's sync finished during one scrape (or that it needed none)."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._lock = threading.Lock()
        self._finished: dict[str, float] = {}
        self._pending: list[Future[None]] = []

    def track(self, name: str, future: Future[None] | None) -> Future[None] | None:
        if future is None:
            self._finished[name] = self._started
            return None

        def mark(_: Future[None]) -> None:
            with self._lock:
                self._finished.setdefault(name, time.monotonic())

        future.add_done_callback(mark)
        self._pending.append(future)
        return future

    def wait(self, timeout: float) -> None:
        if self._pending:
            wait(self._pending, timeout=timeout)

    def finished(self, name: str) -> bool:
        with self._lock:
            return name in self._finished

    def done_at(self, name: str, default: float) -> float:
        with self._lock:
            return self._finished.get(name, default)


def _sync_workers(config: Config) -> int:
    """Target syncs at once: ``sync.concurrency``, and no more than there are static targets
    when nothing is discovered."""
    if config.organization is None:
        return max(1, min(config.sync.concurrency, MAX_SYNC_THREADS, len(config.targets)))
    return max(1, min(config.sync.concurrency, MAX_SYNC_THREADS))


def _daemon(name: str, run: Callable[[threading.Event], None], stop: threading.Event) -> None:
    threading.Thread(target=run, args=(stop,), name=name, daemon=True).start()


def _health(snapshot: TargetSnapshot, target: _Target, seconds: float, now: float) -> TargetHealth:
    age = snapshot.data_timestamp
    return TargetHealth(
        name=snapshot.target.name,
        region=snapshot.target.region,
        account_id=snapshot.target.account_id or "",
        sync_seconds=target.sync.last_sync_seconds,
        up=snapshot.up,
        down_reason=snapshot.down_reason,
        scrape_seconds=seconds,
        data_age_seconds=None if age is None else max(0.0, now - age),
        jobs=len(snapshot.all_jobs),
        jobs_dropped=snapshot.jobs_dropped,
        api_requests=target.stats.snapshot(),
        syncs=dict(target.sync.stats.runs),
        lookup_errors=dict(snapshot.lookup_errors),
        source_up=dict(snapshot.source_up),
        protected_resources_dropped=snapshot.protected_resources.dropped,
    )
