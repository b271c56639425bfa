"""``targets[].restore_job_summaries``: AWS Backup's organisation-wide restore job counts.

Off by default. ``account_id`` is what ListRestoreJobSummaries is asked for: ``ANY`` (every
account of the organisation, each apart: the management account or a delegated administrator
only) or one 12-digit account ID. AWS's ``AGGREGATE_ALL`` (the sum over the accounts) is
refused: ``ANY`` costs the same requests and PromQL's ``sum without (account_id)`` gives the
sum, while the per-account counts cannot be had back from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exporter.config_values import ConfigError, ConfigSection, boolean, choice, duration

AGGREGATION_PERIODS = ("ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS")
_ACCOUNT = re.compile(r"^(ANY|[0-9]{12})$")
_MINUTE, _DAY = 60.0, 86400.0


@dataclass(frozen=True)
class RestoreJobSummariesConfig:
    enabled: bool = False
    account_id: str = "ANY"
    aggregation_period: str = "ONE_DAY"
    refresh_interval_seconds: float = 3600.0


def read_restore_job_summaries(section: ConfigSection) -> RestoreJobSummariesConfig:
    defaults = RestoreJobSummariesConfig()
    account_id = section.get("account_id", _account, defaults.account_id)
    config = RestoreJobSummariesConfig(
        enabled=section.get("enabled", boolean, defaults.enabled),
        account_id=account_id,
        aggregation_period=section.get(
            "aggregation_period", choice(AGGREGATION_PERIODS), defaults.aggregation_period
        ),
        refresh_interval_seconds=section.get(
            "refresh_interval", duration(5 * _MINUTE, _DAY), defaults.refresh_interval_seconds
        ),
    )
    section.finish()
    return config


def _account(path: str, value: object) -> str:
    if value == "AGGREGATE_ALL":
        raise ConfigError(
            f"{path}: AGGREGATE_ALL is not supported; use ANY (per account) and sum in PromQL"
        )
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise ConfigError(f"{path}: {value!r} is not ANY or a 12-digit account ID (quote it)")
    return value
