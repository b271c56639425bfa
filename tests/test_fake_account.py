"""The fake's Account API (ListRegions, GetRegionOptStatus) through real boto3 ``account`` clients
over HTTP, on the same endpoint as the fake AWS Backup: every Region of the partition with its
opt-in status, paging (botocore's paginator and by hand), the status filter, who may name which
account (the management account, a delegated administrator, a member, no organisation), the
model's constraints on input, and a request told apart from AWS Backup's by its credential scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from exporter.demo.fake_backup import FakeBackup, sts_accounts
from exporter.demo.fake_backup.constraints import Violation
from tests.test_fake_api import send, signed

MANAGEMENT, MEMBER, ADMIN, OUTSIDER = "111111111111", "222222222222", "333333333333", "444444444444"
KEYS = {"mgmt": MANAGEMENT, "testing": MANAGEMENT, "member": MEMBER, "admin": ADMIN}
REGION = "us-east-1"
_LOADER = botocore.session.get_session().get_component("data_loader")
PARTITION = sorted(
    next(p for p in _LOADER.load_data("endpoints")["partitions"] if p["partition"] == "aws")[
        "regions"
    ]
)
# AWS Account Management reference: the Regions launched before 20 March 2019, enabled by default.
DEFAULTS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
}  # fmt: skip


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeBackup, str]]:
    fake = FakeBackup(accounts=KEYS.get, management_account=MANAGEMENT)
    with fake.serving() as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeBackup, str]) -> FakeBackup:
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: tuple[FakeBackup, str], fake: FakeBackup) -> str:
    return served[1]


def client(url: str, key: str = "mgmt", validate: bool = True) -> Any:
    return boto3.client(
        "account",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        aws_session_token=None,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )


def listed(pages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["RegionName"], r["RegionOptStatus"]) for page in pages for r in page["Regions"]]


def everything(account: Any, **params: Any) -> list[tuple[str, str]]:
    return listed(list(account.get_paginator("list_regions").paginate(**params)))


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- what an account sees ---------------------------------------------------------------------


def test_an_account_sees_every_region_of_the_partition_opt_in_ones_disabled(url):
    regions = listed([client(url).list_regions()])
    assert [name for name, _ in regions] == PARTITION
    assert {name for name, status in regions if status == "ENABLED_BY_DEFAULT"} == DEFAULTS
    assert {status for name, status in regions if name not in DEFAULTS} == {"DISABLED"}


def test_without_account_id_each_caller_sees_its_own_account(fake, url):
    fake.accounts.set_region(MEMBER, "eu-south-1", "ENABLED")
    fake.accounts.set_region(MANAGEMENT, "af-south-1", "ENABLING")
    member, management = dict(everything(client(url, "member"))), dict(everything(client(url)))
    assert (member["eu-south-1"], member["af-south-1"]) == ("ENABLED", "DISABLED")
    assert (management["eu-south-1"], management["af-south-1"]) == ("DISABLED", "ENABLING")


def test_a_region_botocore_does_not_know_yet_can_be_given_to_an_account(fake, url):
    fake.accounts.set_region(MEMBER, "xx-future-1", "ENABLED")
    assert ("xx-future-1", "ENABLED") in everything(client(url, "member"))
    assert "xx-future-1" not in dict(everything(client(url)))


def test_a_default_region_cannot_be_disabled_nor_an_opt_in_one_enabled_by_default(fake):
    with pytest.raises(ValueError, match="default"):
        fake.accounts.set_region(MEMBER, "us-east-1", "DISABLED")
    with pytest.raises(ValueError, match="opt-in"):
        fake.accounts.set_region(MEMBER, "af-south-1", "ENABLED_BY_DEFAULT")
    with pytest.raises(Violation, match="is not one of"):
        fake.accounts.set_region(MEMBER, "af-south-1", "ON")


def test_reset_forgets_region_statuses_and_organisation_changes(fake, url):
    fake.accounts.set_region(MEMBER, "eu-south-1", "ENABLED")
    fake.accounts.set_organisation(None)
    fake.reset()
    assert dict(everything(client(url, "member")))["eu-south-1"] == "DISABLED"
    assert fake.accounts.management_account == MANAGEMENT  # the constructor's, again
    assert everything(client(url), AccountId=MEMBER)


# -- paging and the filter --------------------------------------------------------------------


def test_the_paginator_walks_every_region_once_in_small_pages(url):
    paginator = client(url).get_paginator("list_regions")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 4}))
    assert [len(page["Regions"]) for page in pages[:-1]] == [4] * (len(pages) - 1)
    assert 1 <= len(pages[-1]["Regions"]) <= 4
    assert "NextToken" not in pages[-1]
    assert [name for name, _ in listed(pages)] == PARTITION


def test_paging_by_hand_with_a_page_size_that_changes(url):
    account = client(url)
    first = account.list_regions(MaxResults=10)
    second = account.list_regions(MaxResults=3, NextToken=first["NextToken"])
    rest = account.list_regions(MaxResults=50, NextToken=second["NextToken"])
    assert (len(first["Regions"]), len(second["Regions"])) == (10, 3)
    assert "NextToken" not in rest
    assert [name for name, _ in listed([first, second, rest])] == PARTITION


def test_a_page_that_ends_exactly_at_the_last_region_has_no_token(url):
    page = client(url).list_regions(MaxResults=len(PARTITION))
    assert len(page["Regions"]) == len(PARTITION)
    assert "NextToken" not in page


def test_the_filter_keeps_the_statuses_asked_for(fake, url):
    fake.accounts.set_region(MANAGEMENT, "af-south-1", "ENABLED")
    fake.accounts.set_region(MANAGEMENT, "me-south-1", "DISABLING")
    account = client(url)
    usable = everything(account, RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"])
    assert {name for name, _ in usable} == DEFAULTS | {"af-south-1"}
    assert everything(account, RegionOptStatusContains=["DISABLING"]) == [
        ("me-south-1", "DISABLING")
    ]
    assert everything(account, RegionOptStatusContains=["ENABLING"]) == []
    assert len(everything(account, RegionOptStatusContains=[])) == len(PARTITION)  # no filter


def test_the_filter_pages_too(fake, url):
    pages = list(
        client(url)
        .get_paginator("list_regions")
        .paginate(RegionOptStatusContains=["DISABLED"], PaginationConfig={"PageSize": 5})
    )
    assert len(pages) > 1
    assert listed(pages) == [(name, "DISABLED") for name in PARTITION if name not in DEFAULTS]


def test_a_token_is_good_only_for_the_query_it_came_from(url):
    account = client(url)
    token = account.list_regions(MaxResults=2)["NextToken"]
    for other in (
        {"RegionOptStatusContains": ["DISABLED"]},  # another filter
        {"AccountId": MEMBER},  # another account
    ):
        with pytest.raises(ClientError) as caught:
            account.list_regions(NextToken=token, **other)
        assert error(caught)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as caught:
        account.list_regions(NextToken="not-a-token")
    assert error(caught)[:2] == (400, "ValidationException")


# -- who may name which account ---------------------------------------------------------------


def test_the_management_account_lists_a_member_accounts_regions(fake, url):
    fake.accounts.set_region(MEMBER, "il-central-1", "ENABLED")
    regions = dict(everything(client(url), AccountId=MEMBER))
    assert regions["il-central-1"] == "ENABLED"
    assert dict(everything(client(url)))["il-central-1"] == "DISABLED"  # its own, unchanged
    status = client(url).get_region_opt_status(AccountId=MEMBER, RegionName="il-central-1")
    assert (status["RegionName"], status["RegionOptStatus"]) == ("il-central-1", "ENABLED")


def test_the_management_account_cannot_name_itself(url):
    # AWS: "The management account can't specify its own AccountId"; it answers AccessDenied.
    with pytest.raises(ClientError) as caught:
        client(url).list_regions(AccountId=MANAGEMENT)
    status, code, message = error(caught)
    assert (status, code) == (403, "AccessDeniedException")
    assert "standalone context" in message


def test_a_delegated_administrator_names_members_but_not_the_management_account(fake, url):
    fake.accounts.set_organisation(MANAGEMENT, delegated_admins=[ADMIN])
    fake.accounts.set_region(MEMBER, "ap-east-1", "ENABLED")
    admin = client(url, "admin")
    assert dict(everything(admin, AccountId=MEMBER))["ap-east-1"] == "ENABLED"
    with pytest.raises(ClientError) as caught:
        admin.list_regions(AccountId=MANAGEMENT)
    assert error(caught)[:2] == (403, "AccessDeniedException")


@pytest.mark.parametrize("key", ["member", "admin"])  # admin: not delegated in this test
def test_a_member_account_cannot_name_another_account(url, key):
    with pytest.raises(ClientError) as caught:
        client(url, key).list_regions(AccountId=OUTSIDER)
    status, code, message = error(caught)
    assert (status, code) == (403, "AccessDeniedException")
    assert "not authorized to perform: account:ListRegions" in message
    assert everything(client(url, key))  # its own Regions, without AccountId


def test_without_an_organisation_nobody_names_an_account(fake, url):
    fake.accounts.set_organisation(None)
    with pytest.raises(ClientError) as caught:
        client(url).list_regions(AccountId=MEMBER)
    assert error(caught)[:2] == (403, "AccessDeniedException")
    assert everything(client(url))


def test_trusted_access_and_membership_are_required(fake, url):
    fake.accounts.set_organisation(MANAGEMENT, members=[MEMBER], trusted_access=True)
    assert everything(client(url), AccountId=MEMBER)
    with pytest.raises(ClientError) as caught:
        client(url).list_regions(AccountId=OUTSIDER)
    assert error(caught)[:2] == (403, "AccessDeniedException")
    fake.accounts.set_organisation(MANAGEMENT, trusted_access=False)
    with pytest.raises(ClientError) as caught:
        client(url).get_region_opt_status(AccountId=MEMBER, RegionName="us-east-1")
    status, code, message = error(caught)
    assert (status, code) == (403, "AccessDeniedException")
    assert "trusted access" in message


def test_accounts_come_from_moto_sts_credentials(moto):
    """The resolver the organisation tests use: a key moto's STS issued for a role belongs to
    the role's account; moto's own static key to moto's default account."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=moto)
    role = f"arn:aws:iam::{MEMBER}:role/reader"
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    fake = FakeBackup(accounts=sts_accounts(moto), management_account="123456789012")
    fake.accounts.set_region(MEMBER, "ca-west-1", "ENABLED")
    with fake.serving() as url:
        member = boto3.client(
            "account", region_name=REGION, endpoint_url=url,
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
        )  # fmt: skip
        management = boto3.client("account", region_name=REGION, endpoint_url=url)
        assert dict(everything(member))["ca-west-1"] == "ENABLED"
        assert dict(everything(management))["ca-west-1"] == "DISABLED"
        assert dict(everything(management, AccountId=MEMBER))["ca-west-1"] == "ENABLED"


# -- input the model refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": 51}, "MaxResults"),
        ({"MaxResults": "ten"}, "MaxResults"),
        ({"AccountId": "12345"}, "AccountId"),
        ({"RegionOptStatusContains": ["ON"]}, "RegionOptStatusContains[0]"),
        ({"NextToken": "x" * 1001}, "NextToken"),
    ],
)
def test_list_regions_input_that_breaks_the_model(url, params, field):
    with pytest.raises(ClientError) as caught:
        client(url, validate=False).list_regions(**params)
    assert error(caught)[:2] == (400, "ValidationException")
    body = caught.value.response
    assert body["reason"] == "fieldValidationFailed"
    assert [entry["name"] for entry in body["fieldList"]] == [field]


def test_get_region_opt_status_needs_a_region_it_knows(url):
    unchecked = client(url, validate=False)
    for params in ({}, {"RegionName": ""}, {"RegionName": "nowhere-1"}):
        with pytest.raises(ClientError) as caught:
            unchecked.get_region_opt_status(**params)
        assert error(caught)[:2] == (400, "ValidationException"), params
    status = client(url).get_region_opt_status(RegionName="eu-west-1")
    assert status["RegionOptStatus"] == "ENABLED_BY_DEFAULT"


# -- one endpoint, two services ---------------------------------------------------------------


def test_one_url_serves_aws_backup_and_the_account_api(fake, url):
    fake.store.put(MANAGEMENT, REGION, RestoreJobId="job", ResourceType="EBS")
    backup = boto3.client(
        "backup", region_name=REGION, endpoint_url=url, aws_access_key_id="mgmt",
        aws_secret_access_key="testing", aws_session_token=None,
    )  # fmt: skip
    assert [job["RestoreJobId"] for job in backup.list_restore_jobs()["RestoreJobs"]] == ["job"]
    assert everything(client(url))
    assert fake.counts() == {"ListRestoreJobs": 1, "ListRegions": 1}
    assert {(entry.service, entry.operation) for entry in fake.log} == {
        ("backup", "ListRestoreJobs"),
        ("account", "ListRegions"),
    }


def test_the_service_of_a_request_is_its_credential_scope(url):
    # AWS Backup has no /listRegions, the Account API no /restore-jobs/: each is routed by its
    # own model only.
    status, headers, _ = signed(url, "POST", "/listRegions", b"{}", service="backup")
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidAction")
    status, headers, body = signed(url, "GET", "/restore-jobs/", service="account")
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidAction")
    assert set(json.loads(body)) == {"message"}  # the Account API's error layout
    status, headers, body = signed(url, "POST", "/listRegions", b"{}", service="account")
    assert (status, len(json.loads(body)["Regions"])) == (200, len(PARTITION))


def test_a_request_scoped_to_a_service_the_fake_does_not_serve_is_refused(url):
    status, headers, body = signed(url, "POST", "/listRegions", b"{}", service="ec2")
    assert (status, headers["x-amzn-errortype"]) == (400, "IncompleteSignature")
    assert "'backup' or 'account'" in json.loads(body)["Message"]


def test_account_operations_the_fake_does_not_implement_answer_invalid_action(url):
    with pytest.raises(ClientError) as caught:
        client(url).get_contact_information()
    assert error(caught)[:2] == (400, "InvalidAction")


def test_injected_faults_carry_the_account_api_statuses(fake, url):
    fake.fail_next(1, "TooManyRequestsException", "Rate exceeded")
    fake.fail_next(1, "AccessDeniedException", "denied")
    account = client(url)
    for expected in ((429, "TooManyRequestsException"), (403, "AccessDeniedException")):
        with pytest.raises(ClientError) as caught:
            account.list_regions()
        assert error(caught)[:2] == expected
    status, headers, _ = send(f"{url}/listRegions", "POST", {})
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationToken")
