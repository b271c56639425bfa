"""Restore testing plans and selections: the rules and defaults AWS documents beyond the model's
shapes (where the model is silent its documentation strings are the source, quoted below).

Plans ("RestoreTestingPlanForCreate"):
- a name "must consist of only alphanumeric characters and underscores. Maximum length is 50"
  (the model gives no pattern; this is the documented one, as Terraform's provider checks it);
- ScheduleExpression: "When no CRON expression is provided, Backup will use the default
  expression cron(0 5 ? * * *)". The model requires the member, so "not provided" can only be an
  empty string; any other value must be ``cron(...)`` with AWS's six fields, or ``rate(...)``;
- ScheduleExpressionTimezone: "By default, ScheduleExpressions are in UTC": stored as Etc/UTC
  when not given; a given zone must be an IANA name;
- StartWindowHours: "Defaults to 24 hours ... a maximum value of 168 hours"; the fake takes 1-168;
- RecoveryPointSelection: Algorithm, RecoveryPointTypes and IncludeVaults required (their docs,
  not the model, say so), SelectionWindowDays 1-365 defaulting to 30, ExcludeVaults defaulting
  to the empty list;
- CreatorRequestId: "1 to 50 alphanumeric or '-_.' characters".
- ARN: ``arn:aws:backup:{region}:{account}:restore-testing-plan:{name}-{id}``, the form of the
  IAM Service Authorization Reference (``${RestoreTestingPlanName}-${RestoreTestingPlanId}``).
  The ID's form is not documented; the fake mints 6 random lowercase letters and digits.

Selections ("RestoreTestingSelectionForCreate"): the same name rule; ProtectedResourceType one of
the ten types the documentation lists; ProtectedResourceArns either ``["*"]`` (which may come
with ProtectedResourceConditions) or up to 30 specific ARNs (more: LimitExceededException) and
then no conditions; one of the two must be given; ValidationWindowHours 0-168; IamRoleArn an IAM
role ARN. Conditions are stored with both lists present (``{"StringEquals": [],
"StringNotEquals": []}`` when none are given, as AWS returns them), their keys and values
matching the documented patterns (``\\p{L}\\p{Z}\\p{N}`` read as Python's ``\\w`` and space).

Breaking a rule raises ``Refused`` with the code AWS sends (InvalidParameterValueException,
MissingParameterValueException, LimitExceededException); it is a ValueError, so the store's
helpers refuse the same values the API does.
"""

from __future__ import annotations

import re
import secrets
import string
import zoneinfo
from collections.abc import Mapping
from typing import Any

DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"
DEFAULT_TIMEZONE = "Etc/UTC"
DEFAULT_START_WINDOW_HOURS = 24
DEFAULT_SELECTION_WINDOW_DAYS = 30
START_WINDOW_HOURS = range(1, 169)
SELECTION_WINDOW_DAYS = range(1, 366)
VALIDATION_WINDOW_HOURS = range(0, 169)
MAX_SPECIFIC_ARNS = 30
PROTECTED_RESOURCE_TYPES = (
    "Aurora", "DocumentDB", "DynamoDB", "EBS", "EC2", "EFS", "FSx", "Neptune", "RDS", "S3",
)  # fmt: skip
PLAN_ID_LENGTH = 6

_NAME = re.compile(r"[A-Za-z0-9_]{1,50}")
_CREATOR_REQUEST_ID = re.compile(r"[A-Za-z0-9_.\-]{1,50}")
_CRON = re.compile(r"cron\(\S+( \S+){5}\)")
_RATE = re.compile(r"rate\([1-9][0-9]* (minute|hour|day)s?\)")
_IAM_ROLE = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+")
_TAG_KEY = re.compile(r"(?![aA][wW][sS]:)[\w .:/=+\-@]{1,128}")
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}")
_ID_CHARACTERS = string.ascii_lowercase + string.digits


class Refused(ValueError):  # noqa: N818 (a refusal, raised to the caller)
    """A value AWS refuses; ``code`` is the error it answers with."""

    def __init__(self, code: str, message: str, members: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.members = dict(members or {})


def _invalid(message: str) -> Refused:
    return Refused("InvalidParameterValueException", message)


def _missing(message: str) -> Refused:
    return Refused("MissingParameterValueException", message)


def check_name(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise _invalid(f"{what} {name!r} must be 1 to 50 alphanumeric characters and underscores")


def check_creator_request_id(value: str | None) -> None:
    if value is not None and not _CREATOR_REQUEST_ID.fullmatch(value):
        raise _invalid(f"CreatorRequestId {value!r} must be 1 to 50 alphanumeric or '-_.' chars")


def _in_range(name: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise _invalid(f"{name} {value} is not between {allowed.start} and {allowed.stop - 1}")


def mint_plan_arn(account_id: str, region: str, name: str, plan_id: str | None = None) -> str:
    """A new plan's ARN (see the module docstring); ``plan_id``: random when not given."""
    if plan_id is None:
        plan_id = "".join(secrets.choice(_ID_CHARACTERS) for _ in range(PLAN_ID_LENGTH))
    return f"arn:aws:backup:{region}:{account_id}:restore-testing-plan:{name}-{plan_id}"


def _schedule(fields: dict[str, Any]) -> None:
    expression = fields.get("ScheduleExpression")
    if expression == "":
        fields["ScheduleExpression"] = DEFAULT_SCHEDULE
    elif expression is not None and not (
        _CRON.fullmatch(expression) or _RATE.fullmatch(expression)
    ):
        raise _invalid(f"ScheduleExpression {expression!r} is not a cron() or rate() expression")
    zone = fields.get("ScheduleExpressionTimezone")
    if zone is not None and zone != DEFAULT_TIMEZONE:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _invalid(f"ScheduleExpressionTimezone {zone!r} is not a time zone") from None


def recovery_point_selection(selection: Mapping[str, Any]) -> dict[str, Any]:
    """A RecoveryPointSelection checked, with its defaults filled in."""
    for name in ("Algorithm", "RecoveryPointTypes", "IncludeVaults"):
        if not selection.get(name):
            raise _missing(f"RecoveryPointSelection.{name} is required")
    filled: dict[str, Any] = {
        "ExcludeVaults": [],
        "SelectionWindowDays": DEFAULT_SELECTION_WINDOW_DAYS,
    }
    filled.update({k: v for k, v in selection.items() if v is not None})
    _in_range("SelectionWindowDays", filled["SelectionWindowDays"], SELECTION_WINDOW_DAYS)
    return filled


def plan_fields(plan: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """A plan's given fields checked (the name only when ``creating``), with the defaults a new
    plan gets when ``creating``; for an update, the changed fields alone."""
    fields = {name: value for name, value in plan.items() if value is not None}
    if creating:
        check_name("RestoreTestingPlanName", fields.get("RestoreTestingPlanName", ""))
        fields.setdefault("ScheduleExpression", "")
        fields.setdefault("ScheduleExpressionTimezone", DEFAULT_TIMEZONE)
        fields.setdefault("StartWindowHours", DEFAULT_START_WINDOW_HOURS)
        if "RecoveryPointSelection" not in fields:
            raise _missing("RecoveryPointSelection is required")
    _schedule(fields)
    if "StartWindowHours" in fields:
        _in_range("StartWindowHours", fields["StartWindowHours"], START_WINDOW_HOURS)
    if "RecoveryPointSelection" in fields:
        fields["RecoveryPointSelection"] = recovery_point_selection(
            fields["RecoveryPointSelection"]
        )
    return fields


def _conditions(conditions: Mapping[str, Any]) -> dict[str, Any]:
    filled: dict[str, Any] = {"StringEquals": [], "StringNotEquals": []}
    filled.update({k: list(v) for k, v in conditions.items() if v is not None})
    for kind, pairs in filled.items():
        for pair in pairs:
            key, value = pair.get("Key", ""), pair.get("Value", "")
            if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(value):
                raise _invalid(f"ProtectedResourceConditions.{kind}: bad tag {key!r}={value!r}")
    return filled


def _has_conditions(selection: Mapping[str, Any]) -> bool:
    conditions = selection.get("ProtectedResourceConditions") or {}
    return any(conditions.get(kind) for kind in ("StringEquals", "StringNotEquals"))


def _resources(selection: Mapping[str, Any]) -> None:
    arns = selection.get("ProtectedResourceArns")
    if arns is None and not _has_conditions(selection):
        raise _missing("ProtectedResourceArns or ProtectedResourceConditions is required")
    if arns is None or arns == ["*"]:
        return
    if "*" in arns:
        raise _invalid("ProtectedResourceArns takes the wildcard ['*'] or specific ARNs, not both")
    if len(arns) > MAX_SPECIFIC_ARNS:
        raise Refused(
            "LimitExceededException",
            f"{len(arns)} ProtectedResourceArns: at most {MAX_SPECIFIC_ARNS} specific ARNs",
        )
    if _has_conditions(selection):
        raise _invalid("ProtectedResourceConditions need ProtectedResourceArns ['*'], not ARNs")


def selection_fields(
    selection: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new selection checked with its defaults (``current`` None), or an update's changes
    checked against the selection they change; returns the fields to store or change."""
    changes = {name: value for name, value in selection.items() if value is not None}
    if current is None:
        check_name("RestoreTestingSelectionName", changes.get("RestoreTestingSelectionName", ""))
        changes.setdefault("ProtectedResourceConditions", {})
        kind = changes.get("ProtectedResourceType")
        if kind not in PROTECTED_RESOURCE_TYPES:
            known = ", ".join(PROTECTED_RESOURCE_TYPES)
            raise _invalid(f"ProtectedResourceType {kind!r} is not one of {known}")
    if "ProtectedResourceConditions" in changes:
        changes["ProtectedResourceConditions"] = _conditions(changes["ProtectedResourceConditions"])
    role = changes.get("IamRoleArn")
    if role is not None and not _IAM_ROLE.fullmatch(role):
        raise _invalid(f"IamRoleArn {role!r} is not the ARN of an IAM role")
    hours = changes.get("ValidationWindowHours")
    if hours is not None:
        _in_range("ValidationWindowHours", hours, VALIDATION_WINDOW_HOURS)
    _resources({**(current or {}), **changes})
    return changes
