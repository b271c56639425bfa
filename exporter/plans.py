"""Restore testing plans, their selections and protected resources, parsed once from AWS Backup.

``ListRestoreTestingPlans`` gives each plan's schedule and ``LastExecutionTime``;
``ListRestoreTestingSelections`` each selection's resource type and validation window;
``DescribeProtectedResource`` a resource's latest restore. Fields are botocore's
(``RestoreTestingPlanForList``, ``RestoreTestingSelectionForList``,
``DescribeProtectedResourceOutput``); a value AWS did not send is None or "", never made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from exporter.model import non_negative, text, timestamp

_HOUR = 3600.0
DEFAULT_START_WINDOW_HOURS = 24  # the model's documented default


def account_of(arn: str) -> str:
    """The account ID field of an ARN ("" when it has none)."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True, slots=True)
class Plan:
    region: str
    account_id: str
    name: str
    arn: str
    schedule_expression: str
    schedule_expression_timezone: str
    start_window_seconds: float
    last_execution_timestamp: float | None
    creation_timestamp: float | None

    @classmethod
    def from_api(cls, data: Mapping[str, object], region: str) -> Plan:
        arn = text(data.get("RestoreTestingPlanArn"))
        hours = non_negative(data.get("StartWindowHours"))
        return cls(
            region=region,
            account_id=account_of(arn),
            name=text(data.get("RestoreTestingPlanName")),
            arn=arn,
            schedule_expression=text(data.get("ScheduleExpression")),
            schedule_expression_timezone=text(data.get("ScheduleExpressionTimezone")),
            start_window_seconds=(DEFAULT_START_WINDOW_HOURS if hours is None else hours) * _HOUR,
            last_execution_timestamp=timestamp(data.get("LastExecutionTime")),
            creation_timestamp=timestamp(data.get("CreationTime")),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    plan: Plan
    name: str
    protected_resource_type: str
    iam_role_arn: str
    validation_window_seconds: float | None

    @classmethod
    def from_api(cls, data: Mapping[str, object], plan: Plan) -> Selection:
        hours = non_negative(data.get("ValidationWindowHours"))
        return cls(
            plan=plan,
            name=text(data.get("RestoreTestingSelectionName")),
            protected_resource_type=text(data.get("ProtectedResourceType")),
            iam_role_arn=text(data.get("IamRoleArn")),
            validation_window_seconds=None if hours is None else hours * _HOUR,
        )


@dataclass(frozen=True, slots=True)
class PlanSuccess:
    """A plan's latest successful restore test of one resource type."""

    plan: Plan
    resource_type: str
    completion_timestamp: float


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    region: str
    account_id: str
    arn: str
    resource_type: str
    last_restore_timestamp: float | None  # LatestRestoreJobCreationDate

    @classmethod
    def from_api(cls, data: Mapping[str, object], region: str) -> ProtectedResource:
        arn = text(data.get("ResourceArn"))
        return cls(
            region=region,
            account_id=account_of(arn),
            arn=arn,
            resource_type=text(data.get("ResourceType")),
            last_restore_timestamp=timestamp(data.get("LatestRestoreJobCreationDate")),
        )


@dataclass(frozen=True)
class RestoreTestingView:
    """What a scrape shows of a target's restore testing."""

    plans: tuple[Plan, ...] = ()
    selections: tuple[Selection, ...] = ()
    successes: tuple[PlanSuccess, ...] = ()


@dataclass(frozen=True)
class ProtectedResourcesView:
    """What a scrape shows of a target's protected resources (opted in)."""

    resources: Mapping[str, ProtectedResource] = field(default_factory=lambda: MappingProxyType({}))
    dropped: int = 0  # listed but over restore_testing.max_protected_resources
