"""The ``organization`` section: targets discovered from AWS Organizations.

Every (account, region) the organisation has, filtered by accounts and OUs, becomes a target
that reads its account through ``member_role_arn``; the per-target blocks (``discovery``,
``restore_testing``) apply to each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

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
    URL_PATTERN,
    ConfigError,
    ConfigSection,
    duration,
    number,
    string,
    string_list,
)


@dataclass(frozen=True)
class OrganizationConfig:
    """Targets discovered from AWS Organizations: every (account, region) that matches."""

    member_role_arn: str  # with {account_id}
    role_arn: str | None = None
    role_external_id: str | None = None
    external_id: str | None = None
    role_session_name: str = "aws-backup-restore-exporter"
    regions: tuple[str, ...] | Literal["enabled"] = ("us-east-1",)
    include_accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    refresh_interval_seconds: float = 3600.0
    api_region: str = "us-east-1"
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    backup_endpoint_url: str | None = None
    account_endpoint_url: str | None = None
    sts_concurrency: int = 4
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    restore_testing: RestoreTestingConfig = field(default_factory=RestoreTestingConfig)

    def member_role(self, account_id: str) -> str:
        return self.member_role_arn.replace("{account_id}", account_id)


OU_PATTERN = re.compile(
    r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
)  # organizations' OrganizationalUnitId


def _member_role(path: str, value: Any) -> str:
    template = string()(path, value)
    if "{account_id}" not in template:
        raise ConfigError(f"{path}: must contain {{account_id}}, the role of each member account")
    if not ROLE_ARN_PATTERN.match(template.replace("{account_id}", "123456789012")):
        raise ConfigError(f"{path}: {template!r} is not an IAM role ARN with {{account_id}}")
    return template


def _regions(path: str, value: Any) -> tuple[str, ...] | Literal["enabled"]:
    if value == "enabled":
        return "enabled"
    if isinstance(value, str):
        raise ConfigError(f"{path}: expected a list of regions or the word enabled, got {value!r}")
    regions = string_list(REGION_PATTERN, "an AWS region such as us-east-1")(path, value)
    if not regions:
        raise ConfigError(f"{path}: expected at least one region (or enabled)")
    return regions


def read_organization(section: ConfigSection) -> OrganizationConfig:
    accounts = string_list(ACCOUNT_ID_PATTERN, "a 12-digit account ID")
    url = string(URL_PATTERN, "an http(s) URL")
    external = string(EXTERNAL_ID_PATTERN, "a valid external ID")
    organization = OrganizationConfig(
        member_role_arn=section.require("member_role_arn", _member_role),
        role_arn=section.get("role_arn", string(ROLE_ARN_PATTERN, "an IAM role ARN"), None),
        role_external_id=section.get("role_external_id", external, None),
        external_id=section.get("external_id", external, None),
        role_session_name=section.get(
            "role_session_name",
            string(SESSION_NAME_PATTERN, "a valid role session name"),
            "aws-backup-restore-exporter",
        ),
        regions=section.require("regions", _regions),
        include_accounts=section.get("include_accounts", accounts, ()),
        exclude_accounts=section.get("exclude_accounts", accounts, ()),
        organizational_units=section.get(
            "organizational_units", string_list(OU_PATTERN, "an OU ID such as ou-ab12-cd34ef56"), ()
        ),
        refresh_interval_seconds=section.get("refresh_interval", duration(60, 7 * DAY), 3600.0),
        api_region=section.get("api_region", string(REGION_PATTERN, "an AWS region"), "us-east-1"),
        endpoint_url=section.get("endpoint_url", url, None),
        sts_endpoint_url=section.get("sts_endpoint_url", url, None),
        backup_endpoint_url=section.get("backup_endpoint_url", url, None),
        account_endpoint_url=section.get("account_endpoint_url", url, None),
        sts_concurrency=section.get("sts_concurrency", number(1, 64, integer=True), 4),
        discovery=read_discovery(section.section("discovery")),
        restore_testing=read_restore_testing(section.section("restore_testing")),
    )
    if organization.role_external_id is not None and organization.role_arn is None:
        raise ConfigError(f"{section.key_path('role_external_id')}: needs role_arn")
    both = set(organization.include_accounts) & set(organization.exclude_accounts)
    if both:
        raise ConfigError(
            f"{section.key_path('exclude_accounts')}: {min(both)} is also in include_accounts"
        )
    section.finish()
    return organization
