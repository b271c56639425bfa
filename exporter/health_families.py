"""The exporter's own families: per-target health, what it costs in API calls, and build info.

A target that fails shows as ``..._target_up 0`` with its reason while every other target goes
on exporting (the fritz_exporter pattern); a scrape never fails as a whole for one target.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import boto3

from exporter import __version__
from exporter.aws_errors import TARGET_DOWN_REASONS
from exporter.families import Family, Identity, RenderContext, Sample, present, state_set
from exporter.store import ReloadStatus, TargetHealth

TARGET_LABELS = ("target", "region", "account_id")
BY_TARGET: Identity[TargetHealth] = Identity(
    TARGET_LABELS, lambda h: (h.name, h.region, h.account_id)
)
BY_NAME: Identity[TargetHealth] = Identity(
    ("target", "account_id"), lambda h: (h.name, h.account_id)
)


def _per_target(
    name: str, help: str, read: Callable[[TargetHealth], float | None]
) -> Family[TargetHealth]:
    """A gauge with one sample per target, labelled (target, region, account_id)."""
    return Family(name, "gauge", help, TARGET_LABELS, lambda h, _: present(read(h)), BY_TARGET)


def _down_reason(health: TargetHealth, _: RenderContext) -> Iterator[Sample]:
    why = health.down_reason if health.down_reason in TARGET_DOWN_REASONS else "other"
    for state, value in state_set(None if health.up else why, TARGET_DOWN_REASONS):
        yield (state,), value


def _counter(
    name: str,
    help: str,
    labels: tuple[str, str],
    read: Callable[[TargetHealth], Mapping[tuple[str, str], int]],
) -> Family[TargetHealth]:
    """A counter per target from a mapping of (label, label) -> count."""

    def samples(health: TargetHealth, _: RenderContext) -> Iterator[Sample]:
        for key, count in sorted(read(health).items()):
            yield key, float(count)

    return Family(name, "counter", help, (*BY_NAME.labels, *labels), samples, BY_NAME)


def _source_up(health: TargetHealth, _: RenderContext) -> Iterator[Sample]:
    for source, up in sorted(health.source_up.items()):
        yield (source,), 1.0 if up else 0.0


def _lookup_errors(health: TargetHealth, _: RenderContext) -> Iterator[Sample]:
    for job_id, why in sorted(health.lookup_errors.items()):
        yield (job_id, why), 1.0


TARGET_FAMILIES: tuple[Family[TargetHealth], ...] = (
    _per_target(
        "aws_backup_restore_exporter_target_up",
        "1 if the last sync of the target succeeded, 0 if it failed (see ..._target_down_reason).",
        lambda health: 1.0 if health.up else 0.0,
    ),
    Family(
        "aws_backup_restore_exporter_target_down_reason",
        "gauge",
        "Why a target is down, as a state set: 1 for the current reason, all 0 while it is up.",
        (*TARGET_LABELS, "reason"),
        _down_reason,
        BY_TARGET,
    ),
    Family(
        "aws_backup_restore_exporter_scrape_duration_seconds",
        "gauge",
        "Time this scrape spent on the target (waiting for its sync, up to the deadline; 0 "
        "with background sync, where a scrape answers from memory).",
        BY_NAME.labels,
        lambda health, _: present(health.scrape_seconds),
        BY_NAME,
    ),
    Family(
        "aws_backup_restore_exporter_target_sync_duration_seconds",
        "gauge",
        "How long the target's last sync with AWS took (every source); absent before the first.",
        BY_NAME.labels,
        lambda health, _: present(health.sync_seconds),
        BY_NAME,
    ),
    Family(
        "aws_backup_restore_exporter_source_up",
        "gauge",
        "1 if the last run of one of the target's sources (restore_jobs, restore_testing, "
        "protected_resources) succeeded, 0 if it failed; a source that never ran is absent.",
        (*BY_NAME.labels, "source"),
        _source_up,
        BY_NAME,
    ),
    _per_target(
        "aws_backup_restore_exporter_target_data_age_seconds",
        "Age of the target's data: time since its last successful sync ended. Grows when AWS is "
        "slow or failing and the last known state is served instead.",
        lambda health: health.data_age_seconds,
    ),
    _per_target(
        "aws_backup_restore_exporter_target_jobs",
        "Restore jobs the exporter holds for the target (in the window, configured or active).",
        lambda health: float(health.jobs),
    ),
    _per_target(
        "aws_backup_restore_exporter_target_jobs_dropped",
        "Jobs not exposed per job because of metrics.max_jobs_per_target (oldest first).",
        lambda health: float(health.jobs_dropped),
    ),
    _per_target(
        "aws_backup_restore_exporter_target_protected_resources_dropped",
        "Protected resources listed but not described because of "
        "restore_testing.max_protected_resources.",
        lambda health: float(health.protected_resources_dropped),
    ),
    _counter(
        "aws_backup_restore_exporter_api_requests",
        "HTTP requests sent to AWS Backup (retries included), by operation and outcome.",
        ("operation", "outcome"),
        lambda health: health.api_requests,
    ),
    _counter(
        "aws_backup_restore_exporter_syncs",
        "Syncs of a target's sources with AWS, by kind (full, incremental, restore_testing, "
        "protected_resources) and result.",
        ("kind", "result"),
        lambda health: health.syncs,
    ),
    Family(
        "aws_backup_restore_exporter_restore_job_lookup_errors",
        "gauge",
        "1 for each configured restore job ID that could not be read, with the reason.",
        (*BY_NAME.labels, "restore_job_id", "reason"),
        _lookup_errors,
        BY_NAME,
    ),
)


@dataclass(frozen=True)
class BuildInfo:
    version: str
    python_version: str
    boto3_version: str


BUILD = BuildInfo(__version__, platform.python_version(), boto3.__version__)

BUILD_INFO_FAMILY: Family[BuildInfo] = Family(
    "aws_backup_restore_exporter_build_info",
    "gauge",
    "Constant 1; the exporter's version and that of its Python and boto3.",
    ("version", "python_version", "boto3_version"),
    lambda info, _: iter([((info.version, info.python_version, info.boto3_version), 1.0)]),
)


WEB_CONFIG_FAMILIES: tuple[Family[ReloadStatus], ...] = (
    Family(
        "aws_backup_restore_exporter_web_config_last_reload_successful",
        "gauge",
        "1 if the last reload of --web.config.file (and the certificates it names) succeeded, 0 "
        "if it failed and the last good configuration is still served.",
        (),
        lambda status, _: present(1.0 if status.successful else 0.0),
    ),
    Family(
        "aws_backup_restore_exporter_web_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the web configuration last loaded successfully (Unix time; start-up counts).",
        (),
        lambda status, _: present(status.last_success_timestamp),
    ),
)
