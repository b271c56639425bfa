"""The fake AWS Backup as the benchmarks use it: a seeded population of thousands of jobs, its
churn between scrapes, latency, injected errors, and the request accounting the benchmark
reports, all through a real boto3 client over HTTP, as the exporter under test talks to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import ClientError

from exporter.aws_errors import classify_error
from exporter.config import parse_config
from exporter.demo.fake_backup import FakeBackup, generate_jobs, plan_arns
from exporter.scheduler import Exporter
from tests.test_fake_api import describe_unknown_job

ACCOUNT, REGION = "123456789012", "us-east-1"
NOW = time.time()
PLAN = plan_arns()[0]
JOBS = generate_jobs(2500, now=NOW, seed=7)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeBackup, str]]:
    fake = FakeBackup(latency=0.0)
    with fake.serving() as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeBackup, str]) -> tuple[FakeBackup, str]:
    backend, url = served
    backend.latency = 0.0
    backend.reset(JOBS, seed=7)
    return backend, url


def _client(url: str, **config: object):
    return boto3.client(
        "backup",
        region_name=REGION,
        endpoint_url=url,
        config=BotocoreConfig(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def _all(client, **filters) -> list[dict]:
    jobs: list[dict] = []
    for page in client.get_paginator("list_restore_jobs").paginate(
        **filters, PaginationConfig={"PageSize": 1000}
    ):
        jobs.extend(page["RestoreJobs"])
    return jobs


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _held(backend: FakeBackup) -> list[dict]:
    return backend.store.jobs(ACCOUNT, REGION)


def test_pagination_returns_every_job_once_newest_first(fake):
    backend, url = fake
    jobs = _all(_client(url))
    assert backend.requests("ListRestoreJobs") == 3  # 2,500 jobs, pages of 1,000
    ids = [job["RestoreJobId"] for job in jobs]
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == {job["RestoreJobId"] for job in _held(backend)}
    created = [_epoch(job["CreationDate"]) for job in jobs]
    assert created == sorted(created, reverse=True)


def test_small_pages_and_next_token(fake):
    _, url = fake
    client = _client(url)
    first = client.list_restore_jobs(MaxResults=1)
    assert len(first["RestoreJobs"]) == 1
    second = client.list_restore_jobs(MaxResults=1, NextToken=first["NextToken"])
    assert second["RestoreJobs"][0]["RestoreJobId"] != first["RestoreJobs"][0]["RestoreJobId"]
    assert "NextToken" not in client.list_restore_jobs(ByStatus="PENDING", MaxResults=1000)


def test_jobs_added_between_pages_neither_skip_nor_repeat(fake):
    backend, url = fake
    client = _client(url)
    before = {job["RestoreJobId"] for job in _held(backend)}
    page = client.list_restore_jobs(MaxResults=1000)
    seen = [job["RestoreJobId"] for job in page["RestoreJobs"]]
    backend.tick(new_jobs=50)  # newest first: new jobs land before the cursor
    while "NextToken" in page:
        page = client.list_restore_jobs(MaxResults=1000, NextToken=page["NextToken"])
        seen.extend(job["RestoreJobId"] for job in page["RestoreJobs"])
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def _created(job: dict) -> float:
    return _epoch(job["CreationDate"])


def _completed(job: dict) -> float | None:
    return _epoch(job["CompletionDate"]) if "CompletionDate" in job else None


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"ByStatus": "RUNNING"}, lambda job: job["Status"] == "RUNNING"),
        ({"ByResourceType": "EBS"}, lambda job: job["ResourceType"] == "EBS"),
        ({"ByAccountId": "123456789012"}, lambda job: True),
        ({"ByAccountId": "111122223333"}, lambda job: False),
        ({"ByCreatedAfter": NOW - 3600}, lambda job: _created(job) > NOW - 3600),
        (
            {"ByCreatedBefore": NOW - 3600, "ByStatus": "COMPLETED"},
            lambda job: _created(job) < NOW - 3600 and job["Status"] == "COMPLETED",
        ),
        (  # jobs without a completion date never match a completion filter
            {"ByCompleteAfter": NOW - 7200},
            lambda job: (_completed(job) or 0) > NOW - 7200,
        ),
        (
            {"ByCompleteBefore": NOW - 7200},
            lambda job: _completed(job) is not None and _completed(job) < NOW - 7200,
        ),
        (
            {"ByRestoreTestingPlanArn": PLAN},
            lambda job: job.get("CreatedBy", {}).get("RestoreTestingPlanArn") == PLAN,
        ),
    ],
)
def test_filters_match_what_the_fake_holds(fake, filters, keep):
    backend, url = fake
    expected = {job["RestoreJobId"] for job in _held(backend) if keep(job)}
    got = {job["RestoreJobId"] for job in _all(_client(url), **filters)}
    assert got == expected
    # Query-string names and ISO 8601 timestamps, exactly as botocore serialised them:
    params = backend.log[-1].query
    wire = {"ByStatus": "status", "ByResourceType": "resourceType", "ByAccountId": "accountId",
            "ByCreatedAfter": "createdAfter", "ByCreatedBefore": "createdBefore",
            "ByCompleteAfter": "completeAfter", "ByCompleteBefore": "completeBefore",
            "ByRestoreTestingPlanArn": "restoreTestingPlanArn"}  # fmt: skip
    assert {wire[name] for name in filters} <= set(params)
    for name in filters:
        if name.startswith(("ByCreated", "ByComplete")):
            assert datetime.fromisoformat(params[wire[name]]).tzinfo is not None


def test_describe_round_trips_every_field(fake):
    backend, url = fake
    stored = next(job for job in _held(backend) if job.get("CreatedBy"))
    got = _client(url).describe_restore_job(RestoreJobId=stored["RestoreJobId"])
    got.pop("ResponseMetadata")
    assert got == stored  # dates included: stored with AWS's millisecond precision
    assert backend.counts() == {"DescribeRestoreJob": 1}


def test_not_found_is_parsed_as_aws_sends_it(fake):
    backend, url = fake
    error = describe_unknown_job(_client(url))
    assert error.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
        "ResourceNotFoundException"
    )
    assert classify_error(error) == "not_found"
    assert backend.requests("DescribeRestoreJob") == 1


def test_invalid_parameters_are_refused(fake):
    _, url = fake
    client = _client(url)
    with pytest.raises(ClientError) as caught:
        client.list_restore_jobs(ByStatus="DONE")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    token = client.list_restore_jobs(MaxResults=10)["NextToken"]
    with pytest.raises(ClientError) as caught:  # a token only fits the query it came from
        client.list_restore_jobs(MaxResults=10, ByStatus="FAILED", NextToken=token)
    assert classify_error(caught.value) == "invalid"


def test_injected_throttling_is_retried_and_every_attempt_counted(fake):
    backend, url = fake
    backend.fail_next(1)
    client = boto3.client(
        "backup", region_name=REGION, endpoint_url=url,
        config=BotocoreConfig(retries={"mode": "standard", "total_max_attempts": 2}),
    )  # fmt: skip
    response = client.list_restore_jobs(ByStatus="PENDING")
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert backend.requests() == 2
    assert [entry.error_code for entry in backend.log] == ["ThrottlingException", None]
    assert [entry.status for entry in backend.log] == [400, 200]


def test_unsigned_requests_are_refused(fake):
    _, url = fake
    with pytest.raises(ClientError) as caught:
        _client(url, signature_version=UNSIGNED).list_restore_jobs()
    assert classify_error(caught.value) == "auth"


def test_tick_moves_jobs_along_and_is_seeded():
    first, second = FakeBackup(), FakeBackup()
    for backend in (first, second):
        backend.reset(generate_jobs(300, now=NOW, seed=3), seed=3)
    pending = {job["RestoreJobId"] for job in _held(first) if job["Status"] == "PENDING"}
    assert first.tick(NOW + 30, new_jobs=4) == second.tick(NOW + 30, new_jobs=4)
    assert _held(first) == _held(second)
    jobs = {job["RestoreJobId"]: job for job in _held(first)}
    assert len(jobs) == 304
    assert all(jobs[job_id]["Status"] != "PENDING" for job_id in pending)
    for job in jobs.values():  # a finished job always says when it finished
        assert (job["Status"] in ("COMPLETED", "FAILED", "ABORTED")) == ("CompletionDate" in job)


def test_generated_jobs_are_a_realistic_mix():
    jobs = generate_jobs(2000, now=NOW, seed=1)
    statuses = [job["Status"] for job in jobs]
    assert set(statuses) == {"PENDING", "RUNNING", "COMPLETED", "FAILED", "ABORTED"}
    assert statuses.count("COMPLETED") > 0.85 * len(jobs)
    tests = [job for job in jobs if job.get("CreatedBy")]
    assert 0.1 * len(jobs) < len(tests) < 0.3 * len(jobs)
    assert {job.get("ValidationStatus") for job in tests} >= {"VALIDATING", "SUCCESSFUL"}
    assert {job.get("DeletionStatus") for job in tests} >= {None, "DELETING", "SUCCESSFUL"}
    assert generate_jobs(50, now=NOW, seed=1) == generate_jobs(50, now=NOW, seed=1)
    assert all(NOW - 23 * 3600 <= job["CreationDate"] <= NOW for job in jobs)


def test_the_exporter_reads_every_job_through_the_fake(fake):
    backend, url = fake
    config = parse_config(
        {"targets": [{"name": "bench", "region": "us-east-1", "endpoint_url": url}]}
    )
    exporter = Exporter(config)
    try:
        scrape = exporter.scrape()
        assert scrape.health[0].up
        assert len(scrape.snapshots[0].all_jobs) == 2500
        assert exporter.api_requests() == backend.requests()
        assert backend.counts().get("DescribeRestoreJob", 0) == 0
    finally:
        exporter.close()
