"""The restore-job families: one series set per job, and the per-status aggregate.

Per-job series follow kube-state-metrics: identity labels (account_id, region, restore_job_id,
resource_type) on every series, descriptive attributes on one ``_info`` series, states as state
sets (one series per possible state, 1 for the current one), times as ``_timestamp_seconds``.
Free text (status messages) never goes on the state series: it sits, truncated, on its own
``_message_info`` series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter

from exporter.families import (
    Family,
    Identity,
    LabelValues,
    RenderContext,
    Sample,
    present,
    state_set,
)
from exporter.model import DELETION_STATUSES, STATUSES, VALIDATION_STATUSES, RestoreJob

IDENTITY_LABELS = ("account_id", "region", "restore_job_id", "resource_type")
INFO_LABELS = (
    "recovery_point_arn",
    "source_resource_arn",
    "created_resource_arn",
    "backup_vault_arn",
    "iam_role_arn",
    "restore_testing_plan_arn",
    "parent_job_id",
    "is_parent",
)
MESSAGE_LABELS = ("status_message", "validation_status_message", "deletion_status_message")

JobSamples = Callable[[RestoreJob, RenderContext], Iterable[Sample]]


def identity(job: RestoreJob) -> LabelValues:
    return job.account_id, job.region, job.restore_job_id, job.resource_type


def truncate(text: str, limit: int) -> str:
    """Cut free text to ``limit`` characters, marking the cut, so a label stays bounded."""
    text = text.replace("\r", " ").replace("\n", " ").strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…" if limit > 0 else ""


JOB_IDENTITY: Identity[RestoreJob] = Identity(IDENTITY_LABELS, identity)


def _job_family(
    name: str,
    help: str,
    own_labels: tuple[str, ...],
    samples: JobSamples,
    varies_with_time: bool = False,
) -> Family[RestoreJob]:
    """A per-job family: the identity labels first, then the family's own."""
    labels = IDENTITY_LABELS + own_labels
    return Family(name, "gauge", help, labels, samples, JOB_IDENTITY, varies_with_time)


def _info(job: RestoreJob, _: RenderContext) -> Iterator[Sample]:
    is_parent = "" if job.is_parent is None else ("true" if job.is_parent else "false")
    yield (
        (
            job.recovery_point_arn,
            job.source_resource_arn,
            job.created_resource_arn,
            job.backup_vault_arn,
            job.iam_role_arn,
            job.restore_testing_plan_arn,
            job.parent_job_id,
            is_parent,
        ),
        1.0,
    )


def _states(current: str | None, states: tuple[str, ...], always: bool) -> Iterator[Sample]:
    if always or current is not None:
        for state, value in state_set(current, states):
            yield (state,), value


def _messages(job: RestoreJob, context: RenderContext) -> Iterator[Sample]:
    messages = (job.status_message, job.validation_status_message, job.deletion_status_message)
    if any(messages):
        yield tuple(truncate(text, context.message_max_length) for text in messages), 1.0


def _value(name: str) -> JobSamples:
    """The job's attribute ``name``, when it has one."""
    read = attrgetter(name)
    return lambda job, _: present(read(job))


JOB_FAMILIES: tuple[Family[RestoreJob], ...] = (
    _job_family(
        "aws_backup_restore_job_info",
        "Constant 1 per restore job; its descriptive attributes as labels (empty when AWS "
        "gives none).",
        INFO_LABELS,
        _info,
    ),
    _job_family(
        "aws_backup_restore_job_status",
        "Restore job status as a state set: 1 for the current status, 0 for the others.",
        ("status",),
        lambda job, _: _states(job.status, STATUSES, always=True),
    ),
    _job_family(
        "aws_backup_restore_job_validation_status",
        "Restore-test validation status as a state set; only for jobs that have one.",
        ("validation_status",),
        lambda job, _: _states(job.validation_status, VALIDATION_STATUSES, always=False),
    ),
    _job_family(
        "aws_backup_restore_job_deletion_status",
        "Restore-test clean-up (deletion) status as a state set; only for jobs that have one.",
        ("deletion_status",),
        lambda job, _: _states(job.deletion_status, DELETION_STATUSES, always=False),
    ),
    _job_family(
        "aws_backup_restore_job_progress_ratio",
        "Progress of the restore job, 0 to 1, from PercentDone; absent when AWS gives none.",
        (),
        _value("progress_ratio"),
    ),
    _job_family(
        "aws_backup_restore_job_backup_size_bytes",
        "Size of the restored resource.",
        (),
        _value("backup_size_bytes"),
    ),
    _job_family(
        "aws_backup_restore_job_expected_duration_seconds",
        "How long AWS expects the restore to take (ExpectedCompletionTimeMinutes).",
        (),
        _value("expected_duration_seconds"),
    ),
    _job_family(
        "aws_backup_restore_job_duration_seconds",
        "Completion minus creation for finished jobs; now minus creation for PENDING and "
        "RUNNING jobs.",
        (),
        lambda job, context: present(job.duration_seconds(context.now)),
        varies_with_time=True,
    ),
    _job_family(
        "aws_backup_restore_job_creation_timestamp_seconds",
        "When the restore job was created (Unix time).",
        (),
        _value("creation_timestamp"),
    ),
    _job_family(
        "aws_backup_restore_job_completion_timestamp_seconds",
        "When the restore job completed (Unix time); absent until it has.",
        (),
        _value("completion_timestamp"),
    ),
    _job_family(
        "aws_backup_restore_job_recovery_point_creation_timestamp_seconds",
        "When the recovery point being restored was created (Unix time).",
        (),
        _value("recovery_point_creation_timestamp"),
    ),
    _job_family(
        "aws_backup_restore_job_message_info",
        "Constant 1 for jobs with a status, validation or deletion message; the messages, "
        "truncated, as labels.",
        MESSAGE_LABELS,
        _messages,
    ),
)


@dataclass(frozen=True)
class JobGroup:
    """Jobs of one account, region and resource type, counted by status."""

    account_id: str
    region: str
    resource_type: str
    by_status: Counter[str]


GroupCounts = dict[tuple[str, str, str], Counter[str]]  # (account, region, type) -> statuses


def group_counts(jobs: Iterable[RestoreJob]) -> GroupCounts:
    counts: GroupCounts = {}
    for job in jobs:
        key = (job.account_id, job.region, job.resource_type)
        counts.setdefault(key, Counter())[job.status or ""] += 1
    return counts


def groups_of(counts: Iterable[GroupCounts]) -> list[JobGroup]:
    """The aggregate's objects from several tables' counts (no job in two), sorted."""
    merged: GroupCounts = {}
    for table in counts:
        for key, statuses in table.items():
            merged.setdefault(key, Counter()).update(statuses)
    return [JobGroup(*key, merged[key]) for key in sorted(merged)]


def job_groups(jobs: Iterable[RestoreJob]) -> list[JobGroup]:
    """The aggregate's objects: one per (account, region, resource type), sorted."""
    return groups_of([group_counts(jobs)])


def _group_counts(group: JobGroup, _: RenderContext) -> Iterator[Sample]:
    # Every known status is always present, so alerts and sums need no `or vector(0)`.
    ident = (group.account_id, group.region, group.resource_type)
    unknown = sorted(status for status in group.by_status if status not in STATUSES)
    for status in (*STATUSES, *unknown):
        yield (*ident, status), float(group.by_status.get(status, 0))


AGGREGATE_FAMILY: Family[JobGroup] = Family(
    "aws_backup_restore_jobs",
    "gauge",
    "Restore jobs in the lookback window (plus any still PENDING or RUNNING), by status.",
    ("account_id", "region", "resource_type", "status"),
    _group_counts,
)
