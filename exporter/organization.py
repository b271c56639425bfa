"""Targets discovered from AWS Organizations: every active account, in each of its regions.

AWS Backup cannot list restore jobs across an organisation from one account, so covering one
means a target per (account, region), reading through a role in each account. This source keeps
that list current: every ``organization.refresh_interval`` it lists the accounts (ListAccounts,
or ListChildren and ListAccountsForParent under the configured OUs), keeps the ACTIVE ones that
pass the account filters, and, for ``regions: enabled``, asks account:ListRegions which regions
each account has enabled. A failed refresh keeps the last known targets (one log line, and
``discovery_up 0``); a failed region lookup keeps that account's last known regions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from botocore.config import Config as BotocoreConfig

from exporter.aws_errors import classify_error, describe_error
from exporter.aws_sessions import AwsSessions, Identity
from exporter.config import AwsClientConfig, OrganizationConfig, TargetConfig
from exporter.store import DiscoveryStatus

log = logging.getLogger(__name__)

ENABLED_STATUSES = ("ENABLED", "ENABLED_BY_DEFAULT")
REGION_LOOKUPS_AT_ONCE = 8


@dataclass(frozen=True)
class Account:
    id: str
    name: str


class OrganizationApi:
    """The Organizations, Account and STS read calls of discovery, as the organisation's
    identity (``organization.role_arn``, or the exporter's own credentials)."""

    def __init__(
        self, config: OrganizationConfig, aws: AwsClientConfig, sessions: AwsSessions
    ) -> None:
        self._config = config
        identity = Identity(
            role_arn=config.role_arn,
            external_id=config.role_external_id,
            role_session_name=config.role_session_name,
            sts_region=config.api_region,
            sts_endpoint_url=config.sts_endpoint_url,
        )
        session = sessions.session(identity)
        client_config = BotocoreConfig(
            region_name=config.api_region,
            retries={"mode": aws.retry_mode, "total_max_attempts": aws.max_attempts},
            connect_timeout=aws.connect_timeout_seconds,
            read_timeout=aws.read_timeout_seconds,
            max_pool_connections=REGION_LOOKUPS_AT_ONCE,
        )

        def client(service: str, endpoint_url: str | None) -> Any:
            return session.create_client(
                service,
                region_name=config.api_region,
                endpoint_url=endpoint_url,
                config=client_config,
            )

        self._organizations = client("organizations", config.endpoint_url)
        self._account = client("account", config.account_endpoint_url)
        self._sts = client("sts", config.sts_endpoint_url)
        self._caller: str | None = config.role_arn.split(":")[4] if config.role_arn else None

    def accounts(self) -> list[Account]:
        """Every account of the organisation (or of the configured OUs, recursively)."""
        if not self._config.organizational_units:
            return list(self._pages("list_accounts", "Accounts"))
        found: dict[str, Account] = {}
        pending = list(self._config.organizational_units)
        while pending:
            parent = pending.pop()
            for account in self._pages("list_accounts_for_parent", "Accounts", ParentId=parent):
                found.setdefault(account.id, account)
            pending.extend(
                child["Id"]
                for child in self._raw_pages(
                    "list_children", "Children", ParentId=parent, ChildType="ORGANIZATIONAL_UNIT"
                )
            )
        return list(found.values())

    def _raw_pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        # botocore's paginators follow NextToken until it is absent, through empty pages too.
        for page in self._organizations.get_paginator(operation).paginate(**params):
            yield from page.get(key) or []

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[Account]:
        for item in self._raw_pages(operation, key, **params):
            # State replaces the deprecated Status (2025); either may be sent.
            if (item.get("State") or item.get("Status")) == "ACTIVE":
                yield Account(item["Id"], item.get("Name", ""))

    def enabled_regions(self, account_id: str) -> list[str]:
        """The regions an account has enabled (opted in, or enabled by default)."""
        params: dict[str, Any] = {"RegionOptStatusContains": list(ENABLED_STATUSES)}
        if account_id != self.caller():
            # AWS refuses the caller's own ID here: its own regions are asked for without it.
            params["AccountId"] = account_id
        regions: list[str] = []
        for page in self._account.get_paginator("list_regions").paginate(**params):
            regions.extend(region["RegionName"] for region in page.get("Regions") or [])
        return sorted(regions)

    def caller(self) -> str:
        """The account discovery calls from (role_arn's, or the default credentials')."""
        if self._caller is None:
            self._caller = str(self._sts.get_caller_identity()["Account"])
        return self._caller


class OrganizationTargets:
    """A ``TargetSource``: the organisation's targets as last discovered."""

    name = "organization"

    def __init__(
        self,
        config: OrganizationConfig,
        api: OrganizationApi,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._api = api
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: tuple[TargetConfig, ...] = ()
        self._regions: dict[str, tuple[str, ...]] = {}  # account -> last known regions
        self._accounts = 0
        self._status = DiscoveryStatus(self.name, False, 0, 0, None, None, "not yet run")
        self._logged_reason: str | None = None

    def targets(self) -> Sequence[TargetConfig]:
        with self._lock:
            return self._targets

    def status(self) -> DiscoveryStatus:
        with self._lock:
            return self._status

    def refresh(self) -> None:
        """Discover now, in this thread; on failure keep the last known targets."""
        started, began = self._clock(), time.monotonic()
        try:
            accounts = self._filtered(self._api.accounts())
        except Exception as error:  # any failure: keep what we had, say so once
            self._failed(error, began)
            return
        regions, failures = self._regions_of(accounts)
        targets = tuple(self._target(a.id, region) for a in accounts for region in regions[a.id])
        reason = classify_error(failures[0][1]) if failures else None
        with self._lock:
            self._targets, self._regions = targets, regions
            self._status = DiscoveryStatus(
                self.name,
                reason is None,
                len(targets),
                len(accounts),
                started if reason is None else self._status.last_success_timestamp,
                time.monotonic() - began,
                reason,
            )
        if failures:
            first, problem = failures[0]
            self._log_once(
                f"regions of {len(failures)} account(s) could not be listed (first: {first}); "
                f"keeping their last known regions: {describe_error(problem)}",
                classify_error(problem),
            )
            return
        if self._logged_reason is not None:
            log.info("organization discovery recovered: %d targets", len(targets))
        self._logged_reason = None
        log.debug("organization discovery: %d accounts, %d targets", len(accounts), len(targets))

    def run(self, stop: threading.Event) -> None:
        """Refresh now and then every ``refresh_interval`` until ``stop`` is set."""
        while True:
            self.refresh()
            if stop.wait(self._config.refresh_interval_seconds):
                return

    def _filtered(self, accounts: Sequence[Account]) -> list[Account]:
        include = set(self._config.include_accounts)
        exclude = set(self._config.exclude_accounts)
        return sorted(
            (a for a in accounts if (not include or a.id in include) and a.id not in exclude),
            key=lambda account: account.id,
        )

    def _regions_of(
        self, accounts: Sequence[Account]
    ) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, BaseException]]]:
        wanted = self._config.regions
        if wanted != "enabled":
            return {account.id: wanted for account in accounts}, []
        with self._lock:
            known = dict(self._regions)
        failures: list[tuple[str, BaseException]] = []

        def lookup(account: Account) -> tuple[str, tuple[str, ...]]:
            try:
                return account.id, tuple(self._api.enabled_regions(account.id))
            except Exception as error:
                failures.append((account.id, error))
                return account.id, known.get(account.id, ())

        with ThreadPoolExecutor(REGION_LOOKUPS_AT_ONCE, thread_name_prefix="regions") as pool:
            regions = dict(pool.map(lookup, accounts))
        return regions, sorted(failures, key=lambda failure: failure[0])

    def _target(self, account_id: str, region: str) -> TargetConfig:
        config = self._config
        return TargetConfig(
            name=f"{region}/{account_id}",
            region=region,
            role_arn=config.member_role(account_id),
            external_id=config.external_id,
            role_session_name=config.role_session_name,
            endpoint_url=config.backup_endpoint_url,
            sts_endpoint_url=config.sts_endpoint_url,
            discovery=config.discovery,
            restore_testing=config.restore_testing,
            account_id=account_id,
            sts_region=config.api_region,
        )

    def _failed(self, error: BaseException, began: float) -> None:
        reason = classify_error(error)
        with self._lock:
            self._status = replace(
                self._status,
                up=False,
                reason=reason,
                last_duration_seconds=time.monotonic() - began,
            )
            kept = len(self._targets)
        self._log_once(
            f"listing the organization's accounts failed, keeping the {kept} known targets: "
            f"{describe_error(error)}",
            reason,
        )

    def _log_once(self, message: str, reason: str) -> None:
        """A warning when discovery starts failing or fails for another reason; debug after."""
        level = logging.WARNING if reason != self._logged_reason else logging.DEBUG
        log.log(level, "organization discovery: %s (reason=%s)", message, reason)
        self._logged_reason = reason
