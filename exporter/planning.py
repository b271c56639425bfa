"""Which AWS Backup requests one sync of a target makes: pure functions of what it already knows.

Why incremental: a job that has reached its final state never changes again, and AWS Backup's
quotas (ListRestoreJobs 20/s, DescribeRestoreJob 15/s per account and region) are shared with
everything else in the account. So after the first (full) sync, each sync asks only for jobs
that are PENDING or RUNNING, were created or completed since the last sync (with a margin for
clock skew and eventual consistency), or are restore tests whose validation or clean-up is still
going on. A periodic full resync catches anything the margins missed.

Nothing here does I/O or reads a clock: every input is an argument, so each rule is tested with
a table of (known jobs, now) -> queries.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.backup_api import ListQuery
from exporter.config import DiscoveryConfig, TargetConfig
from exporter.model import ACTIVE_STATUSES, FINAL_STATUSES, RestoreJob

# Lookup errors that say something about the job ID rather than about the target's health.
JOB_LEVEL_REASONS = frozenset({"not_found", "invalid"})


@dataclass(frozen=True)
class SyncState:
    """What planning needs to know of the syncs before this one."""

    watermark: float | None = None  # start of the last fully successful sync
    last_full: float | None = None  # start of the last successful full sync
    plan_checked: Mapping[str, float] = field(default_factory=dict)  # plan ARN -> follow-up


@dataclass(frozen=True)
class QueryPlan:
    """The list queries of one sync, and the restore testing plan they follow up, if any."""

    full: bool
    queries: tuple[ListQuery, ...]
    followed_plan: str | None = None


def is_full_sync_due(state: SyncState, now: float, full_resync_interval: float) -> bool:
    return (
        state.watermark is None
        or state.last_full is None
        or now - state.last_full >= full_resync_interval
    )


def base_filters(discovery: DiscoveryConfig) -> list[ListQuery]:
    """One filter set per combination: the API takes one value per filter and call."""
    filters: list[ListQuery] = []
    combos = itertools.product(
        discovery.resource_types or [None], discovery.restore_testing_plan_arns or [None]
    )
    for resource_type, plan_arn in combos:
        query = _account(discovery)
        if resource_type is not None:
            query["ByResourceType"] = resource_type
        if plan_arn is not None:
            query["ByRestoreTestingPlanArn"] = plan_arn
        filters.append(query)
    return filters


def _account(discovery: DiscoveryConfig) -> ListQuery:
    return {"ByAccountId": discovery.account_id} if discovery.account_id else {}


def _with(base: ListQuery, status: str | None, **times: float) -> ListQuery:
    query: ListQuery = {**base, **times}  # type: ignore[typeddict-item]
    if status is not None:
        query["ByStatus"] = status  # type: ignore[typeddict-item]
    return query


def _window_queries(
    discovery: DiscoveryConfig, base: ListQuery, window_start: float
) -> list[ListQuery]:
    """Full: every job created in the window, plus PENDING and RUNNING jobs older than it."""
    statuses: list[str | None] = list(discovery.statuses) or [None]
    queries = [_with(base, status, ByCreatedAfter=window_start) for status in statuses]
    for status in _active(discovery):
        queries.append(_with(base, status, ByCreatedBefore=window_start))
    return queries


def _changed_queries(
    discovery: DiscoveryConfig, base: ListQuery, since: float, complete_since: float
) -> list[ListQuery]:
    """Incremental: jobs created or completed since the last sync, and every active job."""
    queries = []
    statuses: list[str | None] = list(discovery.statuses) or [None]
    for status in statuses:
        queries.append(_with(base, status, ByCreatedAfter=since))
        if status is None or status in FINAL_STATUSES:
            queries.append(_with(base, status, ByCompleteAfter=complete_since))
    queries.extend(_with(base, status) for status in _active(discovery))
    return queries


def _active(discovery: DiscoveryConfig) -> list[str]:
    return [s for s in ("RUNNING", "PENDING") if not discovery.statuses or s in discovery.statuses]


def plan_queries(
    discovery: DiscoveryConfig,
    state: SyncState,
    known: Mapping[str, RestoreJob],
    now: float,
    full: bool,
    margin: float,
) -> QueryPlan:
    """The ListRestoreJobs queries that cover everything that can have changed.

    Restore tests that completed before the incremental window but whose validation or
    clean-up is still going on are followed up with one more query per sync, for one plan at a
    time (the one checked longest ago): COMPLETED jobs of that plan completed since its oldest
    such test. A clean-up can take days (up to the plan's validation window), so widening the
    general completion query instead would re-list every job completed since then on every sync.
    """
    window_start = now - discovery.lookback_seconds
    if full or state.watermark is None:
        queries = [
            q
            for base in base_filters(discovery)
            for q in _window_queries(discovery, base, window_start)
        ]
        return QueryPlan(True, tuple(queries))
    since = max(window_start, state.watermark - margin)
    complete_since, unsettled_by_plan = _unsettled(known, since, margin)
    queries = [
        q
        for base in base_filters(discovery)
        for q in _changed_queries(discovery, base, since, complete_since)
    ]
    if not unsettled_by_plan:
        return QueryPlan(False, tuple(queries))
    checked = state.plan_checked
    followed = min(unsettled_by_plan, key=lambda plan: (checked.get(plan, 0.0), plan))
    follow_up: ListQuery = {**_account(discovery), "ByRestoreTestingPlanArn": followed}
    queries.append(
        _with(follow_up, "COMPLETED", ByCompleteAfter=unsettled_by_plan[followed] - margin)
    )
    return QueryPlan(False, tuple(queries), followed)


def _unsettled(
    known: Mapping[str, RestoreJob], since: float, margin: float
) -> tuple[float, dict[str, float]]:
    """Known jobs that completed before ``since`` yet can still change: the earliest completion
    to re-list for those that are not restore tests (rare), and per plan its oldest test's."""
    complete_since = since
    by_plan: dict[str, float] = {}
    for job in known.values():
        stamp = job.completion_timestamp
        if job.is_settled or stamp is None or stamp - margin >= since:
            continue
        plan = job.restore_testing_plan_arn
        if plan:
            by_plan[plan] = min(by_plan.get(plan, stamp), stamp)
        else:  # not a restore test, yet still changing: widen the general query
            complete_since = min(complete_since, stamp - margin)
    return complete_since, by_plan


def matches_discovery(discovery: DiscoveryConfig, job: RestoreJob) -> bool:
    """Client-side check of the discovery filters, for jobs that moved out of them."""
    return (
        (not discovery.statuses or job.status in discovery.statuses)
        and (not discovery.resource_types or job.resource_type in discovery.resource_types)
        and (
            not discovery.restore_testing_plan_arns
            or job.restore_testing_plan_arn in discovery.restore_testing_plan_arns
        )
    )


def describe_candidates(
    target: TargetConfig,
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
    for job_id in target.restore_job_ids:
        job = known.get(job_id)
        if job_id in fetched or (job is not None and job.is_settled):
            continue
        if old_errors.get(job_id) in JOB_LEVEL_REASONS and not full:
            continue
        wanted.append(job_id)
    if target.discovery.enabled:
        configured = set(target.restore_job_ids)
        for job_id, job in known.items():
            if job_id in fetched or job_id in configured or job.is_settled:
                continue
            if job.status in ACTIVE_STATUSES or job.completion_timestamp is None:
                wanted.append(job_id)
    return wanted
