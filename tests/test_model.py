"""Parsing AWS's restore-job fields, including the odd and the missing."""

from datetime import UTC, datetime

import pytest

from exporter.model import RestoreJob, parse_percent_done


@pytest.mark.parametrize(
    ("raw", "ratio"),
    [
        ("37.5", 0.375),
        ("37.50%", 0.375),
        ("0.00%", 0.0),
        ("100.00%", 1.0),
        ("100", 1.0),
        (" 12 % ", 0.12),
        (".5%", 0.005),
        (42, 0.42),
    ],
)
def test_percent_done_in_every_shape_aws_sends(raw, ratio):
    assert parse_percent_done(raw) == pytest.approx(ratio)


@pytest.mark.parametrize("raw", [None, "", "%", "abc", "37,5%", "-1%", "101%", "nan", "1e3", True])
def test_unusable_percent_done_gives_no_value(raw):
    assert parse_percent_done(raw) is None


def test_describe_response_is_parsed_field_by_field():
    created = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    completed = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    job = RestoreJob.from_api(
        {
            "AccountId": "111122223333",
            "RestoreJobId": "job-1",
            "RecoveryPointArn": "arn:rp",
            "SourceResourceArn": "arn:src",
            "BackupVaultArn": "arn:vault",
            "CreationDate": created,
            "CompletionDate": completed,
            "Status": "COMPLETED",
            "StatusMessage": "done",
            "PercentDone": "100.00%",
            "BackupSizeInBytes": 1024,
            "IamRoleArn": "arn:role",
            "ExpectedCompletionTimeMinutes": 45,
            "CreatedResourceArn": "arn:created",
            "ResourceType": "EBS",
            "RecoveryPointCreationDate": created,
            "CreatedBy": {"RestoreTestingPlanArn": "arn:plan"},
            "ValidationStatus": "SUCCESSFUL",
            "ValidationStatusMessage": "ok",
            "DeletionStatus": "DELETING",
            "DeletionStatusMessage": "cleaning",
            "IsParent": False,
            "ParentJobId": "parent-1",
        },
        region="us-east-1",
    )
    assert job.account_id == "111122223333"
    assert job.region == "us-east-1"
    assert job.status == "COMPLETED"
    assert job.progress_ratio == 1.0
    assert job.backup_size_bytes == 1024
    assert job.expected_duration_seconds == 45 * 60
    assert job.creation_timestamp == created.timestamp()
    assert job.duration_seconds(now=0) == 1800
    assert job.restore_testing_plan_arn == "arn:plan"
    assert job.validation_status == "SUCCESSFUL"
    assert job.deletion_status == "DELETING"
    assert job.is_parent is False
    assert job.parent_job_id == "parent-1"
    assert not job.is_settled  # its clean-up is still going on


def test_a_job_with_only_an_id_is_still_a_job():
    job = RestoreJob.from_api({"RestoreJobId": "bare"}, region="eu-west-1", default_account_id="1")
    assert job.account_id == "1"
    assert job.status is None
    assert job.progress_ratio is None
    assert job.duration_seconds(now=100.0) is None
    assert job.resource_type == ""
    assert job.is_parent is None


def test_running_job_duration_grows_with_now():
    job = RestoreJob.from_api(
        {"RestoreJobId": "r", "Status": "RUNNING", "CreationDate": 1000.0}, region="us-east-1"
    )
    assert job.duration_seconds(now=1060.0) == 60.0
    assert job.duration_seconds(now=1120.0) == 120.0


@pytest.mark.parametrize(
    ("fields", "settled"),
    [
        ({"Status": "RUNNING"}, False),
        ({"Status": "PENDING"}, False),
        ({"Status": "COMPLETED"}, True),
        ({"Status": "FAILED"}, True),
        ({"Status": "ABORTED"}, True),
        ({"Status": "COMPLETED", "CreatedBy": {"RestoreTestingPlanArn": "p"}}, False),
        (
            {
                "Status": "COMPLETED",
                "CreatedBy": {"RestoreTestingPlanArn": "p"},
                "ValidationStatus": "VALIDATING",
            },
            False,
        ),
        (
            {
                "Status": "COMPLETED",
                "CreatedBy": {"RestoreTestingPlanArn": "p"},
                "ValidationStatus": "SUCCESSFUL",
                "DeletionStatus": "DELETING",
            },
            False,
        ),
        (
            {
                "Status": "COMPLETED",
                "CreatedBy": {"RestoreTestingPlanArn": "p"},
                "ValidationStatus": "SUCCESSFUL",
                "DeletionStatus": "SUCCESSFUL",
            },
            True,
        ),
        (
            {
                "Status": "COMPLETED",
                "CreatedBy": {"RestoreTestingPlanArn": "p"},
                "DeletionStatus": "FAILED",
            },
            True,
        ),
    ],
)
def test_only_jobs_that_can_no_longer_change_are_settled(fields, settled):
    job = RestoreJob.from_api({"RestoreJobId": "j", **fields}, region="us-east-1")
    assert job.is_settled is settled


def test_odd_numbers_are_dropped_not_invented():
    job = RestoreJob.from_api(
        {
            "RestoreJobId": "j",
            "BackupSizeInBytes": -5,
            "ExpectedCompletionTimeMinutes": "ten",
            "CreationDate": "yesterday",
            "IsParent": "yes",
        },
        region="us-east-1",
    )
    assert job.backup_size_bytes is None
    assert job.expected_duration_seconds is None
    assert job.creation_timestamp is None
    assert job.is_parent is None
