"""The ``organization:`` section and what it changes around it (``targets:`` optional,
``sync.interval`` on by default), read as written; every invalid value named by its key path, on
one line, through ``parse_config`` and through the real CLI's ``--config.check``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from exporter.config import (
    ConfigError,
    DiscoveryConfig,
    OrganizationConfig,
    RestoreTestingConfig,
    parse_config,
)
from tests.processes import run_exporter
from tests.tables import cases

MEMBER_ROLE = "arn:aws:iam::{account_id}:role/aws-backup-restore-exporter"
MINIMAL = {"member_role_arn": MEMBER_ROLE, "regions": ["us-east-1"]}
BASE = OrganizationConfig(member_role_arn=MEMBER_ROLE, regions=("us-east-1",))
DROP = object()  # a key removed from MINIMAL


def organization(**keys: Any) -> dict[str, Any]:
    """A config with only an organization: section, MINIMAL plus (or minus, DROP) ``keys``."""
    section = {**MINIMAL, **keys}
    return {"organization": {key: value for key, value in section.items() if value is not DROP}}


EVERY_KEY = {
    "role_arn": "arn:aws:iam::111111111111:role/OrgReader",
    "role_external_id": "org-reader-ext",
    "member_role_arn": "arn:aws:iam::{account_id}:role/team/{account_id}-reader",
    "external_id": "member-ext",
    "role_session_name": "org-exporter",
    "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"],
    "include_accounts": ["111122223333", "444455556666"],
    "exclude_accounts": ["777788889999"],
    "organizational_units": ["ou-ab12-cd34ef56", "ou-9z8y-7x6w5v4u3"],
    "refresh_interval": "2h30m",
    "api_region": "eu-central-1",
    "endpoint_url": "http://127.0.0.1:5000",
    "sts_endpoint_url": "https://sts.eu-central-1.amazonaws.com",
    "backup_endpoint_url": "http://127.0.0.1:5001/backup",
    "account_endpoint_url": "http://localhost:5002",
    "sts_concurrency": 12,
    "discovery": {"lookback": "7d", "resource_types": ["EBS"], "statuses": ["FAILED"]},
    "restore_testing": {"enabled": False, "refresh_interval": "15m"},
}
EVERY_KEY_READ = OrganizationConfig(
    member_role_arn="arn:aws:iam::{account_id}:role/team/{account_id}-reader",
    role_arn="arn:aws:iam::111111111111:role/OrgReader",
    role_external_id="org-reader-ext",
    external_id="member-ext",
    role_session_name="org-exporter",
    regions=("us-east-1", "eu-west-1", "ap-southeast-2"),
    include_accounts=("111122223333", "444455556666"),
    exclude_accounts=("777788889999",),
    organizational_units=("ou-ab12-cd34ef56", "ou-9z8y-7x6w5v4u3"),
    refresh_interval_seconds=9000.0,
    api_region="eu-central-1",
    endpoint_url="http://127.0.0.1:5000",
    sts_endpoint_url="https://sts.eu-central-1.amazonaws.com",
    backup_endpoint_url="http://127.0.0.1:5001/backup",
    account_endpoint_url="http://localhost:5002",
    sts_concurrency=12,
    discovery=DiscoveryConfig(
        lookback_seconds=7 * 86400.0, resource_types=("EBS",), statuses=("FAILED",)
    ),
    restore_testing=RestoreTestingConfig(enabled=False, refresh_interval_seconds=900.0),
)

VALID = {
    "minimal: the defaults": (MINIMAL, BASE),
    "every key": (EVERY_KEY, EVERY_KEY_READ),
    "regions: enabled": ({**MINIMAL, "regions": "enabled"}, replace(BASE, regions="enabled")),
    "refresh_interval at its minimum": (
        {**MINIMAL, "refresh_interval": "1m"},
        replace(BASE, refresh_interval_seconds=60.0),
    ),
    "refresh_interval at its maximum": (
        {**MINIMAL, "refresh_interval": "7d"},
        replace(BASE, refresh_interval_seconds=7 * 86400.0),
    ),
    "refresh_interval in plain seconds": (
        {**MINIMAL, "refresh_interval": 600},
        replace(BASE, refresh_interval_seconds=600.0),
    ),
    "sts_concurrency at its bounds (1)": (
        {**MINIMAL, "sts_concurrency": 1},
        replace(BASE, sts_concurrency=1),
    ),
    "sts_concurrency at its bounds (64)": (
        {**MINIMAL, "sts_concurrency": 64},
        replace(BASE, sts_concurrency=64),
    ),
    "empty filters are no filters": (
        {**MINIMAL, "include_accounts": [], "exclude_accounts": [], "organizational_units": []},
        BASE,
    ),
    "null keys are the defaults": (
        {**MINIMAL, "role_arn": None, "refresh_interval": None, "discovery": None},
        BASE,
    ),
    "external_id alone (member roles need no role_arn)": (
        {**MINIMAL, "external_id": "member-ext"},
        replace(BASE, external_id="member-ext"),
    ),
}


@cases(("section", "expected"), VALID)
def test_every_organization_key_is_read_and_typed(section, expected):
    config = parse_config({"organization": section})
    assert config.organization == expected
    assert config.targets == ()  # targets: is optional beside an organization


def test_member_role_puts_the_account_id_in_every_place_of_the_template():
    read = parse_config({"organization": EVERY_KEY}).organization
    assert read is not None
    assert read.member_role("210987654321") == (
        "arn:aws:iam::210987654321:role/team/210987654321-reader"
    )


INVALID = {
    # member_role_arn
    "member_role_arn missing": (
        organization(member_role_arn=DROP),
        "organization.member_role_arn: required key is missing",
    ),
    "member_role_arn without {account_id}": (
        organization(member_role_arn="arn:aws:iam::111122223333:role/reader"),
        "organization.member_role_arn: must contain {account_id}",
    ),
    "member_role_arn not a role ARN": (
        organization(member_role_arn="arn:aws:iam::{account_id}:user/reader"),
        "organization.member_role_arn: 'arn:aws:iam::{account_id}:user/reader' is not an IAM role",
    ),
    "member_role_arn not a string": (
        organization(member_role_arn=["arn:aws:iam::{account_id}:role/reader"]),
        "organization.member_role_arn: expected a string",
    ),
    "member_role_arn with a broken placeholder": (
        organization(member_role_arn="arn:aws:iam::{account}:role/reader"),
        "organization.member_role_arn: must contain {account_id}",
    ),
    # regions
    "regions missing": (organization(regions=DROP), "organization.regions: required key"),
    "regions a word other than enabled": (
        organization(regions="all"),
        "organization.regions: expected a list of regions or the word enabled, got 'all'",
    ),
    "regions one region as a string": (
        organization(regions="us-east-1"),
        "organization.regions: expected a list of regions or the word enabled",
    ),
    "regions empty": (
        organization(regions=[]),
        "organization.regions: expected at least one region",
    ),
    "regions a bad region": (
        organization(regions=["us-east-1", "useast1"]),
        "organization.regions[1]: 'useast1' is not an AWS region",
    ),
    "regions a duplicate": (
        organization(regions=["us-east-1", "eu-west-1", "us-east-1"]),
        "organization.regions[2]: 'us-east-1' is listed twice",
    ),
    # account filters
    "include_accounts a short ID": (
        organization(include_accounts=["11112222333"]),
        "organization.include_accounts[0]: '11112222333' is not a 12-digit account ID",
    ),
    "include_accounts a number, not a string": (
        organization(include_accounts=[111122223333]),
        "organization.include_accounts[0]: expected a string",
    ),
    "exclude_accounts letters": (
        organization(exclude_accounts=["111122223333", "11112222333x"]),
        "organization.exclude_accounts[1]: '11112222333x' is not a 12-digit account ID",
    ),
    "exclude_accounts a string, not a list": (
        organization(exclude_accounts="111122223333"),
        "organization.exclude_accounts: expected a list",
    ),
    "an account both included and excluded": (
        organization(
            include_accounts=["111122223333", "444455556666"],
            exclude_accounts=["444455556666"],
        ),
        "organization.exclude_accounts: 444455556666 is also in include_accounts",
    ),
    # organizational units
    "organizational_units a root ID": (
        organization(organizational_units=["r-ab12"]),
        "organization.organizational_units[0]: 'r-ab12' is not an OU ID",
    ),
    "organizational_units upper case": (
        organization(organizational_units=["ou-AB12-CD34EF56"]),
        "organization.organizational_units[0]: 'ou-AB12-CD34EF56' is not an OU ID",
    ),
    "organizational_units a duplicate": (
        organization(organizational_units=["ou-ab12-cd34ef56", "ou-ab12-cd34ef56"]),
        "organization.organizational_units[1]: 'ou-ab12-cd34ef56' is listed twice",
    ),
    # roles and identities
    "role_external_id without role_arn": (
        organization(role_external_id="org-reader-ext"),
        "organization.role_external_id: needs role_arn",
    ),
    "role_arn not a role": (
        organization(role_arn="arn:aws:iam::111111111111:user/OrgReader"),
        "organization.role_arn: 'arn:aws:iam::111111111111:user/OrgReader' is not an IAM role",
    ),
    "external_id too short": (
        organization(external_id="x"),
        "organization.external_id: 'x' is not a valid external ID",
    ),
    "role_session_name with a space": (
        organization(role_session_name="my exporter"),
        "organization.role_session_name: 'my exporter' is not a valid role session name",
    ),
    # intervals, regions, endpoints, concurrency
    "refresh_interval below a minute": (
        organization(refresh_interval="59s"),
        "organization.refresh_interval: '59s' is outside 60s..604800s",
    ),
    "refresh_interval above a week": (
        organization(refresh_interval="8d"),
        "organization.refresh_interval: '8d' is outside 60s..604800s",
    ),
    "refresh_interval not a duration": (
        organization(refresh_interval="hourly"),
        "organization.refresh_interval: ",
    ),
    "api_region not a region": (
        organization(api_region="global"),
        "organization.api_region: 'global' is not an AWS region",
    ),
    "backup_endpoint_url not a URL": (
        organization(backup_endpoint_url="127.0.0.1:5000"),
        "organization.backup_endpoint_url: '127.0.0.1:5000' is not an http(s) URL",
    ),
    "sts_concurrency zero": (
        organization(sts_concurrency=0),
        "organization.sts_concurrency: 0 is outside 1..64",
    ),
    "sts_concurrency not whole": (
        organization(sts_concurrency=2.5),
        "organization.sts_concurrency: expected a whole number",
    ),
    # unknown keys, at every level of the section
    "an unknown key in organization": (
        organization(region=["us-east-1"]),
        "organization.region: unknown key",
    ),
    "an unknown key in organization.discovery": (
        organization(discovery={"lookbak": "7d"}),
        "organization.discovery.lookbak: unknown key",
    ),
    "an unknown key in organization.restore_testing": (
        organization(restore_testing={"enable": False}),
        "organization.restore_testing.enable: unknown key",
    ),
    "a bad value in organization.discovery": (
        organization(discovery={"lookback": "10s"}),
        "organization.discovery.lookback: '10s' is outside",
    ),
    "a bad value in organization.restore_testing": (
        organization(restore_testing={"enabled": "no"}),
        "organization.restore_testing.enabled: expected true or false",
    ),
    "organization not a mapping": (
        {"organization": ["member_role_arn"]},
        "organization: expected a mapping, got list",
    ),
    # targets: beside (or without) an organization
    "neither targets nor organization": (
        {"sync": {"deadline": "5s"}},
        "targets: expected a non-empty list of targets (or an organization: section)",
    ),
    "an empty file": ({}, "targets: expected a non-empty list of targets (or an organization:"),
    "a bad static target beside an organization": (
        {**organization(), "targets": [{"region": "nowhere"}]},
        "targets[0].region: 'nowhere' is not an AWS region",
    ),
    "targets[].account_id is not the role's account": (
        {
            "targets": [
                {"region": "us-east-1"},
                {
                    "region": "us-east-1",
                    "role_arn": "arn:aws:iam::111122223333:role/reader",
                    "account_id": "444455556666",
                },
            ]
        },
        "targets[1].account_id: '444455556666' is not the account of role_arn (111122223333)",
    ),
    "targets[].account_id not 12 digits": (
        {"targets": [{"region": "us-east-1", "account_id": "1234"}]},
        "targets[0].account_id: '1234' is not a 12-digit account ID",
    ),
    # sync.interval and sync.concurrency
    "sync.interval below 5s": (
        {**organization(), "sync": {"interval": "4s"}},
        "sync.interval: '4s' is outside 5s..86400s",
    ),
    "sync.interval above a day": (
        {"targets": [{"region": "us-east-1"}], "sync": {"interval": "25h"}},
        "sync.interval: '25h' is outside 5s..86400s",
    ),
    "sync.interval not a duration": (
        {**organization(), "sync": {"interval": True}},
        "sync.interval: expected a duration",
    ),
    "sync.concurrency zero": (
        {**organization(), "sync": {"concurrency": 0}},
        "sync.concurrency: 0 is outside 1..256",
    ),
    "sync.concurrency above 256": (
        {"targets": [{"region": "us-east-1"}], "sync": {"concurrency": 257}},
        "sync.concurrency: 257 is outside 1..256",
    ),
    "sync.concurrency not whole": (
        {**organization(), "sync": {"concurrency": "8"}},
        "sync.concurrency: expected a whole number",
    ),
}


@cases(("data", "expected"), INVALID)
def test_invalid_organization_config_names_the_key(data, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    message = str(caught.value)
    assert "\n" not in message  # one line, fit for a log
    assert message.startswith(expected), message


def test_targets_may_be_absent_beside_an_organization_and_static_ones_are_kept():
    alone = parse_config(organization())
    assert alone.targets == ()
    both = parse_config({**organization(), "targets": [{"name": "static", "region": "eu-west-1"}]})
    assert [(t.name, t.region) for t in both.targets] == [("static", "eu-west-1")]
    assert both.organization == BASE


def test_a_targets_only_config_has_no_organization():
    config = parse_config({"targets": [{"region": "us-east-1"}]})
    assert config.organization is None


SYNC = {
    "organization: interval defaults to 60s": (organization(), 60.0),
    "organization with an interval of its own": (
        {**organization(), "sync": {"interval": "5m"}},
        300.0,
    ),
    "organization, interval at its minimum": ({**organization(), "sync": {"interval": 5}}, 5.0),
    "static targets: no interval, sync on scrape": ({"targets": [{"region": "us-east-1"}]}, None),
    "static targets with an interval": (
        {"targets": [{"region": "us-east-1"}], "sync": {"interval": "1d"}},
        86400.0,
    ),
    "both: the organisation's default": (
        {**organization(), "targets": [{"region": "us-east-1"}]},
        60.0,
    ),
}


@cases(("data", "interval"), SYNC)
def test_sync_interval(data, interval):
    assert parse_config(data).sync.interval_seconds == interval


@cases(
    ("value", "expected"),
    {"default": (None, 16), "minimum": (1, 1), "maximum": (256, 256), "between": (40, 40)},
)
def test_sync_concurrency(value, expected):
    sync = {} if value is None else {"concurrency": value}
    assert parse_config({**organization(), "sync": sync}).sync.concurrency == expected


TARGET_ACCOUNT = {
    "from role_arn": ({"role_arn": "arn:aws:iam::111122223333:role/r"}, "111122223333"),
    "given and matching role_arn": (
        {"role_arn": "arn:aws:iam::111122223333:role/r", "account_id": "111122223333"},
        "111122223333",
    ),
    "given without a role (the default credentials' account)": (
        {"account_id": "444455556666"},
        "444455556666",
    ),
    "neither": ({}, None),
}


@cases(("keys", "account"), TARGET_ACCOUNT)
def test_target_account_id(keys, account):
    (target,) = parse_config({"targets": [{"region": "us-east-1", **keys}]}).targets
    assert target.account_id == account
    # the account decides which target is which (a static one replaces a discovered one)
    assert target.key == (account or f"name:{target.name}", "us-east-1")


# ---- the CLI, as a user runs it ------------------------------------------------------------


def test_config_check_of_an_organisation_prints_what_it_will_discover(tmp_path):
    path = tmp_path / "organization.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "organization": {
                    "member_role_arn": MEMBER_ROLE,
                    "regions": ["us-east-1", "eu-west-1"],
                    "refresh_interval": "30m",
                },
                "sync": {"interval": "2m"},
            }
        )
    )
    result = run_exporter("--config.check", "--config.file", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("configuration OK: 0 target(s)"), lines
    assert lines[1] == (
        f"organization: every account in us-east-1, eu-west-1, through {MEMBER_ROLE}, "
        "refreshed every 1800s; targets sync every 120s"
    )


def test_config_check_of_an_organisation_with_ous_and_enabled_regions(tmp_path):
    path = tmp_path / "organization.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "organization": {
                    "member_role_arn": MEMBER_ROLE,
                    "regions": "enabled",
                    "organizational_units": ["ou-ab12-cd34ef56"],
                },
                "targets": [{"name": "static", "region": "eu-west-1"}],
            }
        )
    )
    result = run_exporter("--config.check", "--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert "configuration OK: 1 target(s): static (eu-west-1)" in result.stdout
    organization_lines = [
        line for line in result.stdout.splitlines() if line.startswith("organization:")
    ]
    assert organization_lines == [
        f"organization: OUs ou-ab12-cd34ef56 in each account's enabled regions, through "
        f"{MEMBER_ROLE}, refreshed every 3600s; targets sync every 60s"
    ]


@cases(
    ("section", "key"),
    {
        "regions a bad word": ({**MINIMAL, "regions": "all"}, "organization.regions"),
        "member role without {account_id}": (
            {**MINIMAL, "member_role_arn": "arn:aws:iam::111122223333:role/r"},
            "organization.member_role_arn",
        ),
        "an unknown key": ({**MINIMAL, "regoins": ["us-east-1"]}, "organization.regoins"),
    },
)
def test_config_check_of_an_invalid_organisation_exits_1_naming_the_key(tmp_path, section, key):
    path = tmp_path / "organization.yaml"
    path.write_text(yaml.safe_dump({"organization": section}))
    result = run_exporter("--config.check", "--config.file", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"aws-backup-restore-exporter: invalid configuration: {key}:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
