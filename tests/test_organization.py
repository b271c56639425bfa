"""A whole AWS Organization from one exporter, over the wire: moto serves Organizations and STS
(AssumeRole into each member account), the fake AWS Backup serves each account's restore jobs,
and knows which account a request is from by the key moto's STS handed out for its role.

Covered: accounts joining and leaving, a suspended account, an OU filter (recursive), account
filters, a static target and a discovered one for the same account and region being one target,
a member role that cannot be assumed in one account (its targets down with reason auth, the
others up), an Organizations outage (last known targets kept, discovery_up 0), one role session
per account (STS calls scale with accounts, not targets), and the background sync serving every
target without a scrape asking AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from exporter.config import parse_config
from exporter.demo.fake_backup import FakeBackup, RestoreJobStore
from exporter.scheduler import Exporter
from tests.faulty_proxy import STS_ACCESS_DENIED, FaultyProxy, aws_error
from tests.scraped import Scraped
from tests.waiting import eventually

MANAGEMENT = "123456789012"  # moto's default account: the one that creates the organisation
MEMBER_ROLE = "arn:aws:iam::{account_id}:role/aws-backup-restore-exporter"
REGIONS = ["us-east-1", "eu-west-1"]
TARGET_UP = "aws_backup_restore_exporter_target_up"


def account_of_key(access_key_id: str) -> str | None:
    """The account moto's STS issued a key for (a role assumed there), or the management
    account for the default credentials: what AWS knows of every key it signed."""
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key_id)


@pytest.fixture
def org_backup() -> Iterator[FakeBackup]:
    """A fake AWS Backup that puts each request in the account its key belongs to."""
    fake = FakeBackup(store=RestoreJobStore(), accounts=account_of_key)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def sts_gate(moto: str) -> Iterator[FaultyProxy]:
    """moto's STS behind a proxy that can refuse AssumeRole for chosen roles."""
    proxy = FaultyProxy(moto)
    yield proxy
    proxy.close()


class Organization:
    """The organisation in moto, seen from the management account."""

    def __init__(self, moto: str) -> None:
        self.client = boto3.client("organizations", region_name="us-east-1", endpoint_url=moto)
        self.client.create_organization(FeatureSet="ALL")
        self.root = self.client.list_roots()["Roots"][0]["Id"]

    def add_account(self, name: str, parent: str | None = None) -> str:
        status = self.client.create_account(AccountName=name, Email=f"{name}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        if parent is not None:
            self.client.move_account(
                AccountId=account, SourceParentId=self.root, DestinationParentId=parent
            )
        return account

    def add_ou(self, name: str, parent: str | None = None) -> str:
        unit = self.client.create_organizational_unit(ParentId=parent or self.root, Name=name)
        return unit["OrganizationalUnit"]["Id"]


@pytest.fixture
def org(moto: str) -> Organization:
    return Organization(moto)


@pytest.fixture
def org_exporter(moto: str, org_backup: FakeBackup) -> Iterator[Callable[..., Exporter]]:
    made: list[Exporter] = []

    def build(sts_url: str | None = None, **organization: Any) -> Exporter:
        section = {
            "member_role_arn": MEMBER_ROLE,
            "regions": REGIONS,
            "endpoint_url": moto,
            "sts_endpoint_url": sts_url or moto,
            "backup_endpoint_url": org_backup.url,
            "restore_testing": {"enabled": False},
            **organization,
        }
        config = parse_config(
            {
                "organization": section,
                "aws": {"max_attempts": 1, "connect_timeout": "2s", "read_timeout": "5s"},
            }
        )
        exporter = Exporter(config)
        made.append(exporter)
        return exporter

    yield build
    for exporter in made:
        exporter.close()


def settle(exporter: Exporter) -> Scraped:
    """Discover, sync every target once (as the background would), and scrape."""
    for discovery in exporter.discoveries:
        discovery.refresh()
    exporter.scrape()  # reconciles: discovered targets get their syncs
    for sync in exporter.syncers:
        sync.sync_once()
    return Scraped(exporter)


def up_by_target(seen: Scraped) -> dict[tuple[str, str], float]:
    """(account_id, region) -> target_up, from /metrics."""
    return {
        (s.labels.get("account_id", ""), s.labels["region"]): s.value
        for s in seen.samples()
        if s.name == TARGET_UP
    }


def put_job(fake: FakeBackup, account: str, region: str, **fields: object) -> str:
    fields.setdefault("ResourceType", "EBS")
    fields.setdefault("Status", "COMPLETED")
    return fake.store.put(account, region, **fields)


def test_every_active_account_in_every_region_is_a_target_reading_its_own_jobs(
    org, org_exporter, org_backup
):
    a, b = org.add_account("a"), org.add_account("b")
    job_a = put_job(org_backup, a, "eu-west-1")
    job_b = put_job(org_backup, b, "us-east-1")
    seen = settle(org_exporter())
    accounts = [MANAGEMENT, a, b]
    assert up_by_target(seen) == {(acct, r): 1.0 for acct in accounts for r in REGIONS}
    jobs = {
        (s.labels["account_id"], s.labels["region"], s.labels["restore_job_id"])
        for s in seen.samples()
        if s.name == "aws_backup_restore_job_info"
    }
    assert jobs == {(a, "eu-west-1", job_a), (b, "us-east-1", job_b)}
    assert (
        seen.get_sample_value(
            "aws_backup_restore_exporter_discovery_targets", {"discovery": "organization"}
        )
        == 6
    )
    assert (
        seen.get_sample_value(
            "aws_backup_restore_exporter_discovery_up", {"discovery": "organization"}
        )
        == 1
    )


def test_accounts_joining_and_leaving_come_and_go_from_metrics(org, org_exporter):
    a = org.add_account("a")
    exporter = org_exporter(regions=["us-east-1"])
    assert set(up_by_target(settle(exporter))) == {(MANAGEMENT, "us-east-1"), (a, "us-east-1")}
    b = org.add_account("b")
    org.client.remove_account_from_organization(AccountId=a)
    seen = settle(exporter)
    assert set(up_by_target(seen)) == {(MANAGEMENT, "us-east-1"), (b, "us-east-1")}
    assert not [s for s in seen.samples() if s.labels.get("account_id") == a]


def test_a_suspended_account_is_not_a_target(org, org_exporter):
    a, closed = org.add_account("a"), org.add_account("closed")
    org.client.close_account(AccountId=closed)
    seen = settle(org_exporter(regions=["us-east-1"]))
    assert set(up_by_target(seen)) == {(MANAGEMENT, "us-east-1"), (a, "us-east-1")}


def test_an_ou_filter_takes_the_accounts_under_it_recursively(org, org_exporter):
    prod = org.add_ou("prod")
    nested = org.add_ou("prod-eu", parent=prod)
    in_prod, in_nested = org.add_account("p", prod), org.add_account("n", nested)
    org.add_account("elsewhere")
    seen = settle(org_exporter(regions=["us-east-1"], organizational_units=[prod]))
    assert set(up_by_target(seen)) == {(in_prod, "us-east-1"), (in_nested, "us-east-1")}


def test_include_and_exclude_accounts(org, org_exporter):
    a, b = org.add_account("a"), org.add_account("b")
    included = settle(org_exporter(regions=["us-east-1"], include_accounts=[a, b]))
    assert set(up_by_target(included)) == {(a, "us-east-1"), (b, "us-east-1")}
    excluded = settle(org_exporter(regions=["us-east-1"], exclude_accounts=[MANAGEMENT, b]))
    assert set(up_by_target(excluded)) == {(a, "us-east-1")}


def test_a_static_target_for_a_discovered_account_and_region_is_one_target(moto, org, org_backup):
    a = org.add_account("a")
    config = parse_config(
        {
            "targets": [
                {
                    "name": "hand-written",
                    "region": "us-east-1",
                    "role_arn": MEMBER_ROLE.format(account_id=a),
                    "endpoint_url": org_backup.url,
                    "sts_endpoint_url": moto,
                }
            ],
            "organization": {
                "member_role_arn": MEMBER_ROLE,
                "regions": ["us-east-1"],
                "endpoint_url": moto,
                "sts_endpoint_url": moto,
                "backup_endpoint_url": org_backup.url,
            },
        }
    )
    exporter = Exporter(config)
    try:
        seen = settle(exporter)
        names = {s.labels["target"] for s in seen.samples() if s.name == TARGET_UP}
        assert names == {"hand-written", f"us-east-1/{MANAGEMENT}"}
    finally:
        exporter.close()


def test_a_role_that_cannot_be_assumed_downs_that_account_only(org, org_exporter, sts_gate, caplog):
    a, denied = org.add_account("a"), org.add_account("denied")
    sts_gate.refuse_when = lambda body: (
        STS_ACCESS_DENIED if f"iam%3A%3A{denied}%3Arole".encode() in body else None
    )
    with caplog.at_level(logging.WARNING, logger="exporter"):
        seen = settle(org_exporter(sts_url=sts_gate.url, regions=["us-east-1"]))
    assert up_by_target(seen) == {
        (MANAGEMENT, "us-east-1"): 1.0,
        (a, "us-east-1"): 1.0,
        (denied, "us-east-1"): 0.0,
    }
    reason = seen.state(
        "aws_backup_restore_exporter_target_down_reason", "reason", account_id=denied
    )
    assert reason == "auth"
    assert [r for r in caplog.records if denied in r.getMessage()], "one line names the account"


def test_one_role_session_per_account_whatever_its_regions(org, org_exporter, sts_gate):
    org.add_account("a"), org.add_account("b")
    exporter = org_exporter(sts_url=sts_gate.url, regions=["us-east-1", "eu-west-1", "ap-south-1"])
    settle(exporter)
    settle(exporter)  # a second round reuses the sessions
    assert sts_gate.requests == 3  # three accounts (management included), nine targets


def test_an_organizations_outage_keeps_the_last_known_targets(org, org_exporter, moto, caplog):
    a = org.add_account("a")
    proxy = FaultyProxy(moto)
    try:
        exporter = org_exporter(endpoint_url=proxy.url, regions=["us-east-1"])
        before = settle(exporter)
        proxy.default = aws_error(503, "ServiceException", "Organizations is down")
        with caplog.at_level(logging.WARNING, logger="exporter"):
            after = settle(exporter)
    finally:
        proxy.close()
    assert (
        set(up_by_target(after))
        == set(up_by_target(before))
        == {
            (MANAGEMENT, "us-east-1"),
            (a, "us-east-1"),
        }
    )
    discovery = {"discovery": "organization"}
    assert after.get_sample_value("aws_backup_restore_exporter_discovery_up", discovery) == 0
    assert after.get_sample_value(
        "aws_backup_restore_exporter_discovery_last_success_timestamp_seconds", discovery
    ) == before.get_sample_value(
        "aws_backup_restore_exporter_discovery_last_success_timestamp_seconds", discovery
    )
    lines = [r.getMessage() for r in caplog.records if "organization discovery" in r.getMessage()]
    assert len(lines) == 1
    assert "keeping the 2 known targets" in lines[0]


def test_the_background_syncs_every_target_and_a_scrape_asks_aws_nothing(
    org, org_exporter, org_backup
):
    for name in ("a", "b", "c"):
        org.add_account(name)
    exporter = org_exporter()
    exporter.start()

    def all_up() -> Scraped:
        seen = Scraped(exporter)
        up = up_by_target(seen)
        assert len(up) == 8, up
        assert set(up.values()) == {1.0}, up
        return seen

    eventually(all_up, timeout=60, what="every discovered target up")
    requests = org_backup.requests()
    for _ in range(3):
        exporter.scrape()
    assert org_backup.requests() == requests


def test_regions_enabled_follows_each_accounts_opt_ins(org, org_exporter, org_backup):
    from exporter.demo.fake_backup.accounts import DEFAULT_REGIONS

    a = org.add_account("a")
    org_backup.accounts.management_account = MANAGEMENT
    org_backup.accounts.set_region(a, "ap-east-1", "ENABLED")
    exporter = org_exporter(regions="enabled", account_endpoint_url=org_backup.url)
    exporter.discoveries[0].refresh()
    regions = {}
    for target in exporter.discoveries[0].targets():
        regions.setdefault(target.account_id, set()).add(target.region)
    assert regions == {MANAGEMENT: set(DEFAULT_REGIONS), a: {*DEFAULT_REGIONS, "ap-east-1"}}
    assert exporter.discoveries[0].status().up


def test_regions_that_cannot_be_listed_keep_the_last_known_ones(org, org_exporter, org_backup):
    a = org.add_account("a")
    org_backup.accounts.management_account = MANAGEMENT
    discovery = org_exporter(
        regions="enabled", account_endpoint_url=org_backup.url, include_accounts=[a]
    ).discoveries[0]
    discovery.refresh()
    before = {target.name for target in discovery.targets()}
    org_backup.accounts.management_account = None  # AccountId is refused from now on
    discovery.refresh()
    assert {target.name for target in discovery.targets()} == before
    status = discovery.status()
    assert not status.up
    assert status.reason == "auth"
