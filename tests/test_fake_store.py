"""The fake AWS Backup's job store, without HTTP: what a stored job may hold, the helpers that
create and change jobs, copies, per-(account, region) tables and idempotency tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exporter.demo.fake_backup import RestoreJobStore

ACCOUNT = "123456789012"
REGION = "us-east-1"
PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:nightly"


@pytest.fixture
def store() -> RestoreJobStore:
    return RestoreJobStore()


def ids(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["RestoreJobId"] for job in jobs]


def test_put_fills_defaults(store):
    job_id = store.put(ACCOUNT, REGION, ResourceType="S3")
    (job,) = store.jobs(ACCOUNT, REGION)
    assert job["RestoreJobId"] == job_id
    assert job["AccountId"] == ACCOUNT
    assert job["Status"] == "PENDING"
    assert abs(job["CreationDate"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_put_replaces_a_job_with_the_same_id(store):
    store.put(ACCOUNT, REGION, RestoreJobId="a", Status="RUNNING", PercentDone="10.00%")
    store.put(ACCOUNT, REGION, RestoreJobId="a", Status="COMPLETED")
    (job,) = store.jobs(ACCOUNT, REGION)
    assert job["Status"] == "COMPLETED"
    assert "PercentDone" not in job


def test_dates_are_utc_with_millisecond_precision(store):
    store.put(
        ACCOUNT,
        REGION,
        RestoreJobId="a",
        CreationDate=1_700_000_000.123456,
        CompletionDate=datetime(2026, 1, 1, 12, 0, 0, 999_999),
    )
    (job,) = store.jobs(ACCOUNT, REGION)
    assert job["CreationDate"] == datetime.fromtimestamp(1_700_000_000.123, UTC)
    assert job["CompletionDate"] == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"Progress": "1%"}, TypeError),  # not a field of the model
        ({"PercentDone": 37.5}, TypeError),  # a string in the model
        ({"BackupSizeInBytes": "5"}, TypeError),
        ({"IsParent": 1}, TypeError),
        ({"ExpectedCompletionTimeMinutes": True}, TypeError),
        ({"CreationDate": "yesterday"}, TypeError),
        ({"CreatedBy": {"Plan": "x"}}, TypeError),
        ({"CreatedBy": {"RestoreTestingPlanArn": 7}}, TypeError),
        ({"Status": "DONE"}, ValueError),  # not in RestoreJobStatus
        ({"ValidationStatus": "PASSED"}, ValueError),
        ({"DeletionStatus": "DELETED"}, ValueError),
        ({"AccountId": "12345"}, ValueError),  # the model's pattern: twelve digits
        ({"ResourceType": "SAP HANA"}, ValueError),  # pattern [a-zA-Z0-9\-\_\.]{1,50}
        ({"ResourceType": "x" * 51}, ValueError),
    ],
)
def test_put_refuses_what_aws_could_not_send(store, fields, error):
    with pytest.raises(error):
        store.put(ACCOUNT, REGION, **fields)
    assert store.jobs(ACCOUNT, REGION) == []


def test_update_changes_and_removes_fields(store):
    job_id = store.put(
        ACCOUNT, REGION, Status="RUNNING", PercentDone="50.00%", StatusMessage="slow"
    )
    store.update(ACCOUNT, REGION, job_id, PercentDone="75.00%", StatusMessage=None)
    (job,) = store.jobs(ACCOUNT, REGION)
    assert job["PercentDone"] == "75.00%"
    assert "StatusMessage" not in job
    with pytest.raises(TypeError):
        store.update(ACCOUNT, REGION, job_id, Status=None)
    with pytest.raises(TypeError):
        store.update(ACCOUNT, REGION, job_id, RestoreJobId="other")
    with pytest.raises(ValueError):
        store.update(ACCOUNT, REGION, job_id, Status="DONE")
    with pytest.raises(ValueError):  # one bad field: none of the others change either
        store.update(ACCOUNT, REGION, job_id, PercentDone="80.00%", Status="DONE")
    assert store.jobs(ACCOUNT, REGION) == [job]  # a refused update changes nothing
    with pytest.raises(KeyError):
        store.update(ACCOUNT, REGION, "missing", Status="RUNNING")


def test_jobs_and_get_return_copies(store):
    store.put(ACCOUNT, REGION, RestoreJobId="a", CreatedBy={"RestoreTestingPlanArn": PLAN})
    store.jobs(ACCOUNT, REGION)[0]["CreatedBy"]["RestoreTestingPlanArn"] = "changed"
    got = store.get(ACCOUNT, REGION, "a")
    assert got is not None
    got["Status"] = "FAILED"
    assert store.jobs(ACCOUNT, REGION)[0]["CreatedBy"]["RestoreTestingPlanArn"] == PLAN
    assert store.jobs(ACCOUNT, REGION)[0]["Status"] == "PENDING"
    assert store.get(ACCOUNT, REGION, "missing") is None


def test_jobs_are_newest_first_then_by_id(store):
    t = datetime(2026, 1, 10, 12, tzinfo=UTC)
    for name, minutes in (("b", 0), ("a", 0), ("old", 5), ("new", -5)):
        store.put(ACCOUNT, REGION, RestoreJobId=name, CreationDate=t - timedelta(minutes=minutes))
    assert ids(store.jobs(ACCOUNT, REGION)) == ["new", "a", "b", "old"]
    store.update(ACCOUNT, REGION, "old", CreationDate=t + timedelta(hours=1))  # re-sorted
    assert ids(store.jobs(ACCOUNT, REGION)) == ["old", "new", "a", "b"]


def test_delete_and_clear(store):
    store.put(ACCOUNT, REGION, RestoreJobId="a")
    store.put(ACCOUNT, REGION, RestoreJobId="b")
    store.put(ACCOUNT, "eu-west-1", RestoreJobId="c")
    store.put("111111111111", REGION, RestoreJobId="d")
    store.delete(ACCOUNT, REGION, "a")
    store.delete(ACCOUNT, REGION, "a")  # already gone: fine
    assert ids(store.jobs(ACCOUNT, REGION)) == ["b"]
    store.clear(ACCOUNT, REGION)
    assert store.jobs(ACCOUNT, REGION) == []
    assert ids(store.jobs(ACCOUNT, "eu-west-1")) == ["c"]
    assert ids(store.jobs("111111111111", REGION)) == ["d"]
    with pytest.raises(TypeError):
        store.clear(ACCOUNT)
    store.clear()
    assert store.jobs(ACCOUNT, "eu-west-1") == store.jobs("111111111111", REGION) == []


def test_a_job_belongs_to_one_account_and_region(store):
    job_id = store.put("111111111111", "eu-west-1")
    assert store.get("111111111111", "eu-west-1", job_id)["AccountId"] == "111111111111"
    assert store.get(ACCOUNT, "eu-west-1", job_id) is None
    assert store.get("111111111111", REGION, job_id) is None


def test_start_with_the_same_idempotency_token_starts_one_job(store):
    first = store.start(ACCOUNT, REGION, "token-1", RecoveryPointArn="arn:aws:backup:rp")
    again = store.start(ACCOUNT, REGION, "token-1", RecoveryPointArn="arn:aws:backup:rp")
    other = store.start(ACCOUNT, REGION, "token-2", RecoveryPointArn="arn:aws:backup:rp")
    untokened = [store.start(ACCOUNT, REGION, None, RecoveryPointArn="x") for _ in range(2)]
    assert first == again
    assert len({first, other, *untokened}) == 4
    assert len(store.jobs(ACCOUNT, REGION)) == 4
    assert store.get(ACCOUNT, REGION, first)["Status"] == "PENDING"
    # Tokens are per account and region, and forgotten with the jobs.
    assert store.start(ACCOUNT, "eu-west-1", "token-1", RecoveryPointArn="x") != first
    store.clear(ACCOUNT, REGION)
    assert store.start(ACCOUNT, REGION, "token-1", RecoveryPointArn="x") != first


def test_rendered_text_is_cached_until_the_job_changes(store):
    job_id = store.put(ACCOUNT, REGION, Status="RUNNING", PercentDone="1.00%")
    calls: list[str] = []

    def render(job: dict[str, Any]) -> str:
        calls.append(job["PercentDone"])
        return job["PercentDone"]

    assert store.rendered(ACCOUNT, REGION, job_id, "Shape", render) == "1.00%"
    assert store.rendered(ACCOUNT, REGION, job_id, "Shape", render) == "1.00%"
    store.update(ACCOUNT, REGION, job_id, PercentDone="2.00%")
    assert store.rendered(ACCOUNT, REGION, job_id, "Shape", render) == "2.00%"
    assert calls == ["1.00%", "2.00%"]
    assert store.rendered(ACCOUNT, REGION, "missing", "Shape", render) is None
