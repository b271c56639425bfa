"""The fake AWS Backup's restore-job API through real boto3 clients over HTTP: every field, every
filter with AWS's strict date bounds, pagination with a stable cursor, StartRestoreJob and its
idempotency token, per-(account, region) jobs; and what a request must be to be answered: the
model's constraints on input, errors with AWS's codes, statuses and bodies, SigV4 required.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.demo.fake_backup import FakeBackup
from exporter.demo.fake_backup.api import HttpRequest
from tests.conftest import STORE

ACCOUNT = "123456789012"
REGION = "us-east-1"
PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:nightly"
T = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
MODEL = botocore.session.get_session().get_service_model("backup")
JOB_FIELDS = set(MODEL.shape_for("DescribeRestoreJobOutput").members)


def client(url: str, region: str = REGION, key: str = "testing", **config: Any) -> Any:
    return boto3.client(
        "backup",
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        aws_session_token=None,
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, **config),
    )


def signed(
    url: str,
    method: str,
    target: str,
    body: bytes = b"",
    region: str = REGION,
    service: str = "backup",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A raw request, signed as botocore signs them: for what a client would never send."""
    request = AWSRequest(method=method, url=url + target, data=body, headers=headers or {})
    SigV4Auth(Credentials("testing", "testing"), service, region).add_auth(request)
    return send(request.url, method, dict(request.headers.items()), body)


def send(
    url: str, method: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def put(region: str = REGION, **fields: Any) -> str:
    return STORE.put(ACCOUNT, region, **fields)


def ids(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["RestoreJobId"] for job in jobs]


FULL_JOB: dict[str, Any] = {
    "RestoreJobId": "full",
    "AccountId": ACCOUNT,
    "RecoveryPointArn": f"arn:aws:ec2:{REGION}::snapshot/snap-0123456789abcdef0",
    "SourceResourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0",
    "BackupVaultArn": f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
    "CreationDate": T - timedelta(hours=2),
    "CompletionDate": T - timedelta(hours=1, microseconds=250_000),
    "Status": "COMPLETED",
    "StatusMessage": "done",
    "PercentDone": "37.50%",
    "BackupSizeInBytes": 5 * 2**40,
    "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup",
    "ExpectedCompletionTimeMinutes": 90,
    "CreatedResourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0fedcba9876543210",
    "ResourceType": "EBS",
    "RecoveryPointCreationDate": (T - timedelta(days=1)).timestamp(),  # epoch seconds work too
    "CreatedBy": {"RestoreTestingPlanArn": PLAN},
    "ValidationStatus": "SUCCESSFUL",
    "ValidationStatusMessage": "ok",
    "DeletionStatus": "DELETING",
    "DeletionStatusMessage": "deleting",
    "IsParent": True,
    "ParentJobId": "grandparent",
}


def test_full_job_covers_every_field_of_the_model():
    assert set(FULL_JOB) == JOB_FIELDS  # the test below then really checks every field


def test_describe_returns_every_field_with_the_model_types(backup):
    put(**FULL_JOB)
    job = client(backup).describe_restore_job(RestoreJobId="full")
    job.pop("ResponseMetadata")
    assert set(job) == JOB_FIELDS
    for name in ("CreationDate", "CompletionDate", "RecoveryPointCreationDate"):
        assert isinstance(job[name], datetime), name
    assert job["CreationDate"] == T - timedelta(hours=2)
    assert job["CompletionDate"] == T - timedelta(hours=1, microseconds=250_000)
    assert job["RecoveryPointCreationDate"] == T - timedelta(days=1)
    assert job["PercentDone"] == "37.50%"
    assert job["BackupSizeInBytes"] == 5 * 2**40
    assert job["ExpectedCompletionTimeMinutes"] == 90
    assert job["IsParent"] is True
    assert job["CreatedBy"] == {"RestoreTestingPlanArn": PLAN}
    plain = {k: v for k, v in FULL_JOB.items() if k not in ("RecoveryPointCreationDate",)}
    assert {k: job[k] for k in plain} == plain


def test_list_members_carry_the_same_fields(backup):
    put(**FULL_JOB)
    (job,) = client(backup).list_restore_jobs()["RestoreJobs"]
    assert set(job) == JOB_FIELDS
    assert job["PercentDone"] == "37.50%"


def test_absent_fields_are_left_out(backup):
    put(RestoreJobId="bare", CreationDate=T, PercentDone=None)
    job = client(backup).describe_restore_job(RestoreJobId="bare")
    job.pop("ResponseMetadata")
    assert job == {
        "RestoreJobId": "bare",
        "AccountId": ACCOUNT,
        "CreationDate": T,
        "Status": "PENDING",
    }


def describe_unknown_job(backup_client: Any) -> ClientError:
    """DescribeRestoreJob of an ID the fake does not have: the ResourceNotFoundException AWS
    sends (400, naming the ID), as botocore parses it."""
    with pytest.raises(backup_client.exceptions.ResourceNotFoundException) as caught:
        backup_client.describe_restore_job(RestoreJobId="no-such-job")
    response = caught.value.response
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no-such-job" in response["Error"]["Message"]
    error: ClientError = caught.value
    return error


def test_unknown_id_raises_resource_not_found(backup):
    describe_unknown_job(client(backup))


def test_job_ids_that_need_encoding_in_the_path_are_found(backup):
    for job_id in ("a/b", "with space", "per%cent", "ünï"):
        put(RestoreJobId=job_id)
        assert client(backup).describe_restore_job(RestoreJobId=job_id)["RestoreJobId"] == job_id


def put_ended(
    job_id: str, kind: str, status: str, hours_ago: tuple[int, int], **fields: Any
) -> None:
    """A job of ``kind`` that was created and completed these many hours before T."""
    created, completed = hours_ago
    put(
        RestoreJobId=job_id,
        ResourceType=kind,
        Status=status,
        CreationDate=T - created * H,
        CompletionDate=T - completed * H,
        **fields,
    )


@pytest.fixture
def filter_jobs(backup):
    put_ended("old-ebs", "EBS", "COMPLETED", (48, 47))
    put_ended("mid-rds", "RDS", "FAILED", (10, 9), AccountId="111111111111")
    put(RestoreJobId="new-s3", ResourceType="S3", Status="RUNNING", CreationDate=T - H)
    put_ended("test-ebs", "EBS", "COMPLETED", (5, 4), CreatedBy={"RestoreTestingPlanArn": PLAN})
    put_ended("parent", "Aurora", "COMPLETED", (20, 18), IsParent=True)
    put_ended("child", "Aurora", "COMPLETED", (20, 19), ParentJobId="parent")
    return backup


MS, US = timedelta(milliseconds=1), timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["new-s3", "test-ebs", "mid-rds", "child", "parent", "old-ebs"]),
        ({"ByAccountId": "111111111111"}, ["mid-rds"]),
        ({"ByResourceType": "EBS"}, ["test-ebs", "old-ebs"]),
        ({"ByStatus": "COMPLETED"}, ["test-ebs", "child", "parent", "old-ebs"]),
        ({"ByStatus": "RUNNING"}, ["new-s3"]),
        ({"ByStatus": "ABORTED"}, []),
        ({"ByCreatedAfter": T - 6 * H}, ["new-s3", "test-ebs"]),
        ({"ByCreatedBefore": T - 12 * H}, ["child", "parent", "old-ebs"]),
        # Strict bounds, as the model documents them: "created after the specified date".
        ({"ByCreatedAfter": T - 5 * H}, ["new-s3"]),
        ({"ByCreatedAfter": T - 5 * H - US}, ["new-s3", "test-ebs"]),
        ({"ByCreatedBefore": T - 5 * H}, ["mid-rds", "child", "parent", "old-ebs"]),
        (
            {"ByCreatedBefore": T - 5 * H + MS},
            ["test-ebs", "mid-rds", "child", "parent", "old-ebs"],
        ),
        ({"ByCreatedAfter": T - 5 * H, "ByCreatedBefore": T - 5 * H}, []),
        ({"ByCreatedAfter": T - 5 * H - MS, "ByCreatedBefore": T - 5 * H + MS}, ["test-ebs"]),
        ({"ByCompleteAfter": T - 10 * H}, ["test-ebs", "mid-rds"]),  # new-s3 has no completion
        ({"ByCompleteAfter": T - 9 * H}, ["test-ebs"]),
        ({"ByCompleteBefore": T - 9 * H}, ["child", "parent", "old-ebs"]),
        ({"ByCompleteBefore": T}, ["test-ebs", "mid-rds", "child", "parent", "old-ebs"]),
        ({"ByRestoreTestingPlanArn": PLAN}, ["test-ebs"]),
        ({"ByParentJobId": "parent"}, ["child"]),
        ({"ByResourceType": "EBS", "ByCreatedAfter": T - 24 * H}, ["test-ebs"]),
        ({"ByStatus": "COMPLETED", "ByCompleteAfter": T - 19 * H}, ["test-ebs", "parent"]),
    ],
)
def test_list_filters(filter_jobs, filters, expected):
    assert ids(client(filter_jobs).list_restore_jobs(**filters)["RestoreJobs"]) == expected


def test_pagination_returns_every_job_once_newest_first(backup):
    for n in range(23):  # pairs share a CreationDate: the order must still be total
        put(RestoreJobId=f"job-{n:02d}", CreationDate=T - timedelta(minutes=n // 2))
    expected = ids(STORE.jobs(ACCOUNT, REGION))
    pages = list(
        client(backup).get_paginator("list_restore_jobs").paginate(PaginationConfig={"PageSize": 4})
    )
    assert [len(page["RestoreJobs"]) for page in pages] == [4, 4, 4, 4, 4, 3]
    assert "NextToken" not in pages[-1]
    assert [i for page in pages for i in ids(page["RestoreJobs"])] == expected
    assert expected[:3] == ["job-00", "job-01", "job-02"]
    assert sorted(expected) == [f"job-{n:02d}" for n in range(23)]


def test_an_exact_last_page_has_no_next_token(backup):
    for n in range(8):
        put(RestoreJobId=f"job-{n}", CreationDate=T - timedelta(minutes=n))
    backup_client = client(backup)
    first = backup_client.list_restore_jobs(MaxResults=4)
    last = backup_client.list_restore_jobs(MaxResults=4, NextToken=first["NextToken"])
    assert ids(last["RestoreJobs"]) == [f"job-{n}" for n in range(4, 8)]
    assert "NextToken" not in last


def test_a_job_added_during_pagination_neither_duplicates_nor_hides_others(backup):
    for n in range(6):
        put(RestoreJobId=f"job-{n}", CreationDate=T - timedelta(minutes=n))
    backup_client = client(backup)
    first = backup_client.list_restore_jobs(MaxResults=2)
    put(RestoreJobId="newer", CreationDate=T + timedelta(minutes=1))
    put(RestoreJobId="job-2b", CreationDate=T - timedelta(minutes=2))  # sorts after job-2
    STORE.delete(ACCOUNT, REGION, "job-1")  # the cursor's own job may go: no matter
    rest = backup_client.list_restore_jobs(MaxResults=100, NextToken=first["NextToken"])
    assert ids(first["RestoreJobs"]) == ["job-0", "job-1"]
    assert ids(rest["RestoreJobs"]) == ["job-2", "job-2b", "job-3", "job-4", "job-5"]


def test_max_results_bounds(backup):
    put(RestoreJobId="one")
    backup_client = client(backup)
    assert len(backup_client.list_restore_jobs(MaxResults=1)["RestoreJobs"]) == 1
    assert len(backup_client.list_restore_jobs(MaxResults=1000)["RestoreJobs"]) == 1
    with pytest.raises(ParamValidationError):  # botocore checks the model's min itself ...
        backup_client.list_restore_jobs(MaxResults=0)
    with pytest.raises(backup_client.exceptions.InvalidParameterValueException):  # not its max
        backup_client.list_restore_jobs(MaxResults=1001)
    unchecked = client(backup, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException):
        unchecked.list_restore_jobs(MaxResults=0)


@pytest.mark.parametrize("token", ["garbage!", "bm90IGpzb24=", "WzEsIDJd", ""])
def test_invalid_next_token_is_rejected(backup, token):
    backup_client = client(backup, parameter_validation=False)
    with pytest.raises(backup_client.exceptions.InvalidParameterValueException):
        backup_client.list_restore_jobs(NextToken=token)


def test_a_next_token_only_fits_the_query_it_came_from(backup):
    for n in range(3):
        put(RestoreJobId=f"job-{n}", CreationDate=T - timedelta(minutes=n), Status="FAILED")
        put("eu-west-1", RestoreJobId=f"west-{n}", CreationDate=T - timedelta(minutes=n))
    east = client(backup)
    token = east.list_restore_jobs(MaxResults=1)["NextToken"]
    assert len(east.list_restore_jobs(MaxResults=2, NextToken=token)["RestoreJobs"]) == 2
    for other in ({"ByStatus": "FAILED"}, {"ByCreatedBefore": T}):
        with pytest.raises(east.exceptions.InvalidParameterValueException):
            east.list_restore_jobs(NextToken=token, **other)
    west = client(backup, "eu-west-1")
    with pytest.raises(west.exceptions.InvalidParameterValueException):
        west.list_restore_jobs(NextToken=token)


def test_start_restore_job_creates_a_pending_job(backup):
    backup_client = client(backup)
    before = datetime.now(UTC) - timedelta(seconds=1)
    job_id = backup_client.start_restore_job(
        RecoveryPointArn=FULL_JOB["RecoveryPointArn"],
        Metadata={"volumeType": "gp3"},
        IamRoleArn=FULL_JOB["IamRoleArn"],
        ResourceType="EBS",
    )["RestoreJobId"]
    job = backup_client.describe_restore_job(RestoreJobId=job_id)
    assert job["Status"] == "PENDING"
    assert job["RecoveryPointArn"] == FULL_JOB["RecoveryPointArn"]
    assert job["IamRoleArn"] == FULL_JOB["IamRoleArn"]
    assert job["ResourceType"] == "EBS"
    assert job["AccountId"] == ACCOUNT
    assert job["CreationDate"] >= before
    other = backup_client.start_restore_job(RecoveryPointArn="arn:aws:backup:rp", Metadata={})
    assert other["RestoreJobId"] != job_id  # botocore filled in a new IdempotencyToken
    assert ids(backup_client.list_restore_jobs(ByStatus="PENDING")["RestoreJobs"]) == [
        other["RestoreJobId"],
        job_id,
    ]


def test_the_same_idempotency_token_starts_one_job(backup):
    backup_client = client(backup)

    def start(token: str) -> str:
        return backup_client.start_restore_job(
            RecoveryPointArn="arn:aws:backup:rp", Metadata={}, IdempotencyToken=token
        )["RestoreJobId"]

    first = start("retry-me")
    assert start("retry-me") == first  # "a success message with no action taken"
    assert start("another") != first
    assert len(STORE.jobs(ACCOUNT, REGION)) == 2
    assert (
        client(backup, "eu-west-1").start_restore_job(
            RecoveryPointArn="arn:aws:backup:rp", Metadata={}, IdempotencyToken="retry-me"
        )["RestoreJobId"]
        != first
    )


def test_start_restore_job_needs_its_required_members(backup):
    unchecked = client(backup, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.MissingParameterValueException):
        unchecked.start_restore_job(RecoveryPointArn="arn:aws:backup:rp")
    with pytest.raises(unchecked.exceptions.MissingParameterValueException):
        unchecked.start_restore_job(Metadata={})
    assert STORE.jobs(ACCOUNT, REGION) == []


def test_jobs_are_per_region_by_the_credential_scope(backup):
    put(RestoreJobId="east")
    put("eu-west-1", RestoreJobId="west")
    east, west = client(backup), client(backup, "eu-west-1")
    assert ids(east.list_restore_jobs()["RestoreJobs"]) == ["east"]
    assert ids(west.list_restore_jobs()["RestoreJobs"]) == ["west"]
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.describe_restore_job(RestoreJobId="east")


def test_the_account_comes_from_the_resolver_of_the_access_key():
    accounts = {"AKIAFIRSTACCOUNT0001": "111111111111", "AKIASECONDACCOUNT002": "222222222222"}
    fake = FakeBackup(accounts=accounts.get)
    fake.store.put("111111111111", REGION, RestoreJobId="first")
    fake.store.put("222222222222", REGION, RestoreJobId="second")
    with fake.serving() as url:
        first = client(url, key="AKIAFIRSTACCOUNT0001")
        assert ids(first.list_restore_jobs()["RestoreJobs"]) == ["first"]
        started = first.start_restore_job(RecoveryPointArn="arn:aws:backup:rp", Metadata={})
        assert fake.store.get("111111111111", REGION, started["RestoreJobId"]) is not None
        second = client(url, key="AKIASECONDACCOUNT002")
        assert ids(second.list_restore_jobs()["RestoreJobs"]) == ["second"]
        stranger = client(url, key="AKIAUNKNOWNKEY000003")
        with pytest.raises(ClientError) as caught:
            stranger.list_restore_jobs()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_reset_clears_jobs_counters_and_queued_faults(backup_server, backup):
    put(RestoreJobId="gone")
    put("eu-west-1", RestoreJobId="gone-too")
    backup_server.fail_next(5)
    backup_server.reset()
    assert STORE.jobs(ACCOUNT, REGION) == STORE.jobs(ACCOUNT, "eu-west-1") == []
    assert backup_server.requests() == 0
    assert client(backup).list_restore_jobs()["RestoreJobs"] == []  # no fault left queued


def test_server_answers_while_jobs_change(backup):
    backup_client = client(backup)
    job_ids = [put(RestoreJobId=f"job-{n}", CreationDate=T) for n in range(30)]
    done = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            n = 0
            while not done.is_set():
                n += 1
                STORE.update(ACCOUNT, REGION, job_ids[n % 30], PercentDone=f"{n}.00%")
                put(RestoreJobId=f"extra-{n % 7}")
                time.sleep(0.0005)  # let the server threads in; correctness does not depend on it
        except BaseException as error:  # the test fails below if the writer broke
            errors.append(error)

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        for _ in range(8):
            pages = backup_client.get_paginator("list_restore_jobs").paginate(
                ByCreatedBefore=T + MS, PaginationConfig={"PageSize": 7}
            )
            assert sorted(i for page in pages for i in ids(page["RestoreJobs"])) == sorted(job_ids)
    finally:
        done.set()
        writer.join()
    assert errors == []


# -- the wire: content type, errors, input validation, authentication ------------------------


def test_every_response_is_json_with_a_request_id(backup):
    put(RestoreJobId="one")
    for target in ("/restore-jobs/", "/restore-jobs/one", "/restore-jobs/missing"):
        status, headers, body = signed(backup, "GET", target)
        assert headers["content-type"] == "application/json", target
        assert headers["x-amzn-requestid"]
        assert isinstance(json.loads(body), dict)
        assert int(headers["content-length"]) == len(body)
    assert status == 400


def test_errors_carry_the_code_in_a_header_and_the_error_shape_in_the_body(backup):
    status, headers, body = signed(backup, "GET", "/restore-jobs/missing")
    assert status == 400
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    document = json.loads(body)
    assert set(document) <= set(MODEL.shape_for("ResourceNotFoundException").members)
    assert document["Code"] == "ResourceNotFoundException"
    assert "missing" in document["Message"]
    assert all(isinstance(value, str) for value in document.values())


@pytest.mark.parametrize(
    ("code", "status", "retried"),
    [
        ("ServiceUnavailableException", 500, True),  # a fault in the model: 5xx, retried
        ("DependencyFailureException", 500, True),
        ("InvalidRequestException", 400, False),
        ("ThrottlingException", 400, True),  # AWS's common errors: 400, retried by botocore
        ("AccessDeniedException", 400, False),
        ("ServiceUnavailable", 503, True),
    ],
)
def test_injected_errors_have_the_status_aws_gives_them(
    backup_server, backup, code, status, retried
):
    backup_server.fail_next(1, code, "injected")
    retrying = boto3.client(
        "backup",
        region_name=REGION,
        endpoint_url=backup,
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    if retried:
        assert retrying.list_restore_jobs()["ResponseMetadata"]["RetryAttempts"] == 1
    else:
        with pytest.raises(ClientError) as caught:
            retrying.list_restore_jobs()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert caught.value.response["Error"] == {"Code": code, "Message": "injected"}
    assert backup_server.log[-2 if retried else -1].status == status
    assert backup_server.requests("ListRestoreJobs") == (2 if retried else 1)


@pytest.mark.parametrize(
    "query",
    [
        "maxResults=ten",
        "maxResults=1.5",
        "maxResults=",
        "maxResults=99999999999999999999999",
        "maxResults=-1",
        "createdAfter=yesterday",
        "createdAfter=1700000000",  # epoch seconds: the model says ISO 8601 in a query string
        "createdBefore=2026-13-01T00:00:00Z",
        "completeAfter=",
        "status=DONE",
        "status=completed",
        "accountId=12345",
        "accountId=1234567890123",
        "resourceType=SAP%20HANA",
        f"resourceType={'x' * 51}",
        "resourceType=",
        "nextToken=garbage",
    ],
)
def test_malformed_list_parameters_are_refused_with_a_4xx(backup, query):
    status, headers, body = signed(backup, "GET", f"/restore-jobs/?{query}")
    assert status == 400, body
    assert headers["x-amzn-errortype"] == "InvalidParameterValueException"
    assert json.loads(body)["Message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "InvalidRequestException"),
        (b"[]", "InvalidRequestException"),
        (b'{"RecoveryPointArn": 7, "Metadata": {}}', "InvalidRequestException"),
        (b'{"RecoveryPointArn": "arn", "Metadata": []}', "InvalidRequestException"),
        (b'{"RecoveryPointArn": "arn", "Metadata": {"a": 1}}', "InvalidRequestException"),
        (b'{"RecoveryPointArn": "arn", "Metadata": {}, "CopySourceTagsToRestoredResource": "y"}',
         "InvalidRequestException"),
        (b'{"RecoveryPointArn": "arn", "Metadata": {}, "ResourceType": "SAP HANA"}',
         "InvalidParameterValueException"),
        (b'{"Metadata": {}}', "MissingParameterValueException"),
        (b'{"RecoveryPointArn": "arn"}', "MissingParameterValueException"),
        (b"", "MissingParameterValueException"),
    ],
)  # fmt: skip
def test_malformed_start_requests_are_refused_with_a_4xx(backup, body, code):
    status, headers, answer = signed(
        backup, "PUT", "/restore-jobs", body, headers={"Content-Type": "application/json"}
    )
    assert (status, headers["x-amzn-errortype"]) == (400, code), answer
    assert STORE.jobs(ACCOUNT, REGION) == []


def test_unknown_body_members_and_query_parameters_are_ignored_as_aws_does(backup):
    body = b'{"RecoveryPointArn": "arn:aws:backup:rp", "Metadata": {}, "Colour": "blue"}'
    status, _, answer = signed(backup, "PUT", "/restore-jobs", body)
    assert status == 200, answer
    status, _, answer = signed(backup, "GET", "/restore-jobs/?colour=blue&maxResults=5")
    assert status == 200
    assert len(json.loads(answer)["RestoreJobs"]) == 1


def test_requests_without_a_sigv4_authorization_header_are_refused(backup):
    put(RestoreJobId="one")
    with pytest.raises(ClientError) as caught:
        client(backup, signature_version=UNSIGNED).describe_restore_job(RestoreJobId="one")
    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationToken"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    status, headers, _ = send(f"{backup}/restore-jobs/", "GET", {})
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationToken")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=testing/20260110/us-east-1/backup/aws4_request",
        "AWS4-HMAC-SHA256 Credential=testing/us-east-1/backup/aws4_request, SignedHeaders=host, "
        "Signature=0",
        "AWS4-HMAC-SHA256 Credential=testing/20260110/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
    ],
)
def test_malformed_authorization_headers_are_refused(backup, authorization):
    headers = {"Authorization": authorization, "X-Amz-Date": "20260110T120000Z"}
    status, answer_headers, _ = send(f"{backup}/restore-jobs/", "GET", headers)
    assert (status, answer_headers["x-amzn-errortype"]) == (400, "IncompleteSignature")


def test_a_request_signed_for_another_service_is_refused(backup):
    status, headers, body = signed(backup, "GET", "/restore-jobs/", service="sts")
    assert (status, headers["x-amzn-errortype"]) == (400, "IncompleteSignature")
    assert "backup" in json.loads(body)["Message"]


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/no-such-path"),
        ("DELETE", "/restore-jobs/one"),  # a path of the model, not with this method
        ("GET", "/restore-jobs/one/metadata"),  # GetRestoreJobMetadata: not implemented here
        ("GET", "/backup-jobs/"),  # ListBackupJobs
        ("GET", "/restore-testing/plans/p/selections/s/x"),
    ],
)
def test_requests_for_no_served_operation_are_refused(backup_server, backup, method, target):
    status, headers, body = signed(backup, method, target)
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidAction")
    assert json.loads(body)["Message"]
    assert backup_server.requests() == 1  # counted all the same


SIGNED = {
    "authorization": "AWS4-HMAC-SHA256 Credential=testing/20260110/us-east-1/backup/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0",
    "x-amz-date": "20260110T120000Z",
}
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_NAMES = st.sampled_from(
    ["maxResults", "nextToken", "status", "accountId", "resourceType", "createdAfter",
     "createdBefore", "completeAfter", "completeBefore", "restoreTestingPlanArn", "parentJobId"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    path=st.sampled_from(
        [
            "/restore-jobs",
            "/restore-jobs/",
            "/restore-jobs/x",
            "/x",
            "/restore-testing/plans",
            "/restore-testing/plans/p",
            "/restore-testing/plans/p/selections",
            "/restore-testing/plans/p/selections/s",
            "/resources/",
            "/resources/arn%3Ax",
        ]
    )
    | _TEXT,
    query=st.lists(st.tuples(_NAMES, _TEXT), max_size=4),
    body=st.binary(max_size=60)
    | st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(_TEXT, _TEXT, max_size=3))
    | st.builds(
        lambda rp, md: json.dumps({"RecoveryPointArn": rp, "Metadata": md}).encode(),
        _TEXT | st.integers(),
        st.dictionaries(_TEXT, _TEXT | st.integers(), max_size=2) | st.lists(_TEXT),
    ),
)
def test_no_request_gets_a_5xx(method, path, query, body):
    """Whatever arrives, the answer is a success or a 4xx with a JSON body, never a 500."""
    fake = FakeBackup()
    target = "/" + path.lstrip("/") + "?" + urllib.parse.urlencode(query)
    response = fake.respond(HttpRequest.parse(method, target, SIGNED, body))
    assert response.status < 500, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert isinstance(json.loads(response.body), dict)
