"""One target's sync: a single flight shared by concurrent scrapes, its health, its log lines.

What is fetched and how is the source's business (restore_jobs.py); this module decides when a
sync runs, whether the target is up, and what a scrape is shown of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Protocol

from exporter.aws_errors import classify_error, describe_error
from exporter.backup_api import BackupApi
from exporter.config import MetricsConfig, SyncConfig, TargetConfig
from exporter.job_summaries import JobSummariesSource
from exporter.job_summary_view import JobSummariesView
from exporter.jobtable import EMPTY, cap
from exporter.plans import ProtectedResourcesView, RestoreTestingView
from exporter.protected_resources import ProtectedResourcesSource
from exporter.restore_jobs import RestoreJobsSource, SyncRun
from exporter.restore_testing import RestoreTestingSource
from exporter.store import TargetSnapshot

log = logging.getLogger(__name__)


@dataclass
class SyncStats:
    """Counters of sync runs, for the exporter's own metrics."""

    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, result) -> count

    def record(self, kind: str, result: str) -> None:
        self.runs[(kind, result)] = self.runs.get((kind, result), 0) + 1


@dataclass(frozen=True)
class Health:
    """A target's health after its last sync; replaced, never mutated."""

    up: bool = False
    down_reason: str | None = None
    last_success_end: float | None = None  # when the last successful sync ended
    synced_once: bool = False


class Source(Protocol):
    """A source besides restore jobs: it syncs when it is due and says so (None otherwise)."""

    name: str

    def sync(self, started: float) -> SyncRun | None: ...


class TargetSync:
    """Owns one target's sources and the single sync that may be in flight for them.

    The restore-jobs source decides the target's health (``target_up``); the others (restore
    testing, protected resources) run after it in the same sync, each with its own health
    (``source_up``), so a role without their permissions never takes restore jobs down.
    """

    def __init__(
        self,
        source: RestoreJobsSource,
        sync: SyncConfig,
        metrics: MetricsConfig,
        executor: Executor,
        clock: Callable[[], float],
        restore_testing: RestoreTestingSource | None = None,
        protected_resources: ProtectedResourcesSource | None = None,
        job_summaries: JobSummariesSource | None = None,
    ) -> None:
        self.source = source
        self.restore_testing = restore_testing
        self.protected_resources = protected_resources
        self.job_summaries = job_summaries
        self._others: tuple[Source, ...] = tuple(
            s for s in (restore_testing, protected_resources, job_summaries) if s is not None
        )
        self._source_health: dict[str, Health] = {}
        self._sync_config = sync
        self._metrics_config = metrics
        self._executor = executor
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight: Future[None] | None = None
        self._health = Health()
        self.stats = SyncStats()
        self.last_sync_seconds: float | None = None
        # Background syncs minutes apart close the client's connections in between.
        self.close_connections_after_sync = False
        self.after_sync: Callable[[TargetSnapshot], None] | None = None  # e.g. pre-rendering

    def _after_sync_guarded(self) -> None:
        assert self.after_sync is not None
        try:
            self.after_sync(self.snapshot())
        except Exception:
            log.exception("target %s: unexpected error after sync", self.target.name)

    @property
    def target(self) -> TargetConfig:
        return self.source.target

    @property
    def api(self) -> BackupApi:
        return self.source.api

    def refresh(self) -> Future[None] | None:
        """Start a sync, or join the one in flight; None when the data is fresh enough.

        Concurrent scrapes (two Prometheus replicas, a person with curl) share one sync instead
        of multiplying API calls.
        """
        with self._lock:
            if self._inflight is not None:
                return self._inflight
            health = self._health
            last = health.last_success_end
            fresh_for = self._sync_config.min_interval_seconds
            if last is not None and health.up and self._clock() - last < fresh_for:
                return None
            future = self._executor.submit(self._sync_guarded)
            self._inflight = future
            return future

    def _sync_guarded(self) -> None:
        try:
            self.sync_once()
        except Exception:  # a bug must not leave the single flight stuck
            log.exception("target %s: unexpected error during sync", self.target.name)
        finally:
            if self.after_sync is not None:
                self._after_sync_guarded()
            if self.close_connections_after_sync:  # before the next sync may start
                self.api.close_connections()
            with self._lock:
                self._inflight = None

    def sync_once(self) -> None:
        """Run one sync now, in this thread, and record how it went."""
        started = self._clock()
        began = time.monotonic()
        run = self.source.sync(started)
        before, after = self._record(self.source.name, run)
        self._log_health(before, after, run, self._clock() - started)
        if run.failure is None:  # when down, the other sources wait rather than fail the same way
            for source in self._others:
                other = source.sync(self._clock())
                if other is not None:
                    self._log_source(*self._record(source.name, other), other)
        self.last_sync_seconds = time.monotonic() - began

    def _record(self, name: str, run: SyncRun) -> tuple[Health, Health]:
        """Health before and after a source's run; the restore-jobs source's is the target's."""
        now = self._clock()
        with self._lock:
            before = self._source_health.get(name, Health())
            if run.failure is None:
                after = Health(True, None, now, True)
            else:
                after = Health(False, classify_error(run.failure), before.last_success_end, True)
            self._source_health[name] = after
            if name == self.source.name:
                self._health = after
            self.stats.record(run.kind, "success" if run.failure is None else "failure")
        return before, after

    def source_up(self) -> dict[str, bool]:
        """Each source that has run: whether its last run succeeded."""
        with self._lock:
            return {name: health.up for name, health in self._source_health.items()}

    def snapshot(self) -> TargetSnapshot:
        """What a scrape shows now: stale data is hidden unless the target is still up."""
        now = self._clock()
        with self._lock:
            health, syncing = self._health, self._inflight is not None
        table = self.source.table
        up, reason = health.up, health.down_reason
        if not health.synced_once and syncing:
            up, reason = False, "timeout"
        data_timestamp = health.last_success_end
        # In background mode data is up to an interval old before the next sync even runs: a
        # failed sync keeps it for stale_data_max_age beyond that, as it does on the scrape.
        stale_after = self._sync_config.stale_data_max_age_seconds + (
            self._sync_config.interval_seconds or 0.0
        )
        stale = data_timestamp is None or now - data_timestamp > stale_after
        jobs = EMPTY if stale and not (up and data_timestamp is not None) else table.jobs
        limit = self._metrics_config.max_jobs_per_target
        exposed, dropped = cap(jobs, limit, self.target.restore_job_ids)
        return TargetSnapshot(
            self.target,
            exposed,
            jobs,
            up,
            None if up else reason,
            data_timestamp,
            syncing,
            table.lookup_errors,
            dropped,
            self.restore_testing.view if self.restore_testing else RestoreTestingView(),
            self.protected_resources.view if self.protected_resources else ProtectedResourcesView(),
            self.source_up(),
            self.job_summaries.view if self.job_summaries else JobSummariesView(),
        )

    def _log_source(self, before: Health, after: Health, run: SyncRun) -> None:
        """One line when a source other than restore jobs goes down, comes back or changes why."""
        name = self.target.name
        if run.failure is not None and (before.up or before.down_reason != after.down_reason):
            log.warning(
                "target %s: %s failed, reason=%s (restore jobs are not affected): %s",
                name,
                run.kind,
                after.down_reason,
                describe_error(run.failure),
            )
        elif run.failure is None and before.synced_once and not before.up:
            log.info("target %s: %s recovered", name, run.kind)

    def _log_health(self, before: Health, after: Health, run: SyncRun, seconds: float) -> None:
        """One line when a target's health changes; routine syncs only at debug level."""
        name, region = self.target.name, self.target.region
        jobs = len(self.source.table.jobs)
        if run.failure is not None:
            changed = before.up or before.down_reason != after.down_reason
            log.log(
                logging.WARNING if changed else logging.DEBUG,
                "target %s (%s): %s sync failed, reason=%s: %s",
                name,
                region,
                run.kind,
                after.down_reason,
                describe_error(run.failure),
            )
        elif not before.up and before.down_reason is not None:
            log.info("target %s (%s): recovered, %d jobs", name, region, jobs)
        else:
            log.debug("target %s: %s sync ok in %.3fs, %d jobs", name, run.kind, seconds, jobs)
