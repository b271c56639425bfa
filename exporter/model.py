"""A restore job as the exporter sees it, parsed once from an AWS Backup response.

DescribeRestoreJob's output and a ListRestoreJobs member carry the same fields (botocore's
``DescribeRestoreJobOutput`` and ``RestoreJobsListMember``), so one parser serves both and a
discovered job never needs a describe call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Enumerations from botocore's model, in the order the model lists them.
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "ABORTED", "FAILED")
VALIDATION_STATUSES = ("FAILED", "SUCCESSFUL", "TIMED_OUT", "VALIDATING")
DELETION_STATUSES = ("DELETING", "FAILED", "SUCCESSFUL")

ACTIVE_STATUSES = frozenset({"PENDING", "RUNNING"})
FINAL_STATUSES = frozenset({"COMPLETED", "ABORTED", "FAILED"})
FINAL_DELETION_STATUSES = frozenset({"FAILED", "SUCCESSFUL"})

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%?\s*$")


def parse_percent_done(value: Any) -> float | None:
    """``PercentDone`` as a 0..1 ratio, or None when AWS sent nothing usable.

    AWS sends a string: "37.5", "37.50%", "0.00%" and "100.00%" are all seen. Anything that is
    not a number (or is out of 0..100) yields None rather than a made-up value.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _PERCENT.match(str(value))
        if match is None:
            return None
        number = float(match.group(1))
    if not math.isfinite(number) or not 0.0 <= number <= 100.0:
        return None
    return number / 100.0


def timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may carry a lone surrogate ("\ud800") that json.loads keeps; it cannot be sent
        # as UTF-8, and one such string must not fail the whole scrape.
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def non_negative(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _enum(value: Any) -> str | None:
    # An unknown value (a status AWS adds later) is kept as it is: hiding it would hide the job.
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class RestoreJob:
    """Everything the exporter shows of one restore job. Immutable: a new response, a new job."""

    account_id: str
    region: str
    restore_job_id: str
    resource_type: str
    status: str | None
    validation_status: str | None
    deletion_status: str | None
    progress_ratio: float | None
    backup_size_bytes: float | None
    expected_duration_seconds: float | None
    creation_timestamp: float | None
    completion_timestamp: float | None
    recovery_point_creation_timestamp: float | None
    recovery_point_arn: str
    source_resource_arn: str
    created_resource_arn: str
    backup_vault_arn: str
    iam_role_arn: str
    restore_testing_plan_arn: str
    parent_job_id: str
    is_parent: bool | None
    status_message: str
    validation_status_message: str
    deletion_status_message: str

    @classmethod
    def from_api(
        cls, data: Mapping[str, Any], region: str, default_account_id: str = ""
    ) -> RestoreJob:
        """Build a job from a DescribeRestoreJob response or a ListRestoreJobs member."""
        created_by = data.get("CreatedBy")
        plan_arn = (
            created_by.get("RestoreTestingPlanArn") if isinstance(created_by, Mapping) else None
        )
        expected_minutes = non_negative(data.get("ExpectedCompletionTimeMinutes"))
        is_parent = data.get("IsParent")
        return cls(
            account_id=text(data.get("AccountId")) or default_account_id,
            region=region,
            restore_job_id=text(data.get("RestoreJobId")),
            resource_type=text(data.get("ResourceType")),
            status=_enum(data.get("Status")),
            validation_status=_enum(data.get("ValidationStatus")),
            deletion_status=_enum(data.get("DeletionStatus")),
            progress_ratio=parse_percent_done(data.get("PercentDone")),
            backup_size_bytes=non_negative(data.get("BackupSizeInBytes")),
            expected_duration_seconds=None if expected_minutes is None else expected_minutes * 60,
            creation_timestamp=timestamp(data.get("CreationDate")),
            completion_timestamp=timestamp(data.get("CompletionDate")),
            recovery_point_creation_timestamp=timestamp(data.get("RecoveryPointCreationDate")),
            recovery_point_arn=text(data.get("RecoveryPointArn")),
            source_resource_arn=text(data.get("SourceResourceArn")),
            created_resource_arn=text(data.get("CreatedResourceArn")),
            backup_vault_arn=text(data.get("BackupVaultArn")),
            iam_role_arn=text(data.get("IamRoleArn")),
            restore_testing_plan_arn=text(plan_arn),
            parent_job_id=text(data.get("ParentJobId")),
            is_parent=is_parent if isinstance(is_parent, bool) else None,
            status_message=text(data.get("StatusMessage")),
            validation_status_message=text(data.get("ValidationStatusMessage")),
            deletion_status_message=text(data.get("DeletionStatusMessage")),
        )

    @property
    def is_active(self) -> bool:
        """Still PENDING or RUNNING: its progress and duration change between scrapes."""
        return self.status in ACTIVE_STATUSES or self.status is None

    @property
    def is_settled(self) -> bool:
        """Nothing about this job can change any more, so it is never fetched again.

        A restore ends in COMPLETED, ABORTED or FAILED. A restore test then goes on: validation
        (VALIDATING until a result) and clean-up of what it created (DELETING until a result), so
        it is settled only once its deletion status is final.
        """
        if self.status not in FINAL_STATUSES:
            return False
        if self.validation_status == "VALIDATING" or self.deletion_status == "DELETING":
            return False
        if self.restore_testing_plan_arn and self.status == "COMPLETED":
            return self.deletion_status in FINAL_DELETION_STATUSES
        return True

    def duration_seconds(self, now: float) -> float | None:
        """Completion minus creation for a finished job, now minus creation for one still going."""
        if self.creation_timestamp is None:
            return None
        end = self.completion_timestamp
        if end is None:
            if not self.is_active:
                return None
            end = now
        return max(0.0, end - self.creation_timestamp)
