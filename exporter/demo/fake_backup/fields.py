"""What a stored restore job is: its fields as the model's DescribeRestoreJobOutput names and types
them, normalised once when they are stored.

Timestamps are kept as aware UTC datetimes cut to milliseconds (AWS's precision: a date read back
through a client compares equal to the one stored), and as integer microseconds for the filters
and the sort order, which compare them on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from botocore.model import Shape

from exporter.demo.fake_backup.constraints import Violation, check
from exporter.demo.fake_backup.model import structure

Job = dict[str, Any]
JOB_SHAPE = "DescribeRestoreJobOutput"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@cache
def job_members() -> dict[str, Shape]:
    """Every field a restore job can have, with its shape."""
    return dict(structure(JOB_SHAPE).members)


def to_datetime(value: datetime | float) -> datetime:
    """Aware UTC, cut to milliseconds; a naive datetime is UTC, a number epoch seconds."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return datetime.fromtimestamp(round(float(value), 3), UTC)


def micros(value: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (value - _EPOCH) // _MICROSECOND


def normalised(name: str, value: Any) -> Any:
    """``value`` as stored for field ``name``: TypeError or ValueError if AWS could not send it."""
    shape = job_members().get(name)
    if shape is None:
        raise TypeError(f"{name!r} is not a field of a restore job")
    if shape.type_name == "timestamp":
        if isinstance(value, bool) or not isinstance(value, datetime | int | float):
            raise TypeError(f"{name} must be a datetime or epoch seconds, not {value!r}")
        value = to_datetime(value)
    elif isinstance(value, dict):
        value = dict(value)
    try:
        check(shape, value, name)
    except Violation as violation:
        raise (ValueError if violation.kind == "value" else TypeError)(str(violation)) from None
    return value


def copy_job(job: Job) -> Job:
    """A copy the caller may change (nested structures included; datetimes are immutable)."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in job.items()}


@dataclass(slots=True)
class StoredJob:
    """One job, with what the store derives from it; ``texts`` caches its rendered JSON per
    output shape and is dropped whenever the job changes."""

    fields: Job
    created_us: int = 0
    completed_us: int | None = None
    texts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Re-derive after a change of ``fields``."""
        self.created_us = micros(self.fields["CreationDate"])
        completed = self.fields.get("CompletionDate")
        self.completed_us = None if completed is None else micros(completed)
        self.texts.clear()

    @property
    def job_id(self) -> str:
        return str(self.fields["RestoreJobId"])

    @property
    def sort_key(self) -> tuple[int, str]:
        """Newest first, then by ID: a total order a pagination cursor can point into."""
        return (-self.created_us, self.job_id)
