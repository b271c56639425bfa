"""The fake AWS Backup's restore testing plans and selections and protected resources, through
real boto3 clients over HTTP: AWS's defaults and rules, CreatorRequestId idempotency, the errors
each operation declares, pagination, the restore fields DescribeProtectedResource derives from
restore jobs, per-(account, region) storage; and the Python helpers tests seed them with.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.demo.fake_backup import FakeBackup, RestoreJobStore
from exporter.demo.fake_backup.api import HttpRequest
from exporter.demo.fake_backup.testing_rules import DEFAULT_SCHEDULE
from tests.conftest import (
    STORE,
    put_job,
    put_plan,
    put_plan_job,
    put_protected_resource,
    put_selection,
    record_run,
    set_last_execution,
)
from tests.test_fake_api import SIGNED, client, signed

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
T = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
RECOVERY_POINTS = {
    "Algorithm": "LATEST_WITHIN_WINDOW",
    "IncludeVaults": ["*"],
    "RecoveryPointTypes": ["SNAPSHOT"],
}
VOLUME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0"
DATABASE = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
SECOND, MINUTE = timedelta(seconds=1), timedelta(minutes=1)


def plan_body(name: str = "nightly", **fields: Any) -> dict[str, Any]:
    return {
        "RestoreTestingPlanName": name,
        "ScheduleExpression": "cron(0 1 ? * * *)",
        "RecoveryPointSelection": RECOVERY_POINTS,
        **fields,
    }


def selection_body(name: str = "volumes", **fields: Any) -> dict[str, Any]:
    return {
        "RestoreTestingSelectionName": name,
        "ProtectedResourceType": "EBS",
        "IamRoleArn": ROLE,
        "ProtectedResourceArns": [VOLUME],
        **fields,
    }


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"] | {"body": response}


def code_of(call: Any) -> str:
    return str(error_of(call)["Code"])


# -- plans ----------------------------------------------------------------------------------


def test_a_created_plan_has_an_arn_as_aws_mints_them_and_aws_defaults(backup):
    backup_client = client(backup)
    created = backup_client.create_restore_testing_plan(
        RestoreTestingPlan=plan_body(ScheduleExpression="")
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["RestoreTestingPlanArn"]
    assert re.fullmatch(
        rf"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:nightly-[a-z0-9]{{6}}", arn
    )
    assert created["RestoreTestingPlanName"] == "nightly"
    assert abs(created["CreationTime"] - datetime.now(UTC)) < timedelta(minutes=1)
    plan = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert plan["RestoreTestingPlan"] == {
        "CreationTime": created["CreationTime"],
        "RecoveryPointSelection": {
            **RECOVERY_POINTS,
            "ExcludeVaults": [],
            "SelectionWindowDays": 30,
        },
        "RestoreTestingPlanArn": arn,
        "RestoreTestingPlanName": "nightly",
        "ScheduleExpression": DEFAULT_SCHEDULE,
        "ScheduleExpressionTimezone": "Etc/UTC",
        "StartWindowHours": 24,
    }
    assert DEFAULT_SCHEDULE == "cron(0 5 ? * * *)"


def test_given_plan_fields_are_kept(backup):
    backup_client = client(backup)
    selection = {**RECOVERY_POINTS, "SelectionWindowDays": 7, "ExcludeVaults": ["arn:aws:v"]}
    backup_client.create_restore_testing_plan(
        RestoreTestingPlan=plan_body(
            ScheduleExpressionTimezone="Europe/Berlin",
            StartWindowHours=168,
            RecoveryPointSelection=selection,
        ),
        Tags={"team": "storage"},
    )
    plan = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    plan = plan["RestoreTestingPlan"]
    assert plan["ScheduleExpression"] == "cron(0 1 ? * * *)"
    assert plan["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert plan["StartWindowHours"] == 168
    assert plan["RecoveryPointSelection"] == selection
    assert STORE.testing.tags(ACCOUNT, REGION, "nightly") == {"team": "storage"}


def test_the_creator_request_id_makes_creation_idempotent(backup):
    backup_client = client(backup)
    first = backup_client.create_restore_testing_plan(
        RestoreTestingPlan=plan_body(), CreatorRequestId="req-1"
    )
    again = backup_client.create_restore_testing_plan(
        RestoreTestingPlan=plan_body("other"), CreatorRequestId="req-1"
    )
    assert again["RestoreTestingPlanArn"] == first["RestoreTestingPlanArn"]
    assert again["CreationTime"] == first["CreationTime"]
    plans = backup_client.list_restore_testing_plans()["RestoreTestingPlans"]
    assert [plan["RestoreTestingPlanName"] for plan in plans] == ["nightly"]
    got = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert got["RestoreTestingPlan"]["CreatorRequestId"] == "req-1"


def test_a_second_plan_of_the_same_name_already_exists(backup):
    backup_client = client(backup)
    arn = backup_client.create_restore_testing_plan(
        RestoreTestingPlan=plan_body(), CreatorRequestId="req-1"
    )["RestoreTestingPlanArn"]
    error = error_of(
        lambda: backup_client.create_restore_testing_plan(RestoreTestingPlan=plan_body())
    )
    assert error["Code"] == "AlreadyExistsException"
    assert error["body"]["Arn"] == arn
    assert error["body"]["CreatorRequestId"] == "req-1"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"RestoreTestingPlanName": "has-dash"}, "InvalidParameterValueException"),
        ({"RestoreTestingPlanName": "x" * 51}, "InvalidParameterValueException"),
        ({"RestoreTestingPlanName": ""}, "InvalidParameterValueException"),
        ({"ScheduleExpression": "every day"}, "InvalidParameterValueException"),
        ({"ScheduleExpression": "cron(0 5 * * *)"}, "InvalidParameterValueException"),
        ({"ScheduleExpressionTimezone": "Mars/Olympus"}, "InvalidParameterValueException"),
        ({"StartWindowHours": 0}, "InvalidParameterValueException"),
        ({"StartWindowHours": 169}, "InvalidParameterValueException"),
        (
            {"RecoveryPointSelection": {**RECOVERY_POINTS, "SelectionWindowDays": 366}},
            "InvalidParameterValueException",
        ),
        (
            {
                "RecoveryPointSelection": {
                    "IncludeVaults": ["*"],
                    "RecoveryPointTypes": ["SNAPSHOT"],
                }
            },
            "MissingParameterValueException",
        ),
        (
            {"RecoveryPointSelection": {**RECOVERY_POINTS, "Algorithm": "NEWEST"}},
            "InvalidParameterValueException",
        ),
    ],
)
def test_plans_that_break_aws_rules_are_refused(backup, fields, code):
    unchecked = client(backup, parameter_validation=False)
    body = plan_body(**fields)
    assert code_of(lambda: unchecked.create_restore_testing_plan(RestoreTestingPlan=body)) == code
    assert unchecked.list_restore_testing_plans()["RestoreTestingPlans"] == []


def test_a_bad_creator_request_id_is_refused(backup):
    backup_client = client(backup)
    create = backup_client.create_restore_testing_plan
    for bad in ("", "no spaces", "x" * 51):
        call = lambda bad=bad: create(RestoreTestingPlan=plan_body(), CreatorRequestId=bad)  # noqa: E731
        assert code_of(call) == "InvalidParameterValueException"


def test_update_changes_what_it_names_and_dates_it(backup):
    backup_client = client(backup)
    created = backup_client.create_restore_testing_plan(RestoreTestingPlan=plan_body())
    updated = backup_client.update_restore_testing_plan(
        RestoreTestingPlanName="nightly",
        RestoreTestingPlan={"StartWindowHours": 2, "ScheduleExpression": "cron(0 3 ? * * *)"},
    )
    assert updated["RestoreTestingPlanArn"] == created["RestoreTestingPlanArn"]
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["UpdateTime"] >= created["CreationTime"]
    plan = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    plan = plan["RestoreTestingPlan"]
    assert (plan["StartWindowHours"], plan["ScheduleExpression"]) == (2, "cron(0 3 ? * * *)")
    assert plan["LastUpdateTime"] == updated["UpdateTime"]
    assert plan["ScheduleExpressionTimezone"] == "Etc/UTC"  # untouched


def test_update_and_get_of_an_unknown_plan_are_not_found(backup):
    backup_client = client(backup)
    update = lambda: backup_client.update_restore_testing_plan(  # noqa: E731
        RestoreTestingPlanName="gone", RestoreTestingPlan={"StartWindowHours": 2}
    )
    assert code_of(update) == "ResourceNotFoundException"
    get = lambda: backup_client.get_restore_testing_plan(RestoreTestingPlanName="gone")  # noqa: E731
    assert code_of(get) == "ResourceNotFoundException"


def test_an_update_that_breaks_a_rule_changes_nothing(backup):
    backup_client = client(backup)
    backup_client.create_restore_testing_plan(RestoreTestingPlan=plan_body())
    update = lambda: backup_client.update_restore_testing_plan(  # noqa: E731
        RestoreTestingPlanName="nightly", RestoreTestingPlan={"StartWindowHours": 200}
    )
    assert code_of(update) == "InvalidParameterValueException"
    plan = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert plan["RestoreTestingPlan"]["StartWindowHours"] == 24
    assert "LastUpdateTime" not in plan["RestoreTestingPlan"]


def test_a_plan_is_deleted_only_once_its_selections_are(backup):
    backup_client = client(backup)
    backup_client.create_restore_testing_plan(RestoreTestingPlan=plan_body())
    backup_client.create_restore_testing_selection(
        RestoreTestingPlanName="nightly", RestoreTestingSelection=selection_body()
    )
    delete = lambda: backup_client.delete_restore_testing_plan(RestoreTestingPlanName="nightly")  # noqa: E731
    assert code_of(delete) == "InvalidRequestException"
    backup_client.delete_restore_testing_selection(
        RestoreTestingPlanName="nightly", RestoreTestingSelectionName="volumes"
    )
    assert delete()["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backup_client.list_restore_testing_plans()["RestoreTestingPlans"] == []
    assert code_of(delete) == "InvalidRequestException"  # the one error the model declares


def test_plans_are_listed_by_name_in_pages(backup):
    for n in (4, 0, 3, 1, 2):
        put_plan(RestoreTestingPlanName=f"plan_{n}")
    backup_client = client(backup)
    pages = list(
        backup_client.get_paginator("list_restore_testing_plans").paginate(
            PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(page["RestoreTestingPlans"]) for page in pages] == [2, 2, 1]
    names = [
        plan["RestoreTestingPlanName"] for page in pages for plan in page["RestoreTestingPlans"]
    ]
    assert names == [f"plan_{n}" for n in range(5)]
    member = pages[0]["RestoreTestingPlans"][0]
    assert set(member) == {
        "CreationTime", "RestoreTestingPlanArn", "RestoreTestingPlanName", "ScheduleExpression",
        "ScheduleExpressionTimezone", "StartWindowHours",
    }  # fmt: skip


def test_a_next_token_is_good_only_for_the_list_it_came_from(backup):
    for n in range(3):
        put_plan(RestoreTestingPlanName=f"plan_{n}")
        put_protected_resource(ResourceArn=f"arn:aws:s3:::bucket-{n}", ResourceType="S3")
    backup_client = client(backup)
    token = backup_client.list_restore_testing_plans(MaxResults=1)["NextToken"]
    for call in (
        lambda: backup_client.list_restore_testing_plans(NextToken="garbage!"),
        lambda: backup_client.list_protected_resources(NextToken=token),
        lambda: client(backup, "eu-west-1").list_restore_testing_plans(NextToken=token),
    ):
        assert code_of(call) == "InvalidParameterValueException"


# -- selections -----------------------------------------------------------------------------


@pytest.fixture
def plan(backup) -> str:
    return put_plan(RestoreTestingPlanName="nightly")


def test_a_selection_is_created_in_its_plan(backup, plan):
    backup_client = client(backup)
    created = backup_client.create_restore_testing_selection(
        RestoreTestingPlanName="nightly",
        RestoreTestingSelection=selection_body(ValidationWindowHours=0),
        CreatorRequestId="sel-1",
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["RestoreTestingPlanArn"] == plan
    assert (created["RestoreTestingPlanName"], created["RestoreTestingSelectionName"]) == (
        "nightly",
        "volumes",
    )
    got = backup_client.get_restore_testing_selection(
        RestoreTestingPlanName="nightly", RestoreTestingSelectionName="volumes"
    )["RestoreTestingSelection"]
    assert got == {
        "CreationTime": created["CreationTime"],
        "CreatorRequestId": "sel-1",
        "IamRoleArn": ROLE,
        "ProtectedResourceArns": [VOLUME],
        "ProtectedResourceConditions": {"StringEquals": [], "StringNotEquals": []},
        "ProtectedResourceType": "EBS",
        "RestoreTestingPlanName": "nightly",
        "RestoreTestingSelectionName": "volumes",
        "ValidationWindowHours": 0,
    }
    again = backup_client.create_restore_testing_selection(
        RestoreTestingPlanName="nightly",
        RestoreTestingSelection=selection_body("other"),
        CreatorRequestId="sel-1",
    )
    assert again["RestoreTestingSelectionName"] == "volumes"  # idempotent


def test_a_selection_by_tags_takes_the_wildcard(backup, plan):
    backup_client = client(backup)
    conditions = {"StringEquals": [{"Key": "backup:test", "Value": "yes please"}]}
    backup_client.create_restore_testing_selection(
        RestoreTestingPlanName="nightly",
        RestoreTestingSelection=selection_body(
            "tagged", ProtectedResourceArns=["*"], ProtectedResourceConditions=conditions
        ),
    )
    got = backup_client.get_restore_testing_selection(
        RestoreTestingPlanName="nightly", RestoreTestingSelectionName="tagged"
    )["RestoreTestingSelection"]
    assert got["ProtectedResourceConditions"] == {**conditions, "StringNotEquals": []}
    assert got["ProtectedResourceArns"] == ["*"]


TAGGED = {"StringEquals": [{"Key": "k", "Value": "v"}]}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"RestoreTestingSelectionName": "a-b"}, "InvalidParameterValueException"),
        ({"ProtectedResourceType": "Redshift"}, "InvalidParameterValueException"),
        ({"IamRoleArn": "not-a-role"}, "InvalidParameterValueException"),
        ({"ValidationWindowHours": 169}, "InvalidParameterValueException"),
        ({"ProtectedResourceArns": ["*", VOLUME]}, "InvalidParameterValueException"),
        ({"ProtectedResourceConditions": TAGGED}, "InvalidParameterValueException"),
        (
            {"ProtectedResourceArns": None, "ProtectedResourceConditions": {"StringEquals": []}},
            "MissingParameterValueException",
        ),
        ({"ProtectedResourceArns": [f"{VOLUME}{n}" for n in range(31)]}, "LimitExceededException"),
        (
            {"ProtectedResourceArns": ["*"],
             "ProtectedResourceConditions": {"StringEquals": [{"Key": "aws:x", "Value": "v"}]}},
            "InvalidParameterValueException",
        ),
    ],
)  # fmt: skip
def test_selections_that_break_aws_rules_are_refused(backup, plan, fields, code):
    unchecked = client(backup, parameter_validation=False)
    body = {k: v for k, v in selection_body(**fields).items() if v is not None}
    call = lambda: unchecked.create_restore_testing_selection(  # noqa: E731
        RestoreTestingPlanName="nightly", RestoreTestingSelection=body
    )
    assert code_of(call) == code
    listed = unchecked.list_restore_testing_selections(RestoreTestingPlanName="nightly")
    assert listed["RestoreTestingSelections"] == []


def test_thirty_specific_arns_are_allowed(backup, plan):
    client(backup).create_restore_testing_selection(
        RestoreTestingPlanName="nightly",
        RestoreTestingSelection=selection_body(
            ProtectedResourceArns=[f"{VOLUME}{n}" for n in range(30)]
        ),
    )


def test_selection_errors_name_the_plan_and_the_selection(backup, plan):
    backup_client = client(backup)
    body = selection_body()
    create = lambda name="nightly": backup_client.create_restore_testing_selection(  # noqa: E731
        RestoreTestingPlanName=name, RestoreTestingSelection=body
    )
    assert code_of(lambda: create("gone")) == "ResourceNotFoundException"
    create()
    error = error_of(create)
    assert (error["Code"], error["body"]["Arn"]) == ("AlreadyExistsException", plan)
    names = {"RestoreTestingPlanName": "nightly", "RestoreTestingSelectionName": "other"}
    for call in (
        lambda: backup_client.get_restore_testing_selection(**names),
        lambda: backup_client.delete_restore_testing_selection(**names),
        lambda: backup_client.update_restore_testing_selection(
            **names, RestoreTestingSelection={"ValidationWindowHours": 3}
        ),
        lambda: backup_client.list_restore_testing_selections(RestoreTestingPlanName="gone"),
    ):
        assert code_of(call) == "ResourceNotFoundException"


def test_update_selection_changes_what_it_names_but_not_arns_into_tags(backup, plan):
    backup_client = client(backup)
    created = backup_client.create_restore_testing_selection(
        RestoreTestingPlanName="nightly", RestoreTestingSelection=selection_body()
    )
    names = {"RestoreTestingPlanName": "nightly", "RestoreTestingSelectionName": "volumes"}
    updated = backup_client.update_restore_testing_selection(
        **names,
        RestoreTestingSelection={
            "ValidationWindowHours": 5,
            "RestoreMetadataOverrides": {"a": "b"},
        },
    )
    assert updated["RestoreTestingPlanArn"] == plan
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["UpdateTime"] >= created["CreationTime"]
    got = backup_client.get_restore_testing_selection(**names)["RestoreTestingSelection"]
    assert (got["ValidationWindowHours"], got["RestoreMetadataOverrides"]) == (5, {"a": "b"})
    to_tags = lambda: backup_client.update_restore_testing_selection(  # noqa: E731
        **names, RestoreTestingSelection={"ProtectedResourceConditions": TAGGED}
    )
    assert code_of(to_tags) == "InvalidParameterValueException"
    backup_client.update_restore_testing_selection(
        **names,
        RestoreTestingSelection={
            "ProtectedResourceArns": ["*"],
            "ProtectedResourceConditions": TAGGED,
        },
    )
    got = backup_client.get_restore_testing_selection(**names)["RestoreTestingSelection"]
    assert got["ProtectedResourceArns"] == ["*"]


def test_selections_are_listed_per_plan_in_pages(backup, plan):
    put_plan(RestoreTestingPlanName="weekly")
    for n in (2, 0, 1):
        put_selection(
            "nightly",
            RestoreTestingSelectionName=f"s{n}",
            ProtectedResourceType="S3",
            ProtectedResourceArns=["*"],
        )
    put_selection(
        "weekly",
        RestoreTestingSelectionName="w",
        ProtectedResourceType="RDS",
        ProtectedResourceArns=[DATABASE],
        ValidationWindowHours=4,
    )
    backup_client = client(backup)
    pages = list(
        backup_client.get_paginator("list_restore_testing_selections").paginate(
            RestoreTestingPlanName="nightly", PaginationConfig={"PageSize": 2}
        )
    )
    listed = [s for page in pages for s in page["RestoreTestingSelections"]]
    assert [s["RestoreTestingSelectionName"] for s in listed] == ["s0", "s1", "s2"]
    assert len(pages) == 2
    (weekly,) = backup_client.list_restore_testing_selections(RestoreTestingPlanName="weekly")[
        "RestoreTestingSelections"
    ]
    assert weekly == {
        "CreationTime": weekly["CreationTime"],
        "IamRoleArn": ROLE,
        "ProtectedResourceType": "RDS",
        "RestoreTestingPlanName": "weekly",
        "RestoreTestingSelectionName": "w",
        "ValidationWindowHours": 4,
    }
    token = pages[0]["NextToken"]
    other = lambda: backup_client.list_restore_testing_selections(  # noqa: E731
        RestoreTestingPlanName="weekly", NextToken=token
    )
    assert code_of(other) == "InvalidParameterValueException"


# -- protected resources --------------------------------------------------------------------


def test_describe_protected_resource_derives_the_restore_fields_from_restore_jobs(backup):
    put_protected_resource(
        ResourceArn=VOLUME,
        ResourceType="EBS",
        ResourceName="data",
        LastBackupTime=T - timedelta(hours=3),
        LastBackupVaultArn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
        LastRecoveryPointArn=f"arn:aws:ec2:{REGION}::snapshot/snap-1",
    )
    backup_client = client(backup)
    described = backup_client.describe_protected_resource(ResourceArn=VOLUME)
    described.pop("ResponseMetadata")
    assert described == {
        "ResourceArn": VOLUME,
        "ResourceType": "EBS",
        "ResourceName": "data",
        "LastBackupTime": T - timedelta(hours=3),
        "LastBackupVaultArn": f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
        "LastRecoveryPointArn": f"arn:aws:ec2:{REGION}::snapshot/snap-1",
    }  # no restore job yet: no restore fields
    put_job(
        SourceResourceArn=VOLUME,
        Status="COMPLETED",
        CreationDate=T - timedelta(hours=10),
        CompletionDate=T - timedelta(hours=9),
        RecoveryPointCreationDate=T - timedelta(days=3),
    )
    put_job(
        SourceResourceArn=VOLUME,
        Status="COMPLETED",
        CreationDate=T - timedelta(hours=5),
        CompletionDate=T - timedelta(hours=5) + timedelta(minutes=12, seconds=1),
        RecoveryPointCreationDate=T - timedelta(days=1),
    )
    put_job(
        SourceResourceArn=VOLUME,
        Status="RUNNING",
        CreationDate=T - timedelta(hours=1),
        RecoveryPointCreationDate=T - timedelta(hours=20),
    )
    put_job(
        SourceResourceArn=DATABASE,
        Status="COMPLETED",
        CreationDate=T,
        CompletionDate=T + timedelta(minutes=1),
    )
    described = backup_client.describe_protected_resource(ResourceArn=VOLUME)
    assert described["LatestRestoreJobCreationDate"] == T - timedelta(hours=1)  # the running one
    assert described["LatestRestoreRecoveryPointCreationDate"] == T - timedelta(hours=20)
    assert described["LatestRestoreExecutionTimeMinutes"] == 13  # the newest COMPLETED, rounded up


def test_an_unknown_protected_resource_is_not_found(backup):
    put_job(SourceResourceArn=VOLUME)  # restore jobs alone do not make a resource protected
    backup_client = client(backup)
    error = error_of(lambda: backup_client.describe_protected_resource(ResourceArn=VOLUME))
    assert error["Code"] == "ResourceNotFoundException"
    assert VOLUME in error["Message"]


def test_protected_resources_are_listed_by_arn_in_pages(backup):
    arns = [f"arn:aws:s3:::bucket-{n}" for n in (3, 1, 4, 0, 2)]
    for arn in arns:
        put_protected_resource(ResourceArn=arn, ResourceType="S3", LastBackupTime=T)
    put_job(SourceResourceArn=arns[0], Status="COMPLETED", CompletionDate=T)
    backup_client = client(backup)
    pages = list(
        backup_client.get_paginator("list_protected_resources").paginate(
            PaginationConfig={"PageSize": 2}
        )
    )
    listed = [r for page in pages for r in page["Results"]]
    assert [r["ResourceArn"] for r in listed] == sorted(arns)
    assert all(set(r) == {"ResourceArn", "ResourceType", "LastBackupTime"} for r in listed)
    assert backup_client.list_protected_resources(MaxResults=1000)["Results"] == listed


# -- helpers, accounts and regions ----------------------------------------------------------


def test_plans_selections_and_resources_are_per_account_and_region(backup_server, backup):
    backup_server.api.accounts = {"key-a": ACCOUNT, "key-b": "210987654321"}.get
    try:
        mine, theirs = client(backup, key="key-a"), client(backup, key="key-b")
        mine.create_restore_testing_plan(RestoreTestingPlan=plan_body())
        theirs.create_restore_testing_plan(RestoreTestingPlan=plan_body())  # no AlreadyExists
        client(backup, "eu-west-1", key="key-a").create_restore_testing_plan(
            RestoreTestingPlan=plan_body()
        )
        arns = {
            c.list_restore_testing_plans()["RestoreTestingPlans"][0]["RestoreTestingPlanArn"]
            for c in (mine, theirs, client(backup, "eu-west-1", key="key-a"))
        }
        assert {":".join(arn.split(":")[3:5]) for arn in arns} == {
            f"{REGION}:{ACCOUNT}", f"{REGION}:210987654321", f"eu-west-1:{ACCOUNT}",
        }  # fmt: skip
        put_protected_resource(ResourceArn=VOLUME, ResourceType="EBS")
        assert mine.list_protected_resources()["Results"]
        assert theirs.list_protected_resources()["Results"] == []
    finally:
        backup_server.api.accounts = lambda key: ACCOUNT


def test_reset_forgets_plans_selections_and_resources(backup_server, backup):
    put_plan(RestoreTestingPlanName="nightly")
    put_selection(
        "nightly",
        RestoreTestingSelectionName="s",
        ProtectedResourceType="S3",
        ProtectedResourceArns=["*"],
    )
    put_protected_resource(ResourceArn=VOLUME)
    backup_server.reset()
    assert STORE.testing.plans(ACCOUNT, REGION) == []
    assert STORE.protected.resources(ACCOUNT, REGION) == []


def test_runs_are_recorded_with_the_plans_restore_jobs(backup, plan):
    put_selection(
        "nightly",
        RestoreTestingSelectionName="volumes",
        ProtectedResourceType="EBS",
        ProtectedResourceArns=[VOLUME],
    )
    ebs = {"selection_name": "volumes", "Status": "COMPLETED", "CompletionDate": T + 9 * MINUTE}
    rds = {"ResourceType": "RDS", "SourceResourceArn": DATABASE, "CreationDate": T + 5 * SECOND}
    job_ids = record_run("nightly", T, [ebs, rds])
    backup_client = client(backup)
    got = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert got["RestoreTestingPlan"]["LastExecutionTime"] == T
    listed = backup_client.list_restore_testing_plans()["RestoreTestingPlans"]
    assert listed[0]["LastExecutionTime"] == T
    jobs = backup_client.list_restore_jobs(ByRestoreTestingPlanArn=plan)["RestoreJobs"]
    assert sorted(job["RestoreJobId"] for job in jobs) == sorted(job_ids)
    by_type = {job["ResourceType"]: job for job in jobs}
    assert by_type["EBS"]["SourceResourceArn"] == VOLUME
    assert by_type["EBS"]["IamRoleArn"] == ROLE
    assert by_type["EBS"]["CreationDate"] == T
    assert by_type["RDS"]["CreationDate"] == T + 5 * SECOND
    assert all(job["CreatedBy"] == {"RestoreTestingPlanArn": plan} for job in jobs)
    one = put_plan_job("nightly", CreationDate=T + timedelta(hours=1))
    assert backup_client.describe_restore_job(RestoreJobId=one)["CreatedBy"] == {
        "RestoreTestingPlanArn": plan
    }
    set_last_execution("nightly", None)
    got = backup_client.get_restore_testing_plan(RestoreTestingPlanName="nightly")
    assert "LastExecutionTime" not in got["RestoreTestingPlan"]


def test_put_plan_replaces_a_plan_and_keeps_its_arn(backup, plan):
    assert put_plan(RestoreTestingPlanName="nightly", StartWindowHours=3) == plan
    again = put_plan(RestoreTestingPlanName="explicit", RestoreTestingPlanArn="arn:aws:backup:x")
    assert again == "arn:aws:backup:x"
    (stored,) = [
        p for p in STORE.testing.plans(ACCOUNT, REGION) if p["RestoreTestingPlanName"] == "nightly"
    ]
    assert stored["StartWindowHours"] == 3
    assert stored["RecoveryPointSelection"]["IncludeVaults"] == ["*"]  # the helper's default


def _plan(**fields: Any) -> Any:
    fields.setdefault("RestoreTestingPlanName", "a")
    return lambda store: store.testing.put_plan(ACCOUNT, REGION, **fields)


def _selection(plan: str, **fields: Any) -> Any:
    return lambda store: store.testing.put_selection(
        ACCOUNT, REGION, plan, RestoreTestingSelectionName="s", ProtectedResourceType="S3", **fields
    )


def _resource(**fields: Any) -> Any:
    return lambda store: store.protected.put(ACCOUNT, REGION, **fields)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (_plan(Colour="x"), TypeError),
        (_plan(StartWindowHours="1"), TypeError),
        (_plan(RestoreTestingPlanName="a-b"), ValueError),
        (_plan(StartWindowHours=0), ValueError),
        (_plan(LastExecutionTime="now"), TypeError),
        (_selection("gone", ProtectedResourceArns=["*"]), KeyError),
        (_selection("p"), ValueError),
        (lambda store: store.testing.set_last_execution(ACCOUNT, REGION, "gone", 0), KeyError),
        (lambda store: store.testing.put_plan_job(ACCOUNT, REGION, "gone"), KeyError),
        (_resource(ResourceType="S3"), TypeError),
        (_resource(ResourceArn="a", ResourceType="S 3"), ValueError),
        (_resource(ResourceArn="a", LatestRestoreJobCreationDate=0), TypeError),
        (lambda store: store.protected.update(ACCOUNT, REGION, "gone", ResourceName="x"), KeyError),
    ],
)
def test_helpers_refuse_what_aws_could_not_hold(call, error):
    store = RestoreJobStore()
    store.testing.put_plan(ACCOUNT, REGION, RestoreTestingPlanName="p")
    with pytest.raises(error):
        call(store)
    assert [plan["RestoreTestingPlanName"] for plan in store.testing.plans(ACCOUNT, REGION)] == [
        "p"
    ]
    assert store.testing.selections(ACCOUNT, REGION, "p") == []
    assert store.protected.resources(ACCOUNT, REGION) == []


def test_protected_resource_helpers_update_and_delete():
    store = RestoreJobStore()
    store.protected.put(ACCOUNT, REGION, ResourceArn=VOLUME, ResourceType="EBS", LastBackupTime=T)
    store.protected.update(
        ACCOUNT, REGION, VOLUME, LastBackupTime=T + timedelta(days=1), ResourceType=None
    )
    assert store.protected.get(ACCOUNT, REGION, VOLUME) == {
        "ResourceArn": VOLUME,
        "LastBackupTime": T + timedelta(days=1),
    }
    store.protected.delete(ACCOUNT, REGION, VOLUME)
    store.protected.delete(ACCOUNT, REGION, VOLUME)
    assert store.protected.describe(ACCOUNT, REGION, VOLUME) is None


def test_what_helpers_return_is_a_copy():
    store = RestoreJobStore()
    store.testing.put_plan(ACCOUNT, REGION, RestoreTestingPlanName="p")
    store.testing.plans(ACCOUNT, REGION)[0]["RecoveryPointSelection"]["IncludeVaults"].append("x")
    assert store.testing.plan(ACCOUNT, REGION, "p")["RecoveryPointSelection"]["IncludeVaults"] == [
        "*"
    ]


# -- never a 5xx ----------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 400) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_MEMBERS = st.sampled_from(
    ["RestoreTestingPlanName", "ScheduleExpression", "ScheduleExpressionTimezone",
     "StartWindowHours", "RecoveryPointSelection", "Algorithm", "IncludeVaults",
     "RecoveryPointTypes", "SelectionWindowDays", "RestoreTestingSelectionName",
     "ProtectedResourceType", "IamRoleArn", "ProtectedResourceArns",
     "ProtectedResourceConditions", "StringEquals", "Key", "Value", "ValidationWindowHours"]
)  # fmt: skip
_BODY = st.dictionaries(_MEMBERS, _JSON | st.dictionaries(_MEMBERS, _JSON, max_size=4), max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE"]),
    path=st.sampled_from(
        [
            "/restore-testing/plans",
            "/restore-testing/plans/p",
            "/restore-testing/plans/p/selections",
            "/restore-testing/plans/p/selections/s",
            "/resources/",
            "/resources/arn%3Aaws%3Ax",
        ]
    ),
    body=st.builds(
        lambda wrapper, inner, token: json.dumps(
            {wrapper: inner, "CreatorRequestId": token}
        ).encode(),
        st.sampled_from(["RestoreTestingPlan", "RestoreTestingSelection"]),
        _BODY,
        _TEXT | st.integers(),
    ),
    query=st.lists(
        st.tuples(st.sampled_from(["MaxResults", "NextToken", "maxResults"]), _TEXT), max_size=2
    ),
)
def test_no_restore_testing_request_gets_a_5xx(method, path, body, query):
    fake = FakeBackup()
    fake.store.testing.put_plan(ACCOUNT, REGION, RestoreTestingPlanName="p")
    fake.store.testing.put_selection(
        ACCOUNT,
        REGION,
        "p",
        RestoreTestingSelectionName="s",
        ProtectedResourceType="S3",
        ProtectedResourceArns=["*"],
    )
    target = path + "?" + urllib.parse.urlencode(query)
    response = fake.respond(HttpRequest.parse(method, target, SIGNED, body))
    assert response.status < 500, response.body
    if response.status != 204:
        assert isinstance(json.loads(response.body), dict)


def test_a_raw_selection_with_a_plan_path_is_answered_as_aws_would(backup, plan):
    status, headers, body = signed(
        backup, "PUT", "/restore-testing/plans/nightly/selections", b"[]"
    )
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidParameterValueException")
    assert json.loads(body)["Message"]
