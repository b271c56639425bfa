"""The per-target blocks of the configuration that static and discovered targets share:
``discovery`` (which restore jobs ListRestoreJobs finds) and ``restore_testing``.

An organisation applies the same blocks to every target it discovers, so both are read here,
once, for ``targets[]`` and ``organization`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.config_values import (
    ACCOUNT_ID_PATTERN,
    ARN_PATTERN,
    DAY,
    RESOURCE_TYPE_PATTERN,
    ConfigSection,
    boolean,
    choice,
    duration,
    number,
    string,
    string_list,
)
from exporter.model import STATUSES


@dataclass(frozen=True)
class DiscoveryConfig:
    """How a target finds restore jobs with ListRestoreJobs."""

    enabled: bool = True
    lookback_seconds: float = 86400.0
    resource_types: tuple[str, ...] = ()
    restore_testing_plan_arns: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    account_id: str | None = None


@dataclass(frozen=True)
class RestoreTestingConfig:
    """Restore testing plans, their selections and their last successes (and, opted in, each
    protected resource's last restore)."""

    enabled: bool = True
    refresh_interval_seconds: float = 600.0
    success_lookback_seconds: float = 30 * 86400.0
    protected_resources: bool = False
    protected_resources_refresh_interval_seconds: float = 6 * 3600.0
    max_protected_resources: int = 5000


_account_id = string(ACCOUNT_ID_PATTERN, "a 12-digit account ID")


def read_discovery(section: ConfigSection) -> DiscoveryConfig:
    discovery = DiscoveryConfig(
        enabled=section.get("enabled", boolean, True),
        lookback_seconds=section.get("lookback", duration(60, 365 * DAY), 86400.0),
        resource_types=section.get(
            "resource_types", string_list(RESOURCE_TYPE_PATTERN, "a resource type"), ()
        ),
        restore_testing_plan_arns=section.get(
            "restore_testing_plan_arns", string_list(ARN_PATTERN, "an ARN"), ()
        ),
        statuses=section.get("statuses", string_list(), ()),
        account_id=section.get("account_id", _account_id, None),
    )
    for index, status in enumerate(discovery.statuses):
        choice(STATUSES)(section.key_path(f"statuses[{index}]"), status)
    section.finish()
    return discovery


def read_restore_testing(section: ConfigSection) -> RestoreTestingConfig:
    defaults = RestoreTestingConfig()
    config = RestoreTestingConfig(
        enabled=section.get("enabled", boolean, defaults.enabled),
        refresh_interval_seconds=section.get(
            "refresh_interval", duration(10, DAY), defaults.refresh_interval_seconds
        ),
        success_lookback_seconds=section.get(
            "success_lookback", duration(3600, 365 * DAY), defaults.success_lookback_seconds
        ),
        protected_resources=section.get(
            "protected_resources", boolean, defaults.protected_resources
        ),
        protected_resources_refresh_interval_seconds=section.get(
            "protected_resources_refresh_interval",
            duration(60, 7 * DAY),
            defaults.protected_resources_refresh_interval_seconds,
        ),
        max_protected_resources=section.get(
            "max_protected_resources",
            number(1, 1_000_000, integer=True),
            defaults.max_protected_resources,
        ),
    )
    section.finish()
    return config
