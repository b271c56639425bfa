"""The restore-jobs source of a target: plan, fetch, merge, for one sync at a time.

The pipeline reads in one direction: plan the queries (planning.py, pure) -> fetch (list pages,
then describe only what the lists could not tell us) -> merge into an immutable job table
(jobtable.py) that scrapes read without locking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace

from exporter.aws_errors import classify_error, is_expired_session
from exporter.backup_api import BackupApi, ListQuery
from exporter.config import RateLimitConfig, SyncConfig, TargetConfig
from exporter.fetch import run_bounded
from exporter.jobtable import JobTable
from exporter.model import RestoreJob
from exporter.planning import (
    JOB_LEVEL_REASONS,
    QueryPlan,
    SyncState,
    describe_candidates,
    is_full_sync_due,
    matches_discovery,
    plan_queries,
)


@dataclass(frozen=True)
class SyncRun:
    """How one sync of a source went."""

    kind: str  # "full" or "incremental"
    failure: BaseException | None


class RestoreJobsSource:
    """A target's restore jobs, kept in step with AWS Backup at the least cost in API calls."""

    name = "restore_jobs"

    def __init__(
        self,
        target: TargetConfig,
        api: BackupApi,
        sync: SyncConfig,
        rate_limit: RateLimitConfig,
        executor: Executor,
        clock: Callable[[], float],
    ) -> None:
        self.target = target
        self.api = api
        self._sync = sync
        self._rate_limit = rate_limit
        self._executor = executor
        self._clock = clock
        self._lock = threading.Lock()
        self._table = JobTable()
        self._state = SyncState()

    @property
    def table(self) -> JobTable:
        with self._lock:
            return self._table

    def sync(self, started: float) -> SyncRun:
        """One sync: never raises for AWS trouble, which comes back as the run's failure."""
        with self._lock:
            table, state = self._table, self._state
        plan = self._plan(state, table.jobs, started)
        fetched: dict[str, RestoreJob] = {}
        lookup_errors: dict[str, str] = {}
        failure: BaseException | None = None
        try:
            self._list(plan.queries, fetched)
            wanted = describe_candidates(
                self.target, fetched, table.jobs, table.lookup_errors, plan.full
            )
            failure = self._describe(wanted, fetched, lookup_errors)
        except Exception as error:  # any AWS or network failure: report, keep serving
            failure = error
        if failure is not None and is_expired_session(failure):
            self.api.reset()  # the next sync assumes the role (or reads the chain) afresh
        window_start = self._clock() - self.target.discovery.lookback_seconds
        merged = table.merged(fetched, lookup_errors, self.target.restore_job_ids, window_start)
        with self._lock:
            self._table = merged
            if failure is None:
                self._state = _advanced(self._state, plan, started)
        return SyncRun("full" if plan.full else "incremental", failure)

    def _plan(self, state: SyncState, known: Mapping[str, RestoreJob], now: float) -> QueryPlan:
        full = is_full_sync_due(state, now, self._sync.full_resync_interval_seconds)
        if not self.target.discovery.enabled:
            return QueryPlan(full, ())
        margin = self._sync.completion_margin_seconds
        return plan_queries(self.target.discovery, state, known, now, full, margin)

    def _list(self, queries: Iterable[ListQuery], fetched: dict[str, RestoreJob]) -> None:
        """Each page is parsed as it arrives, so no more than a few raw pages are ever held.
        After a failure no further request is started: the sync has failed, and more calls
        would only spend quota."""
        lock = threading.Lock()
        failed = threading.Event()

        def run(query: ListQuery) -> None:
            try:
                if failed.is_set():
                    return
                for page in self.api.list_restore_jobs(query):
                    jobs = self._parse(page)
                    with lock:
                        fetched.update(jobs)
                    if failed.is_set():
                        return
            except Exception:
                failed.set()
                raise

        run_bounded(self._executor, list(queries), run, self._rate_limit.list_concurrency)

    def _parse(self, items: Iterable[Mapping[str, object]]) -> dict[str, RestoreJob]:
        jobs = (RestoreJob.from_api(item, self.target.region) for item in items)
        discovery = self.target.discovery
        return {
            job.restore_job_id: job
            for job in jobs
            if job.restore_job_id and matches_discovery(discovery, job)
        }

    def _describe(
        self, job_ids: list[str], fetched: dict[str, RestoreJob], lookup_errors: dict[str, str]
    ) -> BaseException | None:
        """Describe jobs with bounded concurrency; return the first target-level failure."""

        def describe(job_id: str) -> RestoreJob | BaseException:
            try:
                return RestoreJob.from_api(
                    self.api.describe_restore_job(job_id), self.target.region
                )
            except Exception as error:
                return error

        concurrency = self._rate_limit.describe_concurrency
        failure: BaseException | None = None
        for job_id, result in zip(
            job_ids, run_bounded(self._executor, job_ids, describe, concurrency), strict=True
        ):
            if isinstance(result, RestoreJob):
                fetched[job_id] = result
                continue
            reason = lookup_errors[job_id] = classify_error(result)
            if reason not in JOB_LEVEL_REASONS and failure is None:
                failure = result
        return failure


def _advanced(state: SyncState, plan: QueryPlan, started: float) -> SyncState:
    """The planning state after a successful sync that started at ``started``."""
    checked = dict(state.plan_checked)
    if plan.followed_plan is not None:
        checked[plan.followed_plan] = started
    return replace(
        state,
        watermark=started,
        last_full=started if plan.full else state.last_full,
        plan_checked=checked,
    )
