"""The restore-testing families: plans and their schedules, selections, last successes, and
(opted in) each protected resource's last restore.

A plan's identity is ``account_id`` (from its ARN), ``region`` and
``restore_testing_plan_name``. The scheduled starts are computed at each scrape from the plan's
cron expression in its time zone, so ``last_scheduled`` moves on when a start passes even
between two refreshes of the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from exporter.families import Family, Identity, LabelValues, RenderContext, Sample, present
from exporter.plans import Plan, PlanSuccess, ProtectedResource, Selection
from exporter.schedules import ScheduleError, parse_schedule

PLAN_LABELS = ("account_id", "region", "restore_testing_plan_name")


def plan_identity(plan: Plan) -> LabelValues:
    return plan.account_id, plan.region, plan.name


BY_PLAN: Identity[Plan] = Identity(PLAN_LABELS, plan_identity)
BY_SELECTION_PLAN: Identity[Selection] = Identity(PLAN_LABELS, lambda s: plan_identity(s.plan))
BY_SUCCESS_PLAN: Identity[PlanSuccess] = Identity(PLAN_LABELS, lambda s: plan_identity(s.plan))


def _scheduled(plan: Plan, now: float, which: str) -> float | None:
    try:
        schedule = parse_schedule(plan.schedule_expression, plan.schedule_expression_timezone)
    except ScheduleError:  # logged when the plan was read; the series is absent
        return None
    return schedule.last_start(now) if which == "last" else schedule.next_start(now)


PlanValue = Callable[[Plan, RenderContext], float | None]


def _plan_gauge(name: str, help: str, read: PlanValue) -> Family[Plan]:
    """A gauge with one sample per plan, when the plan has the value."""
    return Family(name, "gauge", help, PLAN_LABELS, lambda p, c: present(read(p, c)), BY_PLAN)


def _plan_info(plan: Plan, _: RenderContext) -> Iterator[Sample]:
    yield (plan.arn, plan.schedule_expression, plan.schedule_expression_timezone), 1.0


def _selection_info(selection: Selection, _: RenderContext) -> Iterator[Sample]:
    yield (
        (
            selection.name,
            selection.protected_resource_type,
            selection.iam_role_arn,
        ),
        1.0,
    )


def _validation_window(selection: Selection, _: RenderContext) -> Iterator[Sample]:
    if selection.validation_window_seconds is not None:
        yield (selection.name,), selection.validation_window_seconds


def _resource_restore(resource: ProtectedResource, _: RenderContext) -> Iterator[Sample]:
    if resource.last_restore_timestamp is not None:
        values = (resource.account_id, resource.region, resource.arn, resource.resource_type)
        yield values, resource.last_restore_timestamp


PLAN_FAMILIES: tuple[Family[Plan], ...] = (
    Family(
        "aws_backup_restore_testing_plan_info",
        "gauge",
        "Constant 1 per restore testing plan; its ARN and schedule as labels (the time zone is "
        "empty when AWS gives none, which means UTC).",
        (*PLAN_LABELS, "restore_testing_plan_arn", "schedule_expression",
         "schedule_expression_timezone"),
        _plan_info,
        BY_PLAN,
    ),
    _plan_gauge(
        "aws_backup_restore_testing_plan_last_execution_timestamp_seconds",
        "When the plan last ran (LastExecutionTime, Unix time); absent if it never ran.",
        lambda plan, _: plan.last_execution_timestamp,
    ),
    _plan_gauge(
        "aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds",
        "The latest start the plan's schedule has called for (Unix time), from its cron "
        "expression in its time zone.",
        lambda plan, context: _scheduled(plan, context.now, "last"),
    ),
    _plan_gauge(
        "aws_backup_restore_testing_plan_next_scheduled_timestamp_seconds",
        "The next start the plan's schedule calls for (Unix time).",
        lambda plan, context: _scheduled(plan, context.now, "next"),
    ),
    _plan_gauge(
        "aws_backup_restore_testing_plan_start_window_seconds",
        "How long after a scheduled start the plan may begin its restores (StartWindowHours).",
        lambda plan, _: plan.start_window_seconds,
    ),
)  # fmt: skip

SELECTION_FAMILIES: tuple[Family[Selection], ...] = (
    Family(
        "aws_backup_restore_testing_selection_info",
        "gauge",
        "Constant 1 per restore testing selection; what it restores and with which role.",
        (*PLAN_LABELS, "restore_testing_selection_name", "protected_resource_type",
         "iam_role_arn"),
        _selection_info,
        BY_SELECTION_PLAN,
    ),
    Family(
        "aws_backup_restore_testing_selection_validation_window_seconds",
        "gauge",
        "How long validation may take after a restore (ValidationWindowHours); absent when AWS "
        "gives none.",
        (*PLAN_LABELS, "restore_testing_selection_name"),
        _validation_window,
        BY_SELECTION_PLAN,
    ),
)  # fmt: skip

SUCCESS_FAMILY: Family[PlanSuccess] = Family(
    "aws_backup_restore_testing_plan_last_success_timestamp_seconds",
    "gauge",
    "Completion time of the plan's latest restore job of that resource type that COMPLETED and "
    "validated SUCCESSFUL (or needed no validation), within restore_testing.success_lookback.",
    (*PLAN_LABELS, "resource_type"),
    lambda success, _: iter([((success.resource_type,), success.completion_timestamp)]),
    BY_SUCCESS_PLAN,
)

PROTECTED_RESOURCE_FAMILY: Family[ProtectedResource] = Family(
    "aws_backup_protected_resource_last_restore_timestamp_seconds",
    "gauge",
    "When the latest restore job of the protected resource was created "
    "(LatestRestoreJobCreationDate, Unix time); only with restore_testing.protected_resources.",
    ("account_id", "region", "resource_arn", "resource_type"),
    _resource_restore,
)
