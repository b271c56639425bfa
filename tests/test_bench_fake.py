"""The benchmark's fake AWS Backup endpoint speaks the wire format a real boto3 client expects.

Its figures are only worth something if the exporter talks to it exactly as it would talk to
AWS, so every test here goes through a real boto3 client over HTTP: pagination, each filter,
errors as botocore parses them, and the request accounting the benchmark reports.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import ClientError

from exporter.aws import classify_error
from exporter.config import parse_config
from exporter.scheduler import Exporter


def _load_fake() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "fake_backup.py"
    spec = importlib.util.spec_from_file_location("bench_fake_backup", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake_backup = _load_fake()
NOW = time.time()


@pytest.fixture
def fake() -> Iterator[tuple[object, str]]:
    backend = fake_backup.FakeBackup(latency=0.0)
    backend.reset(fake_backup.generate_jobs(2500, now=NOW, seed=7), seed=7)
    with fake_backup.serve(backend) as url:
        yield backend, url


def _client(url: str, **config: object):
    return boto3.client(
        "backup",
        region_name="us-east-1",
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


def test_pagination_returns_every_job_once_newest_first(fake):
    backend, url = fake
    jobs = _all(_client(url))
    assert backend.requests("ListRestoreJobs") == 3  # 2,500 jobs, pages of 1,000
    ids = [job["RestoreJobId"] for job in jobs]
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == {job["RestoreJobId"] for job in backend.jobs()}
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
    before = {job["RestoreJobId"] for job in backend.jobs()}
    page = client.list_restore_jobs(MaxResults=1000)
    seen = [job["RestoreJobId"] for job in page["RestoreJobs"]]
    backend.tick(new_jobs=50)  # newest first: new jobs land before the cursor
    while "NextToken" in page:
        page = client.list_restore_jobs(MaxResults=1000, NextToken=page["NextToken"])
        seen.extend(job["RestoreJobId"] for job in page["RestoreJobs"])
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"ByStatus": "RUNNING"}, lambda job: job["Status"] == "RUNNING"),
        ({"ByResourceType": "EBS"}, lambda job: job["ResourceType"] == "EBS"),
        ({"ByAccountId": "123456789012"}, lambda job: True),
        ({"ByAccountId": "111122223333"}, lambda job: False),
        (
            {"ByCreatedAfter": NOW - 3600},
            lambda job: job["CreationDate"] > NOW - 3600,
        ),
        (
            {"ByCreatedBefore": NOW - 3600, "ByStatus": "COMPLETED"},
            lambda job: job["CreationDate"] < NOW - 3600 and job["Status"] == "COMPLETED",
        ),
        (  # jobs without a completion date never match a completion filter
            {"ByCompleteAfter": NOW - 7200},
            lambda job: job.get("CompletionDate", 0) > NOW - 7200,
        ),
        (
            {"ByCompleteBefore": NOW - 7200},
            lambda job: "CompletionDate" in job and job["CompletionDate"] < NOW - 7200,
        ),
        (
            {"ByRestoreTestingPlanArn": fake_backup._PLANS[0]},
            lambda job: job.get("CreatedBy", {}).get("RestoreTestingPlanArn")
            == fake_backup._PLANS[0],
        ),
    ],
)
def test_filters_match_what_the_fake_holds(fake, filters, keep):
    backend, url = fake
    expected = {job["RestoreJobId"] for job in backend.jobs() if keep(job)}
    got = {job["RestoreJobId"] for job in _all(_client(url), **filters)}
    assert got == expected
    # Query-string names and ISO 8601 timestamps, exactly as botocore serialised them:
    _, params = backend.log[-1]
    wire = {"ByStatus": "status", "ByResourceType": "resourceType", "ByAccountId": "accountId",
            "ByCreatedAfter": "createdAfter", "ByCreatedBefore": "createdBefore",
            "ByCompleteAfter": "completeAfter", "ByCompleteBefore": "completeBefore",
            "ByRestoreTestingPlanArn": "restoreTestingPlanArn"}
    assert {wire[name] for name in filters} <= set(params)


def test_describe_round_trips_every_field(fake):
    backend, url = fake
    stored = next(job for job in backend.jobs() if job.get("CreatedBy"))
    got = _client(url).describe_restore_job(RestoreJobId=stored["RestoreJobId"])
    got.pop("ResponseMetadata")
    for name in ("CreationDate", "CompletionDate", "RecoveryPointCreationDate"):
        if name in stored:
            assert _epoch(got.pop(name)) == pytest.approx(stored.pop(name), abs=1e-3)
    assert got == stored
    assert backend.counts() == {"DescribeRestoreJob": 1}


def test_not_found_is_parsed_as_aws_sends_it(fake):
    backend, url = fake
    client = _client(url)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.describe_restore_job(RestoreJobId="no-such-job")
    response = caught.value.response
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
        "ResourceNotFoundException"
    )
    assert "no-such-job" in response["Error"]["Message"]
    assert classify_error(caught.value) == "not_found"
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
        "backup", region_name="us-east-1", endpoint_url=url,
        config=BotocoreConfig(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    response = client.list_restore_jobs(ByStatus="PENDING")
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert backend.requests() == 2


def test_unsigned_requests_are_refused(fake):
    _, url = fake
    from botocore import UNSIGNED

    with pytest.raises(ClientError) as caught:
        _client(url, signature_version=UNSIGNED).list_restore_jobs()
    assert classify_error(caught.value) == "auth"


def test_tick_moves_jobs_along_and_is_seeded():
    first, second = fake_backup.FakeBackup(), fake_backup.FakeBackup()
    for backend in (first, second):
        backend.reset(fake_backup.generate_jobs(300, now=NOW, seed=3), seed=3)
    pending = {job["RestoreJobId"] for job in first.jobs() if job["Status"] == "PENDING"}
    assert first.tick(NOW + 30, new_jobs=4) == second.tick(NOW + 30, new_jobs=4)
    assert first.jobs() == second.jobs()
    jobs = {job["RestoreJobId"]: job for job in first.jobs()}
    assert len(jobs) == 304
    assert all(jobs[job_id]["Status"] != "PENDING" for job_id in pending)
    for job in jobs.values():  # a finished job always says when it finished
        assert (job["Status"] in ("COMPLETED", "FAILED", "ABORTED")) == ("CompletionDate" in job)


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
