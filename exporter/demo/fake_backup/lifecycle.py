"""How a restore job moves through its states, as the field changes each step makes.

PENDING -> RUNNING (progress in PercentDone) -> COMPLETED, FAILED or ABORTED (each with a
CompletionDate); a restore test then validates (ValidationStatus VALIDATING -> SUCCESSFUL, FAILED
or TIMED_OUT) and cleans up what it restored (DeletionStatus DELETING -> SUCCESSFUL or FAILED).
Each helper returns a dict for ``RestoreJobStore.update`` (or to merge into a new job's fields);
a ``None`` value removes a field, so a finished job never keeps a stale message. The demo
scenario and the benchmarks' generator both move jobs with these, so a finished job looks the
same wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

Fields = dict[str, Any]
Moment = datetime | float
FINAL_STATUSES = ("COMPLETED", "ABORTED", "FAILED")


def is_restore_test(job: Mapping[str, Any]) -> bool:
    return bool((job.get("CreatedBy") or {}).get("RestoreTestingPlanArn"))


def percent_done(job: Mapping[str, Any]) -> float:
    return float(str(job.get("PercentDone") or "0%").rstrip("%"))


def running(expected_minutes: int | None = None, percent: float = 0.0) -> Fields:
    fields: Fields = {"Status": "RUNNING", "PercentDone": f"{percent:.2f}%"}
    if expected_minutes is not None:
        fields["ExpectedCompletionTimeMinutes"] = expected_minutes
    return fields


def progressed(percent: float) -> Fields:
    return {"PercentDone": f"{min(percent, 100.0):.2f}%"}


def completed(now: Moment, created_resource_arn: str, size_in_bytes: int | None = None) -> Fields:
    fields: Fields = {
        "Status": "COMPLETED",
        "CompletionDate": now,
        "PercentDone": "100.00%",
        "CreatedResourceArn": created_resource_arn,
        "StatusMessage": None,
    }
    if size_in_bytes is not None:
        fields["BackupSizeInBytes"] = size_in_bytes
    return fields


def failed(now: Moment, message: str) -> Fields:
    return {"Status": "FAILED", "CompletionDate": now, "StatusMessage": message}


def aborted(now: Moment, message: str = "Restore job aborted by the user.") -> Fields:
    return {"Status": "ABORTED", "CompletionDate": now, "StatusMessage": message}


def validating() -> Fields:
    return {"ValidationStatus": "VALIDATING", "ValidationStatusMessage": None}


def validated(status: str = "SUCCESSFUL", message: str | None = None) -> Fields:
    """The end of a restore test's validation: SUCCESSFUL, FAILED or TIMED_OUT."""
    return {"ValidationStatus": status, "ValidationStatusMessage": message}


def cleanup_started() -> Fields:
    return {"DeletionStatus": "DELETING", "DeletionStatusMessage": None}


def cleaned_up(status: str = "SUCCESSFUL", message: str | None = None) -> Fields:
    """The end of a restore test's clean-up: SUCCESSFUL or FAILED."""
    return {"DeletionStatus": status, "DeletionStatusMessage": message}
