"""The exporter's YAML configuration, read into typed, validated, immutable objects.

Every error names the key it is about (``targets[1].discovery.lookback: ...``) so that a bad
config fails start-up with one line a user can act on. Unknown keys are errors too: a typo such
as ``restore_jobs_ids`` must not silently do nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from exporter.config_blocks import (
    DiscoveryConfig,
    RestoreTestingConfig,
    read_discovery,
    read_restore_testing,
)
from exporter.config_values import (
    ACCOUNT_ID_PATTERN,
    DAY,
    EXTERNAL_ID_PATTERN,
    REGION_PATTERN,
    ROLE_ARN_PATTERN,
    SESSION_NAME_PATTERN,
    TARGET_NAME_PATTERN,
    URL_PATTERN,
    ConfigError,
)
from exporter.config_values import ConfigSection as _Section
from exporter.config_values import boolean as _boolean
from exporter.config_values import choice as _choice
from exporter.config_values import duration as _duration
from exporter.config_values import number as _number
from exporter.config_values import string as _string
from exporter.config_values import string_list as _string_list
from exporter.job_summaries_config import (
    RestoreJobSummariesConfig,
    read_restore_job_summaries,
)
from exporter.organization_config import OrganizationConfig, read_organization
from exporter.sections import read_yaml_file

__all__ = [  # the config's types and errors, wherever they are defined
    "AwsClientConfig",
    "Config",
    "ConfigError",
    "DiscoveryConfig",
    "MetricsConfig",
    "OrganizationConfig",
    "RateLimitConfig",
    "RestoreTestingConfig",
    "SyncConfig",
    "TargetConfig",
    "load_config",
    "parse_config",
]

RetryMode = Literal["standard", "adaptive", "legacy"]
DEFAULT_ORGANIZATION_SYNC_INTERVAL = 60.0
SCRAPE_LIST_CONCURRENCY = 4  # rate_limit.list_concurrency's default when scrapes drive the syncs
BACKGROUND_LIST_CONCURRENCY = 1  # and with sync.interval (background.py)


@dataclass(frozen=True)
class TargetConfig:
    """One AWS account and region to read restore jobs from."""

    name: str
    region: str
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str = "aws-backup-restore-exporter"
    profile: str | None = None
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    restore_job_ids: tuple[str, ...] = ()
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    restore_testing: RestoreTestingConfig = field(default_factory=RestoreTestingConfig)
    restore_job_summaries: RestoreJobSummariesConfig = field(
        default_factory=RestoreJobSummariesConfig
    )
    account_id: str | None = None  # the account read; from role_arn, or known by discovery
    sts_region: str | None = None  # where its role is assumed; None: its own region

    @property
    def key(self) -> tuple[str, str]:
        """What makes two targets the same one: the account and region (the name without an
        account ID, whose credentials decide the account)."""
        return (self.account_id or f"name:{self.name}", self.region)


@dataclass(frozen=True)
class AwsClientConfig:
    """botocore settings, set explicitly so that behaviour does not depend on the environment."""

    retry_mode: RetryMode = "standard"
    max_attempts: int = 4
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SyncConfig:
    """How often and how long the exporter talks to AWS on behalf of a scrape."""

    deadline_seconds: float = 8.0
    min_interval_seconds: float = 0.0
    full_resync_interval_seconds: float = 3600.0
    completion_margin_seconds: float = 300.0
    stale_data_max_age_seconds: float = 600.0
    # None: each scrape syncs its targets (few static targets); a duration: every target syncs
    # in the background that often, spread over the interval, and a scrape answers from memory.
    interval_seconds: float | None = None
    concurrency: int = 16  # target syncs at once, at most


@dataclass(frozen=True)
class RateLimitConfig:
    """Client-side limits per target, below AWS Backup's quotas (15, 20 and 50 requests/s)."""

    describe_per_second: float = 10.0
    list_per_second: float = 15.0
    total_per_second: float = 40.0
    describe_concurrency: int = 4
    list_concurrency: int = SCRAPE_LIST_CONCURRENCY  # 1 with background sync, unless configured
    # DescribeProtectedResource's quota is 10 requests/s per account and region.
    protected_resource_per_second: float = 8.0


@dataclass(frozen=True)
class MetricsConfig:
    """Cardinality controls."""

    per_job: bool = True
    max_jobs_per_target: int = 20000
    message_max_length: int = 256


@dataclass(frozen=True)
class Config:
    targets: tuple[TargetConfig, ...]
    organization: OrganizationConfig | None = None
    aws: AwsClientConfig = field(default_factory=AwsClientConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


_url = _string(URL_PATTERN, "an http(s) URL")
_account_id = _string(ACCOUNT_ID_PATTERN, "a 12-digit account ID")


def _read_target(section: _Section) -> TargetConfig:
    region = section.require("region", _string(REGION_PATTERN, "an AWS region such as us-east-1"))
    role_arn = section.get("role_arn", _string(ROLE_ARN_PATTERN, "an IAM role ARN"), None)
    default_name = region if role_arn is None else f"{region}/{role_arn.split(':')[4]}"
    target = TargetConfig(
        name=section.get(
            "name", _string(TARGET_NAME_PATTERN, "a name of 1-128 [A-Za-z0-9_.:/@-]"), default_name
        ),
        region=region,
        role_arn=role_arn,
        external_id=section.get(
            "external_id",
            _string(EXTERNAL_ID_PATTERN, "a valid external ID"),
            None,
        ),
        role_session_name=section.get(
            "role_session_name",
            _string(SESSION_NAME_PATTERN, "a valid role session name"),
            "aws-backup-restore-exporter",
        ),
        profile=section.get("profile", _string(re.compile(r"^\S+$"), "a profile name"), None),
        endpoint_url=section.get("endpoint_url", _url, None),
        sts_endpoint_url=section.get("sts_endpoint_url", _url, None),
        restore_job_ids=section.get(
            "restore_job_ids",
            _string_list(re.compile(r"^\S{1,256}$"), "a restore job ID (no spaces)"),
            (),
        ),
        discovery=read_discovery(section.section("discovery")),
        restore_testing=read_restore_testing(section.section("restore_testing")),
        account_id=_target_account(section, role_arn),
        restore_job_summaries=read_restore_job_summaries(section.section("restore_job_summaries")),
    )
    if target.external_id is not None and target.role_arn is None:
        raise ConfigError(f"{section.key_path('external_id')}: needs role_arn")
    section.finish()
    return target


def _target_account(section: _Section, role_arn: str | None) -> str | None:
    """The account a target reads: its ``account_id`` key, else its role's account."""
    from_role = role_arn.split(":")[4] if role_arn else None
    account = section.get("account_id", _account_id, from_role)
    if from_role is not None and account != from_role:
        raise ConfigError(
            f"{section.key_path('account_id')}: {account!r} is not the account of role_arn "
            f"({from_role})"
        )
    return account


def _read_targets(root: _Section, required: bool) -> tuple[TargetConfig, ...]:
    targets_value = root.data.get("targets")
    root.used.add("targets")
    if targets_value is None and not required:
        return ()
    if not isinstance(targets_value, list) or not targets_value:
        raise ConfigError(
            "targets: expected a non-empty list of targets"
            + ("" if targets_value is not None else " (or an organization: section)")
        )
    targets = tuple(
        _read_target(_Section(f"targets[{index}]", item))
        for index, item in enumerate(targets_value)
    )
    names: dict[str, int] = {}
    for index, target in enumerate(targets):
        if target.name in names:
            raise ConfigError(
                f"targets[{index}].name: {target.name!r} is already used by "
                f"targets[{names[target.name]}] (give each target a distinct name)"
            )
        names[target.name] = index
    return targets


def _read_aws(aws: _Section) -> AwsClientConfig:
    config = AwsClientConfig(
        retry_mode=cast(
            RetryMode,
            aws.get("retry_mode", _choice(("standard", "adaptive", "legacy")), "standard"),
        ),
        max_attempts=aws.get("max_attempts", _number(1, 20, integer=True), 4),
        connect_timeout_seconds=aws.get("connect_timeout", _duration(0.1, 300), 3.0),
        read_timeout_seconds=aws.get("read_timeout", _duration(0.1, 300), 10.0),
    )
    aws.finish()
    return config


def _read_sync(sync: _Section) -> SyncConfig:
    config = SyncConfig(
        deadline_seconds=sync.get("deadline", _duration(0.1, 600), 8.0),
        min_interval_seconds=sync.get("min_interval", _duration(0, 3600), 0.0),
        full_resync_interval_seconds=sync.get(
            "full_resync_interval", _duration(60, 7 * DAY), 3600.0
        ),
        completion_margin_seconds=sync.get("completion_margin", _duration(0, DAY), 300.0),
        stale_data_max_age_seconds=sync.get("stale_data_max_age", _duration(0, 7 * DAY), 600.0),
        interval_seconds=sync.get("interval", _duration(5, DAY), None),
        concurrency=sync.get("concurrency", _number(1, 256, integer=True), 16),
    )
    sync.finish()
    return config


def _read_rate_limit(limits: _Section, list_concurrency: int) -> RateLimitConfig:
    config = RateLimitConfig(
        describe_per_second=limits.get("describe_per_second", _number(0.1, 1000), 10.0),
        list_per_second=limits.get("list_per_second", _number(0.1, 1000), 15.0),
        total_per_second=limits.get("total_per_second", _number(0.1, 1000), 40.0),
        describe_concurrency=limits.get("describe_concurrency", _number(1, 64, integer=True), 4),
        list_concurrency=limits.get(
            "list_concurrency", _number(1, 16, integer=True), list_concurrency
        ),
        protected_resource_per_second=limits.get(
            "protected_resource_per_second", _number(0.1, 10), 8.0
        ),
    )
    limits.finish()
    return config


def _read_metrics(metrics: _Section) -> MetricsConfig:
    config = MetricsConfig(
        per_job=metrics.get("per_job", _boolean, True),
        max_jobs_per_target=metrics.get("max_jobs_per_target", _number(1, 10_000_000, True), 20000),
        message_max_length=metrics.get("message_max_length", _number(0, 4096, integer=True), 256),
    )
    metrics.finish()
    return config


def parse_config(data: Any) -> Config:
    """Validate a parsed YAML document and return the Config it describes."""
    root = _Section("", data)
    organization = (
        read_organization(root.section("organization")) if root.has("organization") else None
    )
    root.used.add("organization")
    sync = _read_sync(root.section("sync"))
    if organization is not None and sync.interval_seconds is None:
        # Hundreds of targets cannot all sync within a scrape: background sync by default.
        sync = replace(sync, interval_seconds=DEFAULT_ORGANIZATION_SYNC_INTERVAL)
    # Unless configured: on the scrape path a sync's list queries run side by side, for the
    # scrape's sake; in the background one after another, on one connection, since each new
    # connection is a TLS handshake (about 2 ms of CPU) and nobody waits for a background sync.
    background = sync.interval_seconds is not None
    list_concurrency = BACKGROUND_LIST_CONCURRENCY if background else SCRAPE_LIST_CONCURRENCY
    rate_limit = _read_rate_limit(root.section("rate_limit"), list_concurrency)
    config = Config(
        targets=_read_targets(root, required=organization is None),
        organization=organization,
        aws=_read_aws(root.section("aws")),
        sync=sync,
        rate_limit=rate_limit,
        metrics=_read_metrics(root.section("metrics")),
    )
    root.finish()
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; every problem raises ConfigError."""
    data = read_yaml_file(path, ConfigError, "config file")
    return parse_config(data)
