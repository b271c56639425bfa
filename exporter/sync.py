"""Keeping one target's restore jobs in step with AWS Backup, at the least cost in API calls.

The pipeline for a target reads in one direction: plan the queries (what can have changed since
the last sync) -> fetch (list pages, then describe only what the lists could not tell us) ->
merge into an immutable job table that scrapes read without locking.

Why incremental: a job that has reached its final state never changes again, and AWS Backup's
quotas (ListRestoreJobs 20/s, DescribeRestoreJob 15/s per account and region) are shared with
everything else in the account. So after the first (full) sync, each sync asks only for jobs
that are PENDING or RUNNING, were created or completed since the last sync (with a margin for
clock skew and eventual consistency), or are restore tests whose validation or clean-up is still
going on. A periodic full resync catches anything the margins missed.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from exporter.aws import BackupApi, classify_error, describe_error, is_expired_session
from exporter.config import MetricsConfig, SyncConfig, TargetConfig
from exporter.model import ACTIVE_STATUSES, FINAL_STATUSES, RestoreJob

log = logging.getLogger(__name__)

# Lookup errors that say something about the job ID rather than about the target's health.
_JOB_LEVEL_REASONS = frozenset({"not_found", "invalid"})
_EMPTY: Mapping[str, RestoreJob] = MappingProxyType({})


@dataclass(frozen=True)
class TargetSnapshot:
    """What a scrape shows of one target: read-only, consistent, cheap to take."""

    target: TargetConfig
    jobs: Mapping[str, RestoreJob]  # exposed per job (capped at metrics.max_jobs_per_target)
    all_jobs: Mapping[str, RestoreJob]  # everything held, for the aggregate
    up: bool
    down_reason: str | None
    data_timestamp: float | None  # when the data served was last fully refreshed
    syncing: bool
    lookup_errors: Mapping[str, str]
    jobs_dropped: int
    stale: bool


@dataclass
class SyncStats:
    """Counters of sync runs, for the exporter's own metrics."""

    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, result) -> count

    def record(self, kind: str, result: str) -> None:
        self.runs[(kind, result)] = self.runs.get((kind, result), 0) + 1


class TargetSyncer:
    """Owns one target's job table and the single sync that may be in flight for it."""

    def __init__(
        self,
        target: TargetConfig,
        api: BackupApi,
        sync: SyncConfig,
        metrics: MetricsConfig,
        executor: ThreadPoolExecutor,
        describe_concurrency: int = 4,
        list_concurrency: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.api = api
        self._sync_config = sync
        self._metrics_config = metrics
        self._executor = executor
        self._describe_concurrency = describe_concurrency
        self._list_concurrency = list_concurrency
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight: Future[None] | None = None
        # State below is replaced, never mutated, so a snapshot needs no copy.
        self._jobs: Mapping[str, RestoreJob] = _EMPTY
        self._lookup_errors: Mapping[str, str] = MappingProxyType({})
        self._up = False
        self._down_reason: str | None = None
        self._watermark: float | None = None  # start of the last fully successful sync
        self._last_full: float | None = None
        self._last_success_end: float | None = None
        self._completed_once = False
        self._plan_checked: dict[str, float] = {}  # restore testing plan -> last follow-up
        self.stats = SyncStats()

    # -- scheduling --------------------------------------------------------------------------

    def refresh(self) -> Future[None] | None:
        """Start a sync, or join the one in flight; None when the data is fresh enough.

        Concurrent scrapes (two Prometheus replicas, a person with curl) share one sync instead
        of multiplying API calls.
        """
        with self._lock:
            if self._inflight is not None:
                return self._inflight
            last = self._last_success_end
            if (
                last is not None
                and self._up
                and self._clock() - last < self._sync_config.min_interval_seconds
            ):
                return None
            future = self._executor.submit(self._sync_guarded)
            self._inflight = future
            return future

    def snapshot(self) -> TargetSnapshot:
        now = self._clock()
        with self._lock:
            jobs, up, reason = self._jobs, self._up, self._down_reason
            data_timestamp, syncing = self._last_success_end, self._inflight is not None
            lookup_errors, completed_once = self._lookup_errors, self._completed_once
        stale = data_timestamp is None or (
            now - data_timestamp > self._sync_config.stale_data_max_age_seconds
        )
        if not completed_once and syncing:
            up, reason = False, "timeout"
        if stale and not (up and data_timestamp is not None):
            jobs = _EMPTY
        exposed, dropped = self._cap(jobs)
        return TargetSnapshot(
            self.target,
            exposed,
            jobs,
            up,
            None if up else reason,
            data_timestamp,
            syncing,
            lookup_errors,
            dropped,
            stale,
        )

    def _cap(self, jobs: Mapping[str, RestoreJob]) -> tuple[Mapping[str, RestoreJob], int]:
        """Keep the newest max_jobs_per_target jobs (configured IDs first); count the rest."""
        limit = self._metrics_config.max_jobs_per_target
        if len(jobs) <= limit:
            return jobs, 0
        configured = set(self.target.restore_job_ids)
        ranked = sorted(
            jobs.values(),
            key=lambda job: (job.restore_job_id in configured, job.creation_timestamp or 0.0),
            reverse=True,
        )
        kept = {job.restore_job_id: job for job in ranked[:limit]}
        return MappingProxyType(kept), len(jobs) - limit

    # -- one sync ----------------------------------------------------------------------------

    def _sync_guarded(self) -> None:
        try:
            self.sync_once()
        except Exception:  # a bug must not leave the single flight stuck
            log.exception("target %s: unexpected error during sync", self.target.name)
        finally:
            with self._lock:
                self._inflight = None

    def sync_once(self) -> None:
        """Run one sync now, in this thread, and merge what it found."""
        started = self._clock()
        with self._lock:
            known, watermark, last_full = self._jobs, self._watermark, self._last_full
            old_errors = self._lookup_errors
        full = (
            watermark is None
            or last_full is None
            or started - last_full >= self._sync_config.full_resync_interval_seconds
        )
        fetched: dict[str, RestoreJob] = {}
        lookup_errors: dict[str, str] = {}
        failure: BaseException | None = None
        followed_plan: str | None = None
        try:
            if self.target.discovery.enabled:
                queries, followed_plan = self.plan_queries(started, full, known, watermark)
                self._list(queries, fetched)
            wanted = self.describe_candidates(fetched, known, old_errors, full)
            failure = self._describe(wanted, fetched, lookup_errors)
        except Exception as error:  # any AWS or network failure: report, keep serving
            failure = error
        if failure is not None and is_expired_session(failure):
            self.api.reset()  # the next sync assumes the role (or reads the chain) afresh
        self._merge(started, full, fetched, lookup_errors, old_errors, failure, followed_plan)

    def plan_queries(
        self,
        now: float,
        full: bool,
        known: Mapping[str, RestoreJob],
        watermark: float | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The ListRestoreJobs queries that cover everything that can have changed, and the
        restore testing plan those queries follow up (see below), if any.

        Full: every job created in the window, plus PENDING/RUNNING jobs older than it.
        Incremental: jobs created or completed since the last sync (less the margin), and every
        PENDING and RUNNING job. Restore tests that completed before that but whose validation
        or clean-up is still going on are followed up with one more query per sync, for one
        plan at a time (the one checked longest ago): COMPLETED jobs of that plan completed
        since its oldest such test. A clean-up can take days (up to the plan's validation
        window), so widening the general completion query instead would re-list every job
        completed since then on every sync.
        """
        discovery = self.target.discovery
        statuses: list[str | None] = list(discovery.statuses) or [None]
        margin = self._sync_config.completion_margin_seconds
        window_start = now - discovery.lookback_seconds
        incremental = not full and watermark is not None
        since = max(window_start, watermark - margin) if watermark is not None else window_start
        complete_since = since
        unsettled_by_plan: dict[str, float] = {}
        if incremental:
            for job in known.values():
                stamp = job.completion_timestamp
                if job.is_settled or stamp is None or stamp - margin >= since:
                    continue
                if job.restore_testing_plan_arn:
                    plan = job.restore_testing_plan_arn
                    unsettled_by_plan[plan] = min(unsettled_by_plan.get(plan, stamp), stamp)
                else:  # not a restore test, yet still changing: rare; widen the general query
                    complete_since = min(complete_since, stamp - margin)
        queries: list[dict[str, Any]] = []
        for base in self._base_filters():
            if not incremental:
                for status in statuses:
                    queries.append(_query(base, status, ByCreatedAfter=window_start))
            else:
                for status in statuses:
                    queries.append(_query(base, status, ByCreatedAfter=since))
                    if status is None or status in FINAL_STATUSES:
                        queries.append(_query(base, status, ByCompleteAfter=complete_since))
            for status in ("RUNNING", "PENDING"):
                if discovery.statuses and status not in discovery.statuses:
                    continue
                # In a full sync the window query already has the recent ones.
                extra = {} if incremental else {"ByCreatedBefore": window_start}
                queries.append(_query(base, status, **extra))
        followed = None
        if unsettled_by_plan:
            with self._lock:
                checked = dict(self._plan_checked)
            followed = min(unsettled_by_plan, key=lambda plan: (checked.get(plan, 0.0), plan))
            account = {"ByAccountId": discovery.account_id} if discovery.account_id else {}
            queries.append(
                _query(
                    {**account, "ByRestoreTestingPlanArn": followed},
                    "COMPLETED",
                    ByCompleteAfter=unsettled_by_plan[followed] - margin,
                )
            )
        return queries, followed

    def _list(self, queries: list[dict[str, Any]], fetched: dict[str, RestoreJob]) -> None:
        """Run the list queries side by side (the rate limiter still paces them), so a sync
        costs about one request's latency rather than the sum; each page is parsed as it
        arrives, so no more than a few raw pages are ever held. After a failure no further
        request is started: the sync has failed, and more calls would only spend quota."""
        lock = threading.Lock()
        failed = threading.Event()

        def run(query: dict[str, Any]) -> None:
            if failed.is_set():
                return
            try:
                for page in self.api.list_restore_jobs(**query):
                    with lock:
                        self._absorb(page, fetched)
                    if failed.is_set():
                        return
            except Exception:
                failed.set()
                raise

        workers = max(1, min(self._list_concurrency, len(queries)))
        with ThreadPoolExecutor(workers, thread_name_prefix=f"list-{self.target.name}") as pool:
            for future in [pool.submit(run, query) for query in queries]:
                future.result()  # raises the first failure

    def _base_filters(self) -> list[dict[str, Any]]:
        """One filter set per combination: the API takes one value per filter and call."""
        discovery = self.target.discovery
        account = {"ByAccountId": discovery.account_id} if discovery.account_id else {}
        combos = itertools.product(
            discovery.resource_types or [None], discovery.restore_testing_plan_arns or [None]
        )
        filters = []
        for resource_type, plan_arn in combos:
            query = dict(account)
            if resource_type is not None:
                query["ByResourceType"] = resource_type
            if plan_arn is not None:
                query["ByRestoreTestingPlanArn"] = plan_arn
            filters.append(query)
        return filters

    def _matches(self, job: RestoreJob) -> bool:
        """Client-side check of the discovery filters, for jobs that moved out of them."""
        discovery = self.target.discovery
        return (
            (not discovery.statuses or job.status in discovery.statuses)
            and (not discovery.resource_types or job.resource_type in discovery.resource_types)
            and (
                not discovery.restore_testing_plan_arns
                or job.restore_testing_plan_arn in discovery.restore_testing_plan_arns
            )
        )

    def _absorb(self, items: Iterable[Mapping[str, Any]], into: dict[str, RestoreJob]) -> None:
        for item in items:
            job = RestoreJob.from_api(item, self.target.region)
            if job.restore_job_id and self._matches(job):
                into[job.restore_job_id] = job

    def describe_candidates(
        self,
        fetched: Mapping[str, RestoreJob],
        known: Mapping[str, RestoreJob],
        old_errors: Mapping[str, str],
        full: bool,
    ) -> list[str]:
        """Job IDs the lists could not tell us about: there is no describe fan-out otherwise.

        - configured IDs not yet known, or known but not settled (a settled one is read once);
          IDs that failed as not_found/invalid are retried only at a full resync;
        - known jobs that were active but are in no list result any more: they changed in a way
          no list filter shows (for example aborted without a completion date);
        - known unsettled jobs without a completion date, which the completion query cannot see.
        """
        wanted: list[str] = []
        for job_id in self.target.restore_job_ids:
            if job_id in fetched:
                continue
            job = known.get(job_id)
            if job is not None and job.is_settled:
                continue
            if old_errors.get(job_id) in _JOB_LEVEL_REASONS and not full:
                continue
            wanted.append(job_id)
        if self.target.discovery.enabled:
            configured = set(self.target.restore_job_ids)
            for job_id, job in known.items():
                if job_id in fetched or job_id in configured or job.is_settled:
                    continue
                if job.status in ACTIVE_STATUSES or job.completion_timestamp is None:
                    wanted.append(job_id)
        return wanted

    def _describe(
        self, job_ids: list[str], fetched: dict[str, RestoreJob], lookup_errors: dict[str, str]
    ) -> BaseException | None:
        """Describe jobs with bounded concurrency; return the first target-level failure."""
        if not job_ids:
            return None

        def describe(job_id: str) -> tuple[str, RestoreJob | None, BaseException | None]:
            try:
                data = self.api.describe_restore_job(job_id)
            except Exception as error:
                return job_id, None, error
            return job_id, RestoreJob.from_api(data, self.target.region), None

        workers = min(self._describe_concurrency, len(job_ids))
        failure: BaseException | None = None
        with ThreadPoolExecutor(workers, thread_name_prefix=f"describe-{self.target.name}") as pool:
            for job_id, job, error in pool.map(describe, job_ids):
                if job is not None:
                    fetched[job_id] = job
                    continue
                assert error is not None
                reason = classify_error(error)
                lookup_errors[job_id] = reason
                if reason not in _JOB_LEVEL_REASONS and failure is None:
                    failure = error
        return failure

    def _merge(
        self,
        started: float,
        full: bool,
        fetched: Mapping[str, RestoreJob],
        lookup_errors: Mapping[str, str],
        old_errors: Mapping[str, str],
        failure: BaseException | None,
        followed_plan: str | None = None,
    ) -> None:
        """Fold a sync's results into the job table, expire the window, update health."""
        now = self._clock()
        configured = set(self.target.restore_job_ids)
        window_start = now - self.target.discovery.lookback_seconds
        with self._lock:
            jobs = dict(self._jobs)
            jobs.update(fetched)
            for job_id in [i for i, r in lookup_errors.items() if r == "not_found"]:
                if job_id not in configured:
                    jobs.pop(job_id, None)  # a job AWS no longer knows
            for job_id in [i for i, job in jobs.items() if not _in_window(job, window_start)]:
                if job_id not in configured:
                    del jobs[job_id]
            errors = {
                job_id: reason
                for job_id, reason in {**old_errors, **lookup_errors}.items()
                if job_id in configured and job_id not in fetched
            }
            self._jobs = MappingProxyType(jobs)
            self._lookup_errors = MappingProxyType(errors)
            self._completed_once = True
            was_up, old_reason = self._up, self._down_reason
            kind = "full" if full else "incremental"
            if failure is None:
                self._watermark = started
                if full:
                    self._last_full = started
                self._last_success_end = now
                self._up, self._down_reason = True, None
                if followed_plan is not None:
                    self._plan_checked[followed_plan] = started
                self.stats.record(kind, "success")
            else:
                self._up, self._down_reason = False, classify_error(failure)
                self.stats.record(kind, "failure")
        self._log_health(was_up, old_reason, failure, len(jobs), now - started, kind)

    def _log_health(
        self,
        was_up: bool,
        old_reason: str | None,
        failure: BaseException | None,
        job_count: int,
        seconds: float,
        kind: str,
    ) -> None:
        """One line when a target's health changes; routine syncs only at debug level."""
        name = self.target.name
        if failure is not None:
            level = (
                logging.WARNING if (was_up or old_reason != self._down_reason) else logging.DEBUG
            )
            log.log(
                level,
                "target %s (%s): %s sync failed, reason=%s: %s",
                name,
                self.target.region,
                kind,
                self._down_reason,
                describe_error(failure),
            )
        elif not was_up and old_reason is not None:
            log.info("target %s (%s): recovered, %d jobs", name, self.target.region, job_count)
        else:
            log.debug("target %s: %s sync ok in %.3fs, %d jobs", name, kind, seconds, job_count)


def _query(base: Mapping[str, Any], status: str | None, **extra: Any) -> dict[str, Any]:
    query = dict(base, **extra)
    if status is not None:
        query["ByStatus"] = status
    return query


def _in_window(job: RestoreJob, window_start: float) -> bool:
    """Jobs created in the lookback window, plus any still PENDING or RUNNING whatever its age."""
    if job.is_active:
        return True
    return job.creation_timestamp is not None and job.creation_timestamp >= window_start
