"""The restore-job API added to moto, through real boto3 clients, in-process and over HTTP.

Every API test runs twice: under ``mock_aws`` and against a ``ThreadedMotoServer`` on loopback,
the two ways the tests and ``--demo`` use it.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from moto.backup import urls as backup_urls
from moto.server import ThreadedMotoServer

from exporter.demo import moto_restore_jobs as rj

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:nightly"
T = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
MODEL = botocore.session.get_session().get_service_model("backup")
JOB_FIELDS = set(MODEL.shape_for("DescribeRestoreJobOutput").members)


class Backend:
    """One way of reaching moto: a client factory and moto's reset."""

    def __init__(self, endpoint_url: str | None, reset: Callable[[], None]) -> None:
        self.endpoint_url = endpoint_url
        self.reset = reset

    def client(self, region: str = REGION, **config: Any) -> Any:
        return boto3.client(
            "backup",
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": 1}, **config),
        )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    rj.install()  # before the server's first request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _http_reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(params=["mock_aws", "server"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "mock_aws":
        rj.install()
        mock = mock_aws()
        mock.start()

        def reset() -> None:
            mock.stop()
            mock.start()

        try:
            yield Backend(None, reset)
        finally:
            mock.stop()
    else:
        url = request.getfixturevalue("server_url")
        _http_reset(url)
        yield Backend(url, lambda: _http_reset(url))
        _http_reset(url)


def put(region: str = REGION, **fields: Any) -> str:
    return rj.put_restore_job(ACCOUNT, region, **fields)


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


def test_full_job_covers_every_field_of_the_model() -> None:
    assert set(FULL_JOB) == JOB_FIELDS  # the test below then really checks every field


def test_describe_returns_every_field_with_the_model_types(backend: Backend) -> None:
    put(**FULL_JOB)
    job = backend.client().describe_restore_job(RestoreJobId="full")
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


def test_list_members_carry_the_same_fields(backend: Backend) -> None:
    put(**FULL_JOB)
    (job,) = backend.client().list_restore_jobs()["RestoreJobs"]
    assert set(job) == JOB_FIELDS
    assert job["PercentDone"] == "37.50%"


def test_absent_fields_are_left_out(backend: Backend) -> None:
    put(RestoreJobId="bare", CreationDate=T, PercentDone=None)
    job = backend.client().describe_restore_job(RestoreJobId="bare")
    job.pop("ResponseMetadata")
    assert job == {
        "RestoreJobId": "bare",
        "AccountId": ACCOUNT,
        "CreationDate": T,
        "Status": "PENDING",
    }


def test_unknown_id_raises_resource_not_found(backend: Backend) -> None:
    client = backend.client()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.describe_restore_job(RestoreJobId="no-such-job")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.fixture
def filter_jobs(backend: Backend) -> None:
    """Seeded after ``backend``: entering ``mock_aws`` resets moto."""
    hour = timedelta(hours=1)
    put(
        RestoreJobId="old-ebs",
        ResourceType="EBS",
        Status="COMPLETED",
        CreationDate=T - 48 * hour,
        CompletionDate=T - 47 * hour,
    )
    put(
        RestoreJobId="mid-rds",
        ResourceType="RDS",
        Status="FAILED",
        AccountId="111111111111",
        CreationDate=T - 10 * hour,
        CompletionDate=T - 9 * hour,
    )
    put(RestoreJobId="new-s3", ResourceType="S3", Status="RUNNING", CreationDate=T - hour)
    put(
        RestoreJobId="test-ebs",
        ResourceType="EBS",
        Status="COMPLETED",
        CreationDate=T - 5 * hour,
        CompletionDate=T - 4 * hour,
        CreatedBy={"RestoreTestingPlanArn": PLAN},
    )
    put(
        RestoreJobId="parent",
        ResourceType="Aurora",
        Status="COMPLETED",
        IsParent=True,
        CreationDate=T - 20 * hour,
        CompletionDate=T - 18 * hour,
    )
    put(
        RestoreJobId="child",
        ResourceType="Aurora",
        Status="COMPLETED",
        ParentJobId="parent",
        CreationDate=T - 20 * hour,
        CompletionDate=T - 19 * hour,
    )


H = timedelta(hours=1)


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
        ({"ByCreatedAfter": T - 5 * H, "ByCreatedBefore": T - 5 * H}, ["test-ebs"]),  # inclusive
        ({"ByCompleteAfter": T - 10 * H}, ["test-ebs", "mid-rds"]),  # new-s3 has no completion
        ({"ByCompleteBefore": T}, ["test-ebs", "mid-rds", "child", "parent", "old-ebs"]),
        ({"ByRestoreTestingPlanArn": PLAN}, ["test-ebs"]),
        ({"ByParentJobId": "parent"}, ["child"]),
        ({"ByResourceType": "EBS", "ByCreatedAfter": T - 24 * H}, ["test-ebs"]),
    ],
)
@pytest.mark.usefixtures("filter_jobs")
def test_list_filters(backend: Backend, filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(backend.client().list_restore_jobs(**filters)["RestoreJobs"]) == expected


def test_pagination_returns_every_job_once_newest_first(backend: Backend) -> None:
    for n in range(23):  # pairs share a CreationDate: the order must still be total
        put(RestoreJobId=f"job-{n:02d}", CreationDate=T - timedelta(minutes=n // 2))
    expected = ids(rj.restore_jobs(ACCOUNT, REGION))
    pages = list(
        backend.client()
        .get_paginator("list_restore_jobs")
        .paginate(PaginationConfig={"PageSize": 4})
    )
    assert [len(page["RestoreJobs"]) for page in pages] == [4, 4, 4, 4, 4, 3]
    assert "NextToken" not in pages[-1]
    assert [i for page in pages for i in ids(page["RestoreJobs"])] == expected
    assert expected[:3] == ["job-00", "job-01", "job-02"]
    assert sorted(expected) == [f"job-{n:02d}" for n in range(23)]


def test_a_job_added_during_pagination_neither_duplicates_nor_hides_others(
    backend: Backend,
) -> None:
    for n in range(6):
        put(RestoreJobId=f"job-{n}", CreationDate=T - timedelta(minutes=n))
    client = backend.client()
    first = client.list_restore_jobs(MaxResults=2)
    put(RestoreJobId="newer", CreationDate=T + timedelta(minutes=1))
    put(RestoreJobId="job-2b", CreationDate=T - timedelta(minutes=2))  # sorts after job-2
    rest = client.list_restore_jobs(MaxResults=100, NextToken=first["NextToken"])
    assert ids(first["RestoreJobs"]) == ["job-0", "job-1"]
    assert ids(rest["RestoreJobs"]) == ["job-2", "job-2b", "job-3", "job-4", "job-5"]


def test_max_results_bounds(backend: Backend) -> None:
    put(RestoreJobId="one")
    client = backend.client()
    assert len(client.list_restore_jobs(MaxResults=1)["RestoreJobs"]) == 1
    assert len(client.list_restore_jobs(MaxResults=1000)["RestoreJobs"]) == 1
    with pytest.raises(ParamValidationError):  # botocore checks the model's min itself ...
        client.list_restore_jobs(MaxResults=0)
    with pytest.raises(client.exceptions.InvalidParameterValueException):  # ... but not its max
        client.list_restore_jobs(MaxResults=1001)
    unchecked = backend.client(parameter_validation=False)
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException):
        unchecked.list_restore_jobs(MaxResults=0)


@pytest.mark.parametrize("token", ["garbage!", "bm90IGpzb24=", "WzEsIDJd"])
def test_invalid_next_token_is_rejected(backend: Backend, token: str) -> None:
    client = backend.client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.list_restore_jobs(NextToken=token)


def test_start_restore_job_creates_a_pending_job(backend: Backend) -> None:
    client = backend.client()
    before = datetime.now(UTC) - timedelta(seconds=1)
    job_id = client.start_restore_job(
        RecoveryPointArn=FULL_JOB["RecoveryPointArn"],
        Metadata={"volumeType": "gp3"},
        IamRoleArn=FULL_JOB["IamRoleArn"],
        ResourceType="EBS",
    )["RestoreJobId"]
    job = client.describe_restore_job(RestoreJobId=job_id)
    assert job["Status"] == "PENDING"
    assert job["RecoveryPointArn"] == FULL_JOB["RecoveryPointArn"]
    assert job["IamRoleArn"] == FULL_JOB["IamRoleArn"]
    assert job["ResourceType"] == "EBS"
    assert job["AccountId"] == ACCOUNT
    assert job["CreationDate"] >= before
    other = client.start_restore_job(RecoveryPointArn="arn:aws:backup:rp", Metadata={})
    assert other["RestoreJobId"] != job_id
    assert ids(client.list_restore_jobs(ByStatus="PENDING")["RestoreJobs"]) == [
        other["RestoreJobId"],
        job_id,
    ]


def test_start_restore_job_needs_metadata(backend: Backend) -> None:
    unchecked = backend.client(parameter_validation=False)
    with pytest.raises(unchecked.exceptions.MissingParameterValueException):
        unchecked.start_restore_job(RecoveryPointArn="arn:aws:backup:rp")


def test_jobs_are_per_region(backend: Backend) -> None:
    put(RestoreJobId="east")
    put("eu-west-1", RestoreJobId="west")
    east, west = backend.client(), backend.client("eu-west-1")
    assert ids(east.list_restore_jobs()["RestoreJobs"]) == ["east"]
    assert ids(west.list_restore_jobs()["RestoreJobs"]) == ["west"]
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.describe_restore_job(RestoreJobId="east")


def test_moto_reset_clears_jobs(backend: Backend) -> None:
    put(RestoreJobId="gone")
    assert rj.restore_jobs(ACCOUNT, REGION)
    backend.reset()
    assert rj.restore_jobs(ACCOUNT, REGION) == []
    assert backend.client().list_restore_jobs()["RestoreJobs"] == []


def test_server_answers_while_jobs_change(server_url: str) -> None:
    _http_reset(server_url)
    client = Backend(server_url, lambda: None).client()
    job_ids = [put(RestoreJobId=f"job-{n}", CreationDate=T) for n in range(30)]
    done = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            n = 0
            while not done.is_set():
                n += 1
                rj.update_restore_job(ACCOUNT, REGION, job_ids[n % 30], PercentDone=f"{n}.00%")
                put(RestoreJobId=f"extra-{n % 7}")
                time.sleep(0.0005)  # let the server threads in; correctness does not depend on it
        except BaseException as error:  # the test fails below if the writer broke
            errors.append(error)

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        for _ in range(8):
            pages = client.get_paginator("list_restore_jobs").paginate(
                ByCreatedBefore=T, PaginationConfig={"PageSize": 7}
            )
            assert sorted(i for page in pages for i in ids(page["RestoreJobs"])) == sorted(job_ids)
    finally:
        done.set()
        writer.join()
    assert errors == []
    _http_reset(server_url)


def test_routes_must_be_installed_before_a_server_first_request() -> None:
    """What the module docstring claims: a server caches its routes on first use."""
    saved = {path: backup_urls.url_paths.pop(path) for path in (rj.LIST_PATH, rj.JOB_PATH)}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = Backend(f"http://{host}:{port}", lambda: None).client()
        client.list_backup_vaults()  # the first backup request builds the route map
        rj.install()
        with pytest.raises(ClientError):
            client.list_restore_jobs()
    finally:
        server.stop()
        backup_urls.url_paths.update(saved)
    assert all(backup_urls.url_paths[path] == handler for path, handler in saved.items())


def test_install_is_idempotent() -> None:
    rj.install()
    rj.install()
    paths = [p for p in backup_urls.url_paths if "restore-jobs" in p]
    assert sorted(paths) == sorted([rj.LIST_PATH, rj.JOB_PATH])
    assert backup_urls.url_paths[rj.JOB_PATH] == rj.RestoreJobResponse.dispatch


class TestHelpers:
    """The Python-side helpers, without HTTP."""

    @pytest.fixture(autouse=True)
    def _clean(self) -> Iterator[None]:
        rj.clear_restore_jobs(ACCOUNT, REGION)
        yield
        rj.clear_restore_jobs(ACCOUNT, REGION)

    def test_put_fills_defaults(self) -> None:
        job_id = put(ResourceType="S3")
        (job,) = rj.restore_jobs(ACCOUNT, REGION)
        assert job["RestoreJobId"] == job_id
        assert job["AccountId"] == ACCOUNT
        assert job["Status"] == "PENDING"
        assert abs(job["CreationDate"] - datetime.now(UTC)) < timedelta(minutes=1)

    def test_put_replaces_a_job_with_the_same_id(self) -> None:
        put(RestoreJobId="a", Status="RUNNING", PercentDone="10.00%")
        put(RestoreJobId="a", Status="COMPLETED")
        (job,) = rj.restore_jobs(ACCOUNT, REGION)
        assert job["Status"] == "COMPLETED"
        assert "PercentDone" not in job

    def test_dates_are_utc_with_millisecond_precision(self) -> None:
        put(
            RestoreJobId="a",
            CreationDate=1_700_000_000.123456,
            CompletionDate=datetime(2026, 1, 1, 12, 0, 0, 999_999),
        )
        (job,) = rj.restore_jobs(ACCOUNT, REGION)
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
            ({"Status": "DONE"}, ValueError),  # not in RestoreJobStatus
            ({"ValidationStatus": "PASSED"}, ValueError),
            ({"DeletionStatus": "DELETED"}, ValueError),
        ],
    )
    def test_put_refuses_what_aws_could_not_send(self, fields: dict[str, Any], error: type) -> None:
        with pytest.raises(error):
            put(**fields)
        assert rj.restore_jobs(ACCOUNT, REGION) == []

    def test_update_changes_and_removes_fields(self) -> None:
        job_id = put(Status="RUNNING", PercentDone="50.00%", StatusMessage="slow")
        rj.update_restore_job(ACCOUNT, REGION, job_id, PercentDone="75.00%", StatusMessage=None)
        (job,) = rj.restore_jobs(ACCOUNT, REGION)
        assert job["PercentDone"] == "75.00%"
        assert "StatusMessage" not in job
        with pytest.raises(TypeError):
            rj.update_restore_job(ACCOUNT, REGION, job_id, Status=None)
        with pytest.raises(TypeError):
            rj.update_restore_job(ACCOUNT, REGION, job_id, RestoreJobId="other")
        with pytest.raises(ValueError):
            rj.update_restore_job(ACCOUNT, REGION, job_id, Status="DONE")
        assert rj.restore_jobs(ACCOUNT, REGION) == [job]  # a refused update changes nothing
        with pytest.raises(KeyError):
            rj.update_restore_job(ACCOUNT, REGION, "missing", Status="RUNNING")

    def test_restore_jobs_returns_copies(self) -> None:
        put(RestoreJobId="a", CreatedBy={"RestoreTestingPlanArn": PLAN})
        rj.restore_jobs(ACCOUNT, REGION)[0]["CreatedBy"]["RestoreTestingPlanArn"] = "changed"
        assert rj.restore_jobs(ACCOUNT, REGION)[0]["CreatedBy"]["RestoreTestingPlanArn"] == PLAN

    def test_delete_and_clear(self) -> None:
        put(RestoreJobId="a")
        put(RestoreJobId="b")
        put("eu-west-1", RestoreJobId="c")
        rj.delete_restore_job(ACCOUNT, REGION, "a")
        rj.delete_restore_job(ACCOUNT, REGION, "a")  # already gone: fine
        assert ids(rj.restore_jobs(ACCOUNT, REGION)) == ["b"]
        rj.clear_restore_jobs(ACCOUNT, REGION)
        assert rj.restore_jobs(ACCOUNT, REGION) == []
        assert ids(rj.restore_jobs(ACCOUNT, "eu-west-1")) == ["c"]
        rj.clear_restore_jobs(ACCOUNT, "eu-west-1")
