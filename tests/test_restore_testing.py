"""Restore testing over the wire: plans, schedules, selections, last successes, protected
resources, and a role without the permissions, as /metrics shows them."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from botocore.awsrequest import AWSResponse

from exporter.schedules import parse_schedule
from tests.conftest import (
    ACCOUNT,
    put_job,
    put_plan,
    put_plan_job,
    put_protected_resource,
    put_selection,
    set_last_execution,
)
from tests.scraped import Scraped

DAY = 86_400.0
ROLE = f"arn:aws:iam::{ACCOUNT}:role/RestoreTesting"


def plan_labels(name: str) -> dict[str, str]:
    return {"account_id": ACCOUNT, "region": "us-east-1", "restore_testing_plan_name": name}


def value(seen: Scraped, name: str, **labels: str) -> float | None:
    return seen.get_sample_value(f"aws_backup_restore_testing_plan_{name}", labels)


def counted_requests(exporter) -> dict[str, int]:
    return {
        op: exporter.api_requests(op)
        for op in ("ListRestoreTestingPlans", "ListRestoreTestingSelections", "ListRestoreJobs")
    }


def daily_plan(clock, name: str = "daily", **fields) -> str:
    arn = put_plan(RestoreTestingPlanName=name, ScheduleExpression="cron(0 5 ? * * *)", **fields)
    every = {"IamRoleArn": ROLE, "ProtectedResourceArns": ["*"]}
    put_selection(name, RestoreTestingSelectionName="ebs", ProtectedResourceType="EBS",
                  ValidationWindowHours=4, **every)  # fmt: skip
    put_selection(name, RestoreTestingSelectionName="rds", ProtectedResourceType="RDS",
                  **every)  # fmt: skip
    return arn


def test_every_plan_and_selection_series(make_exporter, clock):
    arn = daily_plan(clock, StartWindowHours=3)
    set_last_execution("daily", clock.now - 3600)
    exporter = make_exporter(clock=clock)
    seen = Scraped(exporter)
    labels = plan_labels("daily")
    info = {
        "restore_testing_plan_arn": arn,
        "schedule_expression": "cron(0 5 ? * * *)",
        "schedule_expression_timezone": "Etc/UTC",
    }  # AWS's default zone, as AWS names it
    assert seen.get_sample_value("aws_backup_restore_testing_plan_info", {**labels, **info}) == 1
    assert value(seen, "last_execution_timestamp_seconds", **labels) == clock.now - 3600
    assert value(seen, "start_window_seconds", **labels) == 3 * 3600
    schedule = parse_schedule("cron(0 5 ? * * *)", None)
    assert value(seen, "last_scheduled_timestamp_seconds", **labels) == schedule.last_start(
        clock.now
    )
    assert value(seen, "next_scheduled_timestamp_seconds", **labels) == schedule.next_start(
        clock.now
    )
    for selection, kind in (("ebs", "EBS"), ("rds", "RDS")):
        assert seen.get_sample_value(
            "aws_backup_restore_testing_selection_info",
            {**labels, "restore_testing_selection_name": selection,
             "protected_resource_type": kind, "iam_role_arn": ROLE},
        ) == 1  # fmt: skip
    window = "aws_backup_restore_testing_selection_validation_window_seconds"
    assert (
        seen.get_sample_value(window, {**labels, "restore_testing_selection_name": "ebs"})
        == 4 * 3600
    )
    up = "aws_backup_restore_exporter_source_up"
    assert seen.get_sample_value(up, {"target": "main", "source": "restore_testing"}) == 1
    assert seen.get_sample_value(up, {"target": "main", "source": "restore_jobs"}) == 1


def test_a_plan_that_never_ran_has_no_last_execution_but_its_schedule(make_exporter, clock):
    daily_plan(clock, "fresh")
    seen = Scraped(make_exporter(clock=clock))
    labels = plan_labels("fresh")
    assert value(seen, "last_execution_timestamp_seconds", **labels) is None
    assert value(seen, "last_scheduled_timestamp_seconds", **labels) is not None
    assert value(seen, "start_window_seconds", **labels) == 24 * 3600  # AWS's default


def test_a_schedule_in_another_time_zone(make_exporter, clock):
    put_plan(RestoreTestingPlanName="tokyo", ScheduleExpression="cron(30 2 ? * * *)",
             ScheduleExpressionTimezone="Asia/Tokyo")  # fmt: skip
    seen = Scraped(make_exporter(clock=clock))
    last = value(seen, "last_scheduled_timestamp_seconds", **plan_labels("tokyo"))
    local = datetime.fromtimestamp(last, UTC)
    assert (local.hour, local.minute) == (17, 30)  # 02:30 in Tokyo (UTC+9) is 17:30 UTC
    assert clock.now - DAY < last <= clock.now


def test_last_success_per_resource_type_older_than_the_jobs_window(make_exporter, clock):
    daily_plan(clock)
    old = clock.now - 3 * DAY
    put_plan_job("daily", "ebs", Status="COMPLETED", CreationDate=old - 600,
                 CompletionDate=old, ValidationStatus="SUCCESSFUL")  # fmt: skip
    put_plan_job("daily", "ebs", Status="COMPLETED", CreationDate=old - 900,
                 CompletionDate=old - 300, ValidationStatus="SUCCESSFUL")  # fmt: skip
    put_plan_job("daily", "rds", Status="COMPLETED", CreationDate=clock.now - 7200,
                 CompletionDate=clock.now - 7000)  # no validation at all: a success  # fmt: skip
    put_plan_job("daily", "rds", Status="COMPLETED", CreationDate=clock.now - 1200,
                 CompletionDate=clock.now - 1000, ValidationStatus="FAILED")  # fmt: skip
    put_plan_job("daily", "ebs", Status="FAILED", CreationDate=clock.now - 500,
                 CompletionDate=clock.now - 400)  # fmt: skip
    exporter = make_exporter(clock=clock, discovery={"lookback": "1d"})
    seen = Scraped(exporter)
    labels = plan_labels("daily")
    success = "last_success_timestamp_seconds"
    assert value(seen, success, **labels, resource_type="EBS") == old
    assert value(seen, success, **labels, resource_type="RDS") == clock.now - 7000
    job_ids = {s.labels.get("restore_job_id") for s in seen.samples()}
    assert len(job_ids - {None}) == 3  # the three-day-old successes are not in the job window


def test_a_success_found_later_and_one_query_per_plan_per_refresh(make_exporter, clock):
    daily_plan(clock)
    daily_plan(clock, "weekly")
    job = put_plan_job("daily", "ebs", Status="COMPLETED", CreationDate=clock.now - 900,
                       CompletionDate=clock.now - 600, ValidationStatus="VALIDATING")  # fmt: skip
    # Without discovery, every ListRestoreJobs query is the restore-testing source's.
    exporter = make_exporter(
        clock=clock, restore_testing={"refresh_interval": "10m"}, discovery={"enabled": False}
    )
    sent = []
    exporter.syncers[0].api.client.meta.events.register(
        "before-parameter-build.backup.ListRestoreJobs",
        lambda params, **_: sent.append(dict(params)),
    )
    seen = Scraped(exporter)
    labels = plan_labels("daily")
    assert value(seen, "last_success_timestamp_seconds", **labels, resource_type="EBS") is None
    first = counted_requests(exporter)
    assert first["ListRestoreTestingPlans"] == 1
    assert first["ListRestoreTestingSelections"] == 2  # one per plan
    per_plan = [q for q in sent if "ByRestoreTestingPlanArn" in q]
    assert len(per_plan) == 2
    assert {q["ByCompleteAfter"].timestamp() for q in per_plan} == {clock.now - 30 * DAY}

    from tests.conftest import update_job

    update_job(job, ValidationStatus="SUCCESSFUL")
    clock.advance(300)  # within the refresh interval: no restore-testing request at all
    sent.clear()
    seen.text()
    assert counted_requests(exporter)["ListRestoreTestingPlans"] == 1
    assert not [q for q in sent if "ByRestoreTestingPlanArn" in q]

    clock.advance(600)
    sent.clear()
    assert value(seen, "last_success_timestamp_seconds", **labels, resource_type="EBS") == (
        clock.now - 900 - 600
    )
    per_plan = [q for q in sent if "ByRestoreTestingPlanArn" in q]
    assert len(per_plan) == 2  # still one query per plan
    since = {q["ByRestoreTestingPlanArn"].rsplit(":", 1)[-1].split("-")[0]:
             q["ByCompleteAfter"].timestamp() for q in per_plan}  # fmt: skip
    # Since the first refresh (900 s ago) for weekly, since its job still validating (completed
    # 1,500 s ago) for daily; both less the 300 s completion margin.
    assert since == {"daily": clock.now - 1500 - 300, "weekly": clock.now - 900 - 300}
    assert counted_requests(exporter)["ListRestoreTestingSelections"] == 4


def _deny(operation: str):
    """A before-send hook answering as AWS does to a role without the permission."""

    def hook(**kwargs):
        body = json.dumps({"Message": "not authorized to perform " + operation}).encode()
        headers = {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/json"}
        return AWSResponse(kwargs["request"].url, 403, headers, _Raw(body))

    return hook


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def test_a_role_without_restore_testing_permissions_leaves_restore_jobs_up(
    make_exporter, clock, caplog
):
    daily_plan(clock)
    job = put_job(Status="COMPLETED", CreationDate=clock.now - 600, CompletionDate=clock.now - 60)
    exporter = make_exporter(clock=clock)
    exporter.syncers[0].api.client.meta.events.register(
        "before-send.backup.ListRestoreTestingPlans", _deny("ListRestoreTestingPlans")
    )
    seen = Scraped(exporter)
    with caplog.at_level(logging.WARNING, logger="exporter"):
        text = seen.text()
    up = "aws_backup_restore_exporter_source_up"
    assert seen.get_sample_value(up, {"target": "main", "source": "restore_testing"}) == 0
    assert seen.get_sample_value(up, {"target": "main", "source": "restore_jobs"}) == 1
    assert (
        seen.get_sample_value(
            "aws_backup_restore_exporter_target_up", {"target": "main", "region": "us-east-1"}
        )
        == 1
    )
    assert f'restore_job_id="{job}"' in text
    assert "aws_backup_restore_testing_plan_info{" not in text
    lines = [r.getMessage() for r in caplog.records if "restore_testing" in r.getMessage()]
    assert len(lines) == 1
    assert "reason=auth" in lines[0]
    assert exporter.api_requests("ListRestoreTestingPlans") == 1
    seen.text()  # within a minute: not asked again, nor logged again
    assert exporter.api_requests("ListRestoreTestingPlans") == 1
    clock.advance(60)
    seen.text()  # a minute later: asked again; the same fault is not logged twice
    assert exporter.api_requests("ListRestoreTestingPlans") == 2
    assert len([r for r in caplog.records if "restore_testing" in r.getMessage()]) == 1


def test_protected_resources_opted_in_capped_and_counted(make_exporter, clock):
    restored = {}
    for i in range(3):
        arn = put_protected_resource(
            ResourceArn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{i}", ResourceType="EBS"
        )
        restored[arn] = clock.now - 900 - i
        put_job(Status="COMPLETED", ResourceType="EBS", SourceResourceArn=arn,
                CreationDate=restored[arn], CompletionDate=clock.now - 300)  # fmt: skip
    series = "aws_backup_protected_resource_last_restore_timestamp_seconds"
    quiet = make_exporter(clock=clock)  # not opted in: no series, no requests
    assert [s for s in Scraped(quiet).samples() if s.name == series] == []
    assert quiet.api_requests("DescribeProtectedResource") == 0
    exporter = make_exporter(
        clock=clock,
        restore_testing={"protected_resources": True, "max_protected_resources": 2},
    )
    seen = Scraped(exporter)
    shown = {s.labels["resource_arn"]: s.value for s in seen.samples() if s.name == series}
    assert len(shown) == 2
    assert all(restored[arn] == when for arn, when in shown.items())
    dropped = "aws_backup_restore_exporter_target_protected_resources_dropped"
    assert seen.get_sample_value(dropped, {"target": "main", "region": "us-east-1"}) == 1
    assert exporter.api_requests("DescribeProtectedResource") == 2
    seen.text()  # described once per refresh interval, not on every scrape
    assert exporter.api_requests("DescribeProtectedResource") == 2


def test_protected_resources_denied_leave_the_rest_up_and_are_retried_a_minute_later(
    make_exporter, clock
):
    put_protected_resource(ResourceArn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-9",
                           ResourceType="EBS")  # fmt: skip
    exporter = make_exporter(clock=clock, restore_testing={"protected_resources": True})
    exporter.syncers[0].api.client.meta.events.register(
        "before-send.backup.DescribeProtectedResource", _deny("DescribeProtectedResource")
    )
    seen = Scraped(exporter)
    up = "aws_backup_restore_exporter_source_up"
    assert seen.get_sample_value(up, {"target": "main", "source": "protected_resources"}) == 0
    assert seen.get_sample_value(up, {"target": "main", "source": "restore_testing"}) == 1
    assert exporter.api_requests("DescribeProtectedResource") == 1
    seen.text()
    assert exporter.api_requests("DescribeProtectedResource") == 1  # not on every scrape
    clock.advance(60)
    seen.text()
    assert exporter.api_requests("DescribeProtectedResource") == 2
