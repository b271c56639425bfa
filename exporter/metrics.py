"""What the exporter exposes: the metric contract, in one place.

Per-job series follow kube-state-metrics: identity labels (account_id, region, restore_job_id,
resource_type) on every series, descriptive attributes on one ``_info`` series, states as state
sets (one series per possible state, 1 for the current one), times as ``_timestamp_seconds``.
Free text (status messages) never goes on the state series: it sits, truncated, on its own
``_message_info`` series.

``job_samples`` is the single definition of a job's series. Both the prometheus-client
collector and the cached text renderer (exposition.py) are built on it.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import boto3
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter import __version__
from exporter.aws import TARGET_DOWN_REASONS
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


@dataclass(frozen=True)
class JobFamily:
    name: str
    help: str
    extra_labels: tuple[str, ...] = ()


JOB_FAMILIES: tuple[JobFamily, ...] = (
    JobFamily(
        "aws_backup_restore_job_info",
        "Constant 1 per restore job; its descriptive attributes as labels (empty when AWS "
        "gives none).",
        INFO_LABELS,
    ),
    JobFamily(
        "aws_backup_restore_job_status",
        "Restore job status as a state set: 1 for the current status, 0 for the others.",
        ("status",),
    ),
    JobFamily(
        "aws_backup_restore_job_validation_status",
        "Restore-test validation status as a state set; only for jobs that have one.",
        ("validation_status",),
    ),
    JobFamily(
        "aws_backup_restore_job_deletion_status",
        "Restore-test clean-up (deletion) status as a state set; only for jobs that have one.",
        ("deletion_status",),
    ),
    JobFamily(
        "aws_backup_restore_job_progress_ratio",
        "Progress of the restore job, 0 to 1, from PercentDone; absent when AWS gives none.",
    ),
    JobFamily("aws_backup_restore_job_backup_size_bytes", "Size of the restored resource."),
    JobFamily(
        "aws_backup_restore_job_expected_duration_seconds",
        "How long AWS expects the restore to take (ExpectedCompletionTimeMinutes).",
    ),
    JobFamily(
        "aws_backup_restore_job_duration_seconds",
        "Completion minus creation for finished jobs; now minus creation for PENDING and "
        "RUNNING jobs.",
    ),
    JobFamily(
        "aws_backup_restore_job_creation_timestamp_seconds",
        "When the restore job was created (Unix time).",
    ),
    JobFamily(
        "aws_backup_restore_job_completion_timestamp_seconds",
        "When the restore job completed (Unix time); absent until it has.",
    ),
    JobFamily(
        "aws_backup_restore_job_recovery_point_creation_timestamp_seconds",
        "When the recovery point being restored was created (Unix time).",
    ),
    JobFamily(
        "aws_backup_restore_job_message_info",
        "Constant 1 for jobs with a status, validation or deletion message; the messages, "
        "truncated, as labels.",
        MESSAGE_LABELS,
    ),
)
FAMILY_INDEX = {family.name: index for index, family in enumerate(JOB_FAMILIES)}
(
    INFO,
    STATUS,
    VALIDATION,
    DELETION,
    PROGRESS,
    SIZE,
    EXPECTED,
    DURATION,
    CREATED,
    COMPLETED,
    RECOVERY_POINT,
    MESSAGE,
) = range(len(JOB_FAMILIES))

Sample = tuple[int, tuple[str, ...], float]  # (family index, extra label values, value)


def truncate(text: str, limit: int) -> str:
    """Cut free text to ``limit`` characters, marking the cut, so a label stays bounded."""
    text = text.replace("\r", " ").replace("\n", " ").strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…" if limit > 0 else ""


def _state_set(current: str | None, states: Sequence[str]) -> Iterator[tuple[str, float]]:
    # An unknown state that AWS adds one day still shows as 1, next to the known ones at 0.
    for state in states:
        yield state, 1.0 if state == current else 0.0
    if current is not None and current not in states:
        yield current, 1.0


def job_samples(job: RestoreJob, now: float, message_max_length: int) -> Iterator[Sample]:
    """Every sample of one job, in family order. The identity labels are implied."""
    is_parent = "" if job.is_parent is None else ("true" if job.is_parent else "false")
    yield (
        INFO,
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
    for state, value in _state_set(job.status, STATUSES):
        yield STATUS, (state,), value
    if job.validation_status is not None:
        for state, value in _state_set(job.validation_status, VALIDATION_STATUSES):
            yield VALIDATION, (state,), value
    if job.deletion_status is not None:
        for state, value in _state_set(job.deletion_status, DELETION_STATUSES):
            yield DELETION, (state,), value
    for family, number in (
        (PROGRESS, job.progress_ratio),
        (SIZE, job.backup_size_bytes),
        (EXPECTED, job.expected_duration_seconds),
        (DURATION, job.duration_seconds(now)),
        (CREATED, job.creation_timestamp),
        (COMPLETED, job.completion_timestamp),
        (RECOVERY_POINT, job.recovery_point_creation_timestamp),
    ):
        if number is not None:
            yield family, (), number
    messages = (job.status_message, job.validation_status_message, job.deletion_status_message)
    if any(messages):
        yield MESSAGE, tuple(truncate(text, message_max_length) for text in messages), 1.0


def identity(job: RestoreJob) -> tuple[str, str, str, str]:
    return job.account_id, job.region, job.restore_job_id, job.resource_type


def job_metric_families(
    jobs: Iterable[RestoreJob], now: float, message_max_length: int
) -> list[Metric]:
    """The per-job families as prometheus-client objects (the plain collector path)."""
    families = [
        GaugeMetricFamily(family.name, family.help, labels=IDENTITY_LABELS + family.extra_labels)
        for family in JOB_FAMILIES
    ]
    for job in jobs:
        labels = identity(job)
        for index, extra, value in job_samples(job, now, message_max_length):
            families[index].add_metric(labels + extra, value)
    return list(families)


def aggregate_family(jobs: Iterable[RestoreJob]) -> Metric:
    """Jobs in the window by status: what alerts and dashboards need, at a fixed cardinality."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    groups: set[tuple[str, str, str]] = set()
    for job in jobs:
        group = (job.account_id, job.region, job.resource_type)
        groups.add(group)
        counts[(*group, job.status or "")] += 1
    family = GaugeMetricFamily(
        "aws_backup_restore_jobs",
        "Restore jobs in the lookback window (plus any still PENDING or RUNNING), by status.",
        labels=("account_id", "region", "resource_type", "status"),
    )
    for group in sorted(groups):
        statuses = list(STATUSES) + sorted(
            {key[3] for key in counts if key[:3] == group and key[3] not in STATUSES}
        )
        for status in statuses:
            family.add_metric((*group, status), float(counts.get((*group, status), 0)))
    return family


def build_info_family() -> Metric:
    family = GaugeMetricFamily(
        "aws_backup_restore_exporter_build_info",
        "Constant 1; the exporter's version and that of its Python and boto3.",
        labels=("version", "python_version", "boto3_version"),
    )
    family.add_metric((__version__, platform.python_version(), boto3.__version__), 1.0)
    return family


@dataclass(frozen=True)
class TargetHealth:
    """One target's health figures for one scrape."""

    name: str
    region: str
    up: bool
    down_reason: str | None
    scrape_seconds: float
    data_age_seconds: float | None
    jobs: int
    jobs_dropped: int
    api_requests: dict[tuple[str, str], int]
    syncs: dict[tuple[str, str], int]
    lookup_errors: dict[str, str]


def health_families(targets: Sequence[TargetHealth]) -> list[Metric]:
    """The exporter's own series: per-target health, cost in API calls, lookup errors."""
    up = GaugeMetricFamily(
        "aws_backup_restore_exporter_target_up",
        "1 if the last sync of the target succeeded, 0 if it failed (see ..._target_down_reason).",
        labels=("target", "region"),
    )
    reason = GaugeMetricFamily(
        "aws_backup_restore_exporter_target_down_reason",
        "Why a target is down, as a state set: 1 for the current reason, all 0 while it is up.",
        labels=("target", "region", "reason"),
    )
    duration = GaugeMetricFamily(
        "aws_backup_restore_exporter_scrape_duration_seconds",
        "Time this scrape spent on the target (waiting for its sync, up to the deadline).",
        labels=("target",),
    )
    age = GaugeMetricFamily(
        "aws_backup_restore_exporter_target_data_age_seconds",
        "Age of the target's data: time since its last successful sync ended. Grows when AWS is "
        "slow or failing and the last known state is served instead.",
        labels=("target", "region"),
    )
    held = GaugeMetricFamily(
        "aws_backup_restore_exporter_target_jobs",
        "Restore jobs the exporter holds for the target (in the window, configured or active).",
        labels=("target", "region"),
    )
    dropped = GaugeMetricFamily(
        "aws_backup_restore_exporter_target_jobs_dropped",
        "Jobs not exposed per job because of metrics.max_jobs_per_target (oldest first).",
        labels=("target", "region"),
    )
    requests = CounterMetricFamily(
        "aws_backup_restore_exporter_api_requests",
        "HTTP requests sent to AWS Backup (retries included), by operation and outcome.",
        labels=("target", "operation", "outcome"),
    )
    syncs = CounterMetricFamily(
        "aws_backup_restore_exporter_syncs",
        "Syncs of a target with AWS, by kind (full, incremental) and result.",
        labels=("target", "kind", "result"),
    )
    lookups = GaugeMetricFamily(
        "aws_backup_restore_exporter_restore_job_lookup_errors",
        "1 for each configured restore job ID that could not be read, with the reason.",
        labels=("target", "restore_job_id", "reason"),
    )
    for target in targets:
        up.add_metric((target.name, target.region), 1.0 if target.up else 0.0)
        why_down = target.down_reason if target.down_reason in TARGET_DOWN_REASONS else "other"
        for state in TARGET_DOWN_REASONS:
            current = not target.up and why_down == state
            reason.add_metric((target.name, target.region, state), 1.0 if current else 0.0)
        duration.add_metric((target.name,), target.scrape_seconds)
        if target.data_age_seconds is not None:
            age.add_metric((target.name, target.region), target.data_age_seconds)
        held.add_metric((target.name, target.region), float(target.jobs))
        dropped.add_metric((target.name, target.region), float(target.jobs_dropped))
        for (operation, outcome), count in sorted(target.api_requests.items()):
            requests.add_metric((target.name, operation, outcome), float(count))
        for (kind, result), count in sorted(target.syncs.items()):
            syncs.add_metric((target.name, kind, result), float(count))
        for job_id, why in sorted(target.lookup_errors.items()):
            lookups.add_metric((target.name, job_id, why), 1.0)
    return [up, reason, duration, age, held, dropped, requests, syncs, lookups]
