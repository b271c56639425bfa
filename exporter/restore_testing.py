"""The restore-testing source of a target: plans, selections, and each plan's last successes.

Plans and selections change rarely, so they are read every ``restore_testing.refresh_interval``
(one ListRestoreTestingPlans, one ListRestoreTestingSelections per plan). A plan's last success
per resource type comes from its restore jobs (COMPLETED, validated SUCCESSFUL or needing no
validation), found with one ListRestoreJobs query per plan per refresh: the first looks back
``success_lookback``, the next ones only since the previous refresh (less the margin) or since
the oldest job that was still validating, so a success is kept however long ago it left the
restore-jobs window, at a cost that does not grow with history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from exporter.backup_api import BackupApi, ListQuery, RestoreTestingApi
from exporter.config import SyncConfig, TargetConfig
from exporter.model import RestoreJob
from exporter.plans import Plan, PlanSuccess, RestoreTestingView, Selection
from exporter.restore_jobs import SyncRun
from exporter.schedules import ScheduleError, parse_schedule

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_SECONDS = 60.0
SuccessKey = tuple[str, str]  # (plan ARN, resource type)


@dataclass(frozen=True)
class _State:
    view: RestoreTestingView = field(default_factory=RestoreTestingView)
    refreshed: float | None = None  # start of the last successful refresh
    failed: float | None = None  # start of the last refresh, when it failed
    successes: Mapping[SuccessKey, float] = field(default_factory=dict)
    checked: Mapping[str, float] = field(default_factory=dict)  # plan ARN -> query start
    validating: Mapping[str, float] = field(default_factory=dict)  # plan ARN -> oldest pending


def success_query(
    plan: Plan, state: _State, now: float, lookback: float, margin: float
) -> ListQuery:
    """The one ListRestoreJobs query that finds a plan's new successes."""
    since = now - lookback
    checked = state.checked.get(plan.arn)
    if checked is not None:
        since = max(since, checked - margin)
    pending = state.validating.get(plan.arn)
    if pending is not None:
        since = min(since, pending - margin)
    return {"ByRestoreTestingPlanArn": plan.arn, "ByStatus": "COMPLETED", "ByCompleteAfter": since}


def is_success(job: RestoreJob) -> bool:
    """COMPLETED and validated SUCCESSFUL, or with no validation at all."""
    return job.status == "COMPLETED" and job.validation_status in (None, "SUCCESSFUL")


class RestoreTestingSource:
    """A target's restore testing plans, kept current at a few requests per refresh."""

    name = "restore_testing"

    def __init__(
        self, target: TargetConfig, api: BackupApi, sync: SyncConfig, clock: Callable[[], float]
    ) -> None:
        self.target = target
        self._jobs_api = api
        self._api = RestoreTestingApi(api)
        self._margin = sync.completion_margin_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self._warned: set[tuple[str, str, str]] = set()

    @property
    def view(self) -> RestoreTestingView:
        with self._lock:
            return self._state.view

    def due(self, now: float) -> bool:
        """A refresh interval after the last success; after a failure, a minute later (or the
        interval, if shorter): a role without the permissions is asked again once a minute, not
        on every scrape."""
        state, interval = self._state, self.target.restore_testing.refresh_interval_seconds
        if state.failed is not None:
            return now - state.failed >= min(interval, RETRY_AFTER_FAILURE_SECONDS)
        return state.refreshed is None or now - state.refreshed >= interval

    def sync(self, started: float) -> SyncRun | None:
        """A refresh when one is due (None otherwise); AWS trouble comes back as the failure."""
        with self._lock:
            state = self._state
        if not self.due(started):
            return None
        try:
            state = self._refresh(state, started)
        except Exception as error:  # any AWS or network failure: report, keep the last view
            with self._lock:
                self._state = replace(self._state, failed=started)
            return SyncRun(self.name, error)
        with self._lock:
            self._state = state
        return SyncRun(self.name, None)

    def _refresh(self, state: _State, started: float) -> _State:
        region = self.target.region
        plans = tuple(Plan.from_api(item, region) for item in self._api.restore_testing_plans())
        self._warn_unreadable_schedules(plans)
        selections = tuple(
            Selection.from_api(item, plan)
            for plan in plans
            for item in self._api.restore_testing_selections(plan.name)
        )
        lookback = self.target.restore_testing.success_lookback_seconds
        by_arn = {plan.arn: plan for plan in plans}
        successes = {
            key: stamp
            for key, stamp in state.successes.items()
            if stamp >= started - lookback and key[0] in by_arn  # plans deleted since go too
        }
        checked, validating = dict(state.checked), dict[str, float]()
        for plan in plans:
            query = success_query(plan, state, started, lookback, self._margin)
            for job in self._plan_jobs(query):
                key = (plan.arn, job.resource_type)
                if is_success(job) and job.completion_timestamp is not None:
                    successes[key] = max(successes.get(key, 0.0), job.completion_timestamp)
                elif job.validation_status == "VALIDATING" and job.completion_timestamp:
                    validating[plan.arn] = min(
                        validating.get(plan.arn, started), job.completion_timestamp
                    )
            checked[plan.arn] = started
        view = RestoreTestingView(
            plans,
            selections,
            tuple(
                PlanSuccess(by_arn[arn], resource_type, stamp)
                for (arn, resource_type), stamp in sorted(successes.items())
            ),
        )
        return replace(
            state,
            view=view,
            refreshed=started,
            failed=None,
            successes=successes,
            checked=checked,
            validating=validating,
        )

    def _warn_unreadable_schedules(self, plans: tuple[Plan, ...]) -> None:
        """One log line per plan and schedule that cannot be evaluated (its series are absent)."""
        for plan in plans:
            key = (plan.arn, plan.schedule_expression, plan.schedule_expression_timezone)
            if key in self._warned:
                continue
            try:
                parse_schedule(plan.schedule_expression, plan.schedule_expression_timezone)
            except ScheduleError as error:
                self._warned.add(key)
                log.warning(
                    "target %s: restore testing plan %s: %s; its scheduled-start series are "
                    "left out",
                    self.target.name,
                    plan.name,
                    error,
                )

    def _plan_jobs(self, query: ListQuery) -> list[RestoreJob]:
        region = self.target.region
        return [
            RestoreJob.from_api(item, region)
            for page in self._jobs_api.list_restore_jobs(query)
            for item in page
        ]
