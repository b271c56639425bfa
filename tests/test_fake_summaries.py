"""The fake's ListRestoreJobSummaries, through a real boto3 client: AWS's documented rules for
AccountId (ANY and AGGREGATE_ALL beyond the model's pattern, only for administrators), the
periods, the filters, MaxResults 1..500 and the cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, STORE

OTHER = "111122223333"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def client(backup_server, backup):
    backup_server.summaries.clock = NOW.timestamp
    return boto3.client(
        "backup", region_name="us-east-1", endpoint_url=backup,
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def job(account: str, days_ago: float, status: str = "COMPLETED", kind: str = "EBS") -> None:
    STORE.put(account, "us-east-1", CreationDate=TODAY - timedelta(days=days_ago), Status=status,
              ResourceType=kind)  # fmt: skip


def listed(client, **params) -> list[tuple]:
    summaries = client.list_restore_job_summaries(**params)["RestoreJobSummaries"]
    return [
        (s.get("AccountId"), s["State"], s.get("ResourceType"), s["Count"],
         (TODAY - s["StartTime"]).days, (s["EndTime"] - s["StartTime"]).days)
        for s in summaries
    ]  # fmt: skip


def test_any_counts_each_account_and_aggregate_all_sums_them(client):
    job(ACCOUNT, 0.5)
    job(OTHER, 0.5)
    job(OTHER, 0.75)
    # botocore checks no pattern on the client: ANY reaches the fake despite ^[0-9]{12}$
    assert listed(client, AccountId="ANY", AggregationPeriod="ONE_DAY") == [
        (OTHER, "COMPLETED", "EBS", 2, 1, 1),
        (ACCOUNT, "COMPLETED", "EBS", 1, 1, 1),
    ]
    assert listed(client, AccountId="AGGREGATE_ALL", AggregationPeriod="ONE_DAY") == [
        (None, "COMPLETED", "EBS", 3, 1, 1)
    ]
    assert listed(client, AggregationPeriod="ONE_DAY") == [(ACCOUNT, "COMPLETED", "EBS", 1, 1, 1)]
    assert listed(client, AccountId=OTHER) == [(OTHER, "COMPLETED", "EBS", 2, 1, 1)]


def test_a_member_account_sees_its_own_jobs_and_is_refused_the_organisation(client, backup_server):
    backup_server.summaries.administrators = {OTHER}  # the caller's account is a member
    job(ACCOUNT, 0.5)
    job(OTHER, 0.5)
    assert listed(client) == [(ACCOUNT, "COMPLETED", "EBS", 1, 1, 1)]
    assert listed(client, AccountId=ACCOUNT) == [(ACCOUNT, "COMPLETED", "EBS", 1, 1, 1)]
    for account in ("ANY", "AGGREGATE_ALL", OTHER):
        with pytest.raises(ClientError) as error:
            client.list_restore_job_summaries(AccountId=account)
        assert error.value.response["Error"]["Code"] == "AccessDeniedException"


def test_one_day_is_fourteen_daily_counts_before_today_the_others_one_aggregate(client):
    for days_ago in (-0.5, 0.5, 1.5, 6.5, 7.5, 13.5, 14.5):  # -0.5: today, not yet summarised
        job(OTHER, days_ago)
    daily = listed(client, AccountId="ANY", AggregationPeriod="ONE_DAY")
    assert [(days, span) for *_, days, span in daily] == [(1, 1), (2, 1), (7, 1), (8, 1), (14, 1)]
    assert listed(client, AccountId="ANY", AggregationPeriod="SEVEN_DAYS") == [
        (OTHER, "COMPLETED", "EBS", 3, 7, 7)
    ]
    assert listed(client, AccountId="ANY", AggregationPeriod="FOURTEEN_DAYS") == [
        (OTHER, "COMPLETED", "EBS", 5, 14, 14)
    ]


def test_state_and_resource_type_filter_or_sum(client):
    job(OTHER, 0.5, "COMPLETED", "EBS")
    job(OTHER, 0.5, "FAILED", "EBS")
    job(OTHER, 0.5, "FAILED", "RDS")
    assert listed(client, AccountId=OTHER, State="FAILED") == [
        (OTHER, "FAILED", "EBS", 1, 1, 1), (OTHER, "FAILED", "RDS", 1, 1, 1),
    ]  # fmt: skip
    assert listed(client, AccountId=OTHER, State="AGGREGATE_ALL", ResourceType="EBS") == [
        (OTHER, "AGGREGATE_ALL", "EBS", 2, 1, 1)
    ]
    assert listed(client, AccountId=OTHER, State="ANY", ResourceType="AGGREGATE_ALL") == [
        (OTHER, "COMPLETED", "AGGREGATE_ALL", 1, 1, 1), (OTHER, "FAILED", "AGGREGATE_ALL", 2, 1, 1),
    ]  # fmt: skip


def test_max_results_is_1_to_500_as_aws_documents_though_the_model_says_1000(client):
    job(OTHER, 0.5)
    assert len(listed(client, AccountId="ANY", MaxResults=500)) == 1
    with pytest.raises(ClientError) as error:
        client.list_restore_job_summaries(MaxResults=501)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_pages_follow_a_cursor_bound_to_its_query_with_empty_pages_when_asked(
    client, backup_server
):
    for n in range(5):
        job(OTHER, 0.5, kind=f"T{n}")
    backup_server.summaries.empty_pages = 1
    seen, sizes, token = [], [], None
    while True:
        page = client.list_restore_job_summaries(
            AccountId="ANY", MaxResults=2, **({"NextToken": token} if token else {})
        )
        sizes.append(len(page["RestoreJobSummaries"]))
        seen += [s["ResourceType"] for s in page["RestoreJobSummaries"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert sizes == [0, 2, 0, 2, 0, 1]
    assert seen == [f"T{n}" for n in range(5)]
    first = client.list_restore_job_summaries(AccountId="ANY", MaxResults=2)["NextToken"]
    with pytest.raises(ClientError) as error:
        client.list_restore_job_summaries(AccountId=OTHER, NextToken=first)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
