"""Restore job summaries over the wire: AWS Backup's organisation-wide daily counts
(ListRestoreJobSummaries, AccountId=ANY) from the fake, as /metrics shows them; paging with
empty pages, a member account refused, the refresh interval, and the configuration."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from exporter.config import ConfigError, parse_config
from tests.conftest import ACCOUNT, STORE, put_job
from tests.scraped import Scraped
from tests.tools import run_tool

JOBS = "aws_backup_restore_job_summaries_jobs"
UP = "aws_backup_restore_exporter_source_up"
OPERATION = "ListRestoreJobSummaries"
OPERATION_SOURCE = "restore_job_summaries"
OTHER, THIRD = "111122223333", "444455556666"
# The fake's "now" for its summaries, fixed so that no test depends on the day it runs.
FAKE_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 20, tzinfo=UTC)
YESTERDAY, DAY_BEFORE = TODAY - timedelta(days=1), TODAY - timedelta(days=2)


@pytest.fixture
def fake(backup_server, backup):
    """The session's fake, emptied (``backup``), its summaries computed at FAKE_NOW."""
    backup_server.summaries.clock = FAKE_NOW.timestamp
    return backup_server


def job(account: str, when: datetime, status: str, kind: str, region: str = "us-east-1") -> None:
    STORE.put(account, region, CreationDate=when, Status=status, ResourceType=kind)


def summary_config(**settings: object) -> dict:
    return {"enabled": True, **settings}


def counts(seen: Scraped) -> dict[tuple[str, ...], float]:
    """(target, account, region, resource type, state, period) -> jobs, from one scrape."""
    return {
        (
            s.labels["target"], s.labels["account_id"], s.labels["region"],
            s.labels["resource_type"], s.labels["state"], s.labels["aggregation_period"],
        ): s.value
        for s in seen.samples()
        if s.name == JOBS
    }  # fmt: skip


def test_counts_by_account_region_resource_type_and_state_across_the_organisation(
    fake, make_exporter, clock
):
    for account, region in ((ACCOUNT, "us-east-1"), (OTHER, "us-east-1"), (THIRD, "eu-west-1")):
        job(account, YESTERDAY + timedelta(hours=3), "COMPLETED", "EBS", region)
        job(account, YESTERDAY + timedelta(hours=9), "COMPLETED", "EBS", region)
    job(OTHER, YESTERDAY + timedelta(hours=1), "FAILED", "RDS")
    job(THIRD, DAY_BEFORE, "ABORTED", "EFS", "eu-west-1")  # an earlier day only: 0 now
    job(OTHER, TODAY + timedelta(hours=1), "RUNNING", "EBS")  # today: not summarised yet
    job(OTHER, TODAY - timedelta(days=15), "FAILED", "EBS")  # before the 14 days
    config = {
        "targets": [
            {"name": "org-use1", "region": "us-east-1", "restore_job_summaries": summary_config()},
            {"name": "org-euw1", "region": "eu-west-1", "restore_job_summaries": summary_config()},
        ]
    }
    exporter = make_exporter(config, clock=clock)
    seen = Scraped(exporter)
    assert counts(seen) == {
        ("org-use1", ACCOUNT, "us-east-1", "EBS", "COMPLETED", "ONE_DAY"): 2,
        ("org-use1", OTHER, "us-east-1", "EBS", "COMPLETED", "ONE_DAY"): 2,
        ("org-use1", OTHER, "us-east-1", "RDS", "FAILED", "ONE_DAY"): 1,
        ("org-euw1", THIRD, "eu-west-1", "EBS", "COMPLETED", "ONE_DAY"): 2,
        ("org-euw1", THIRD, "eu-west-1", "EFS", "ABORTED", "ONE_DAY"): 0,
    }
    start = "aws_backup_restore_job_summaries_period_start_timestamp_seconds"
    end = "aws_backup_restore_job_summaries_period_end_timestamp_seconds"
    labels = {"target": "org-use1", "aggregation_period": "ONE_DAY"}
    assert seen.get_sample_value(start, labels) == YESTERDAY.timestamp()
    assert seen.get_sample_value(end, labels) == TODAY.timestamp()
    assert seen.get_sample_value(UP, {"target": "org-use1", "source": OPERATION_SOURCE}) == 1
    assert exporter.api_requests(OPERATION) == 2  # one page per target, once per interval
    asked = [entry.query for entry in fake.log if entry.operation == OPERATION]
    assert {q["AccountId"] for q in asked} == {"ANY"}
    assert {(q["State"], q["ResourceType"], q["MaxResults"]) for q in asked} == {
        ("ANY", "ANY", "500")
    }


def test_promtool_finds_nothing_to_complain_about_in_the_summary_series(fake, make_exporter, clock):
    job(OTHER, YESTERDAY, "FAILED", "RDS")
    job(OTHER, DAY_BEFORE, "COMPLETED", "EBS")
    exporter = make_exporter(clock=clock, restore_job_summaries=summary_config())
    text = Scraped(exporter).text()
    assert f'{JOBS}{{account_id="{OTHER}",aggregation_period="ONE_DAY"' in text
    result = run_tool("promtool", "check", "metrics", input=text)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_seven_days_is_one_aggregate_over_the_prior_week(fake, make_exporter, clock):
    for days in (1, 3, 7, 8):
        job(OTHER, TODAY - timedelta(days=days), "COMPLETED", "EBS")
    exporter = make_exporter(
        clock=clock, restore_job_summaries=summary_config(aggregation_period="SEVEN_DAYS")
    )
    seen = Scraped(exporter)
    assert counts(seen) == {("main", OTHER, "us-east-1", "EBS", "COMPLETED", "SEVEN_DAYS"): 3}
    start = "aws_backup_restore_job_summaries_period_start_timestamp_seconds"
    labels = {"target": "main", "aggregation_period": "SEVEN_DAYS"}
    assert seen.get_sample_value(start, labels) == (TODAY - timedelta(days=7)).timestamp()


def test_one_account_id_counts_that_account_only(fake, make_exporter, clock):
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    job(THIRD, YESTERDAY, "FAILED", "EBS")
    exporter = make_exporter(clock=clock, restore_job_summaries=summary_config(account_id=THIRD))
    assert counts(Scraped(exporter)) == {
        ("main", THIRD, "us-east-1", "EBS", "FAILED", "ONE_DAY"): 1
    }


def test_every_page_is_followed_until_next_token_is_absent_empty_pages_included(
    fake, make_exporter, clock
):
    for n in range(520):  # 520 summaries: two pages of up to 500
        job(OTHER, YESTERDAY, "COMPLETED", f"Type{n:03d}")
    fake.summaries.empty_pages = 2  # AWS may answer an empty page with a NextToken
    exporter = make_exporter(clock=clock, restore_job_summaries=summary_config())
    seen = counts(Scraped(exporter))
    assert len(seen) == 520
    assert sum(seen.values()) == 520
    pages = [entry for entry in fake.log if entry.operation == OPERATION]
    assert len(pages) == 6  # 2 empty, 500, 2 empty, 20
    assert exporter.api_requests(OPERATION, "success") == 6
    assert ["NextToken" in entry.query for entry in pages] == [False] + [True] * 5


def test_a_member_account_is_refused_source_down_target_up_retried_a_minute_later(
    fake, make_exporter, clock, caplog
):
    fake.summaries.administrators = set()  # the caller's account is a member, not the manager
    put_job(Status="RUNNING")
    exporter = make_exporter(clock=clock, restore_job_summaries=summary_config())
    with caplog.at_level(logging.WARNING, logger="exporter"):
        seen = Scraped(exporter)
        text = seen.text()
    assert seen.get_sample_value(UP, {"target": "main", "source": OPERATION_SOURCE}) == 0
    assert seen.get_sample_value(UP, {"target": "main", "source": "restore_jobs"}) == 1
    labels = {"target": "main", "region": "us-east-1"}
    assert seen.get_sample_value("aws_backup_restore_exporter_target_up", labels) == 1
    assert "aws_backup_restore_job_status{" in text  # restore jobs are served as before
    assert JOBS + "{" not in text
    assert exporter.api_requests(OPERATION, "auth") == 1
    lines = [r.getMessage() for r in caplog.records if OPERATION_SOURCE in r.getMessage()]
    assert len(lines) == 1
    assert "reason=auth" in lines[0]
    assert "AccessDeniedException" in lines[0]
    clock.advance(59)
    seen.text()
    assert exporter.api_requests(OPERATION) == 1  # not on every scrape
    clock.advance(1)
    fake.summaries.administrators = {ACCOUNT}  # made a delegated administrator meanwhile
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    assert counts(seen) == {("main", OTHER, "us-east-1", "EBS", "COMPLETED", "ONE_DAY"): 1}
    assert exporter.api_requests(OPERATION) == 2
    assert seen.get_sample_value(UP, {"target": "main", "source": OPERATION_SOURCE}) == 1


def test_a_failed_refresh_keeps_the_last_counts(fake, make_exporter, clock):
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    settings = summary_config(refresh_interval="5m")
    exporter = make_exporter(clock=clock, restore_job_summaries=settings)
    seen = Scraped(exporter)
    before = counts(seen)
    assert before == {("main", OTHER, "us-east-1", "EBS", "COMPLETED", "ONE_DAY"): 1}
    clock.advance(300)
    fake.summaries.administrators = set()  # no longer an administrator: refused
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    assert counts(seen) == before
    assert exporter.api_requests(OPERATION, "auth") == 1
    assert seen.get_sample_value(UP, {"target": "main", "source": OPERATION_SOURCE}) == 0


def test_the_refresh_interval_is_honoured(fake, make_exporter, clock):
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    settings = summary_config(refresh_interval="10m")
    exporter = make_exporter(clock=clock, restore_job_summaries=settings)
    seen = Scraped(exporter)
    key = ("main", OTHER, "us-east-1", "EBS", "COMPLETED", "ONE_DAY")
    assert counts(seen) == {key: 1}
    job(OTHER, YESTERDAY, "COMPLETED", "EBS")
    clock.advance(599)
    assert counts(seen) == {key: 1}  # the last refresh's counts, not AWS's newer ones
    assert exporter.api_requests(OPERATION) == 1
    clock.advance(1)
    assert counts(seen) == {key: 2}
    assert exporter.api_requests(OPERATION) == 2


def test_off_by_default_no_request_no_series(fake, make_exporter, clock):
    job(ACCOUNT, YESTERDAY, "COMPLETED", "EBS")
    exporter = make_exporter(clock=clock)
    assert not exporter.config.targets[0].restore_job_summaries.enabled
    text = Scraped(exporter).text()
    assert exporter.api_requests(OPERATION) == 0
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples  # the scrape has the restore jobs' series
    assert not [line for line in samples if "restore_job_summaries_" in line]
    assert f'source="{OPERATION_SOURCE}"' not in text
    assert fake.requests(OPERATION) == 0


def config_with(**settings: object) -> dict:
    return {"targets": [{"region": "us-east-1", "restore_job_summaries": settings}]}


def test_the_configuration_defaults():
    settings = parse_config(config_with(enabled=True)).targets[0].restore_job_summaries
    assert (settings.account_id, settings.aggregation_period) == ("ANY", "ONE_DAY")
    assert settings.refresh_interval_seconds == 3600


@pytest.mark.parametrize(
    ("key", "value", "detail"),
    [
        ("enabled", "yes", "expected true or false"),
        ("account_id", "AGGREGATE_ALL", "AGGREGATE_ALL is not supported"),
        ("account_id", 111122223333, "111122223333 is not ANY or a 12-digit account ID"),
        ("account_id", "12345", "'12345' is not ANY or a 12-digit account ID"),
        ("aggregation_period", "ONE_WEEK", "'ONE_WEEK' is not one of ONE_DAY, SEVEN_DAYS"),
        ("refresh_interval", "4m", "'4m' is outside 300s..86400s"),
        ("refresh_interval", "2d", "'2d' is outside 300s..86400s"),
        ("refresh", "1h", "unknown key (known keys: account_id, aggregation_period, enabled"),
    ],
)
def test_configuration_errors_name_the_key(key, value, detail):
    with pytest.raises(ConfigError) as error:
        parse_config(config_with(**{key: value}))
    assert str(error.value).startswith(f"targets[0].restore_job_summaries.{key}: {detail}")
