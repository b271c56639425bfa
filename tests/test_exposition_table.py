# ruff: noqa: E501  (expected exposition lines are as long as the exposition makes them)
"""The exposition as a table: (objects, now) -> exact sample lines, through the renderer that
production serves (``render_scrape``), in the style of kube-state-metrics' ``*_test.go``.

Each row names the families it is about; the expected text is every sample line of those
families, in order, exactly as /metrics shows it.
"""

from __future__ import annotations

import platform
from dataclasses import replace
from textwrap import dedent

import boto3

from exporter import __version__, plans
from exporter.config import TargetConfig
from exporter.contract import ALL_FAMILIES
from exporter.discovery_families import DISCOVERY_FAMILIES
from exporter.exposition import JobTextCache, body_text, render_scrape
from exporter.job_summary_view import JobSummariesView
from exporter.model import RestoreJob
from exporter.store import DiscoveryStatus, ReloadStatus, Scrape, TargetHealth, TargetSnapshot
from tests.tables import cases

NOW = 1_700_000_600.0
PLAN = "arn:aws:backup:us-east-1:111122223333:restore-testing-plan:daily"
BASE = {"AccountId": "111122223333", "RestoreJobId": "j1", "ResourceType": "EBS",
        "CreationDate": 1_700_000_000.0}  # fmt: skip
ID = 'account_id="111122223333",region="us-east-1",restore_job_id="j1",resource_type="EBS"'
DAY_0, DAY_1 = 1_699_862_400.0, 1_699_948_800.0  # two UTC midnights before NOW


def job(**fields: object) -> RestoreJob:
    return RestoreJob.from_api({**BASE, **fields}, "us-east-1")


def health(name: str = "main", **fields: object) -> TargetHealth:
    values: dict = {
        "name": name, "region": "us-east-1", "up": True, "down_reason": None,
        "scrape_seconds": 0.25, "data_age_seconds": 12.0, "jobs": 0, "jobs_dropped": 0,
        "api_requests": {}, "syncs": {}, "lookup_errors": {}, "source_up": {},
        "account_id": "111122223333", "sync_seconds": 1.5,
    }  # fmt: skip
    values.update(fields)
    return TargetHealth(**values)


def scrape(
    jobs: list[RestoreJob] = (),
    healths: list[TargetHealth] = (),
    testing: plans.RestoreTestingView | None = None,
    resources: list[plans.ProtectedResource] = (),
    summaries: JobSummariesView | None = None,
) -> Scrape:
    table = {j.restore_job_id: j for j in jobs}
    snapshot = TargetSnapshot(
        TargetConfig("main", "us-east-1"), table, table, True, None, NOW, False, {}, 0,
        testing or plans.RestoreTestingView(),
        plans.ProtectedResourcesView({r.arn: r for r in resources}),
    )  # fmt: skip
    if summaries is not None:
        snapshot = replace(snapshot, job_summaries=summaries)
    return Scrape(NOW, (snapshot,), tuple(healths))


def plan(name: str = "daily", **fields: object) -> plans.Plan:
    data = {
        "RestoreTestingPlanName": name,
        "ScheduleExpression": "cron(0 5 ? * * *)",
        "RestoreTestingPlanArn": f"{PLAN}-{name}",
        "CreationTime": 1_690_000_000.0,
        **fields,
    }
    return plans.Plan.from_api(data, "us-east-1")  # fmt: skip


DAILY = plan(LastExecutionTime=1_699_938_100.0)
BERLIN = plan("berlin", ScheduleExpressionTimezone="Europe/Berlin", StartWindowHours=2)
RDS = plans.Selection.from_api(
    {"RestoreTestingSelectionName": "rds", "ProtectedResourceType": "RDS",
     "IamRoleArn": "arn:aws:iam::111122223333:role/T", "ValidationWindowHours": 12}, DAILY,
)  # fmt: skip
EBS = plans.Selection.from_api(
    {"RestoreTestingSelectionName": "ebs", "ProtectedResourceType": "EBS",
     "IamRoleArn": "arn:aws:iam::111122223333:role/T"}, DAILY,
)  # fmt: skip


def sample_lines(value: Scrape, names: list[str], message_max_length: int = 256) -> str:
    chunks, _ = render_scrape(value, JobTextCache(message_max_length), None, names)
    text = body_text(chunks).decode()
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


CASES = {
    "a running job: every value it has, duration up to now": (
        scrape([job(Status="RUNNING", PercentDone="37.50%", BackupSizeInBytes=2048,
                    ExpectedCompletionTimeMinutes=30, RecoveryPointCreationDate=1_699_990_000.0)]),
        ["aws_backup_restore_job_progress_ratio", "aws_backup_restore_job_backup_size_bytes",
         "aws_backup_restore_job_expected_duration_seconds",
         "aws_backup_restore_job_duration_seconds",
         "aws_backup_restore_job_creation_timestamp_seconds",
         "aws_backup_restore_job_completion_timestamp_seconds",
         "aws_backup_restore_job_recovery_point_creation_timestamp_seconds"],
        f"""
        aws_backup_restore_job_progress_ratio{{{ID}}} 0.375
        aws_backup_restore_job_backup_size_bytes{{{ID}}} 2048.0
        aws_backup_restore_job_expected_duration_seconds{{{ID}}} 1800.0
        aws_backup_restore_job_duration_seconds{{{ID}}} 600.0
        aws_backup_restore_job_creation_timestamp_seconds{{{ID}}} 1.7e+09
        aws_backup_restore_job_recovery_point_creation_timestamp_seconds{{{ID}}} 1.69999e+09
        """,
    ),
    "a finished job: completion time, duration to completion": (
        scrape([job(Status="COMPLETED", CompletionDate=1_700_000_300.0, PercentDone="100.00%")]),
        ["aws_backup_restore_job_status", "aws_backup_restore_job_duration_seconds",
         "aws_backup_restore_job_completion_timestamp_seconds"],
        f"""
        aws_backup_restore_job_status{{{ID},status="PENDING"}} 0.0
        aws_backup_restore_job_status{{{ID},status="RUNNING"}} 0.0
        aws_backup_restore_job_status{{{ID},status="COMPLETED"}} 1.0
        aws_backup_restore_job_status{{{ID},status="ABORTED"}} 0.0
        aws_backup_restore_job_status{{{ID},status="FAILED"}} 0.0
        aws_backup_restore_job_duration_seconds{{{ID}}} 300.0
        aws_backup_restore_job_completion_timestamp_seconds{{{ID}}} 1.7000003e+09
        """,
    ),
    "no PercentDone, size or estimate: those series are absent, not 0": (
        scrape([job(Status="PENDING", PercentDone="not a number")]),
        ["aws_backup_restore_job_progress_ratio", "aws_backup_restore_job_backup_size_bytes",
         "aws_backup_restore_job_expected_duration_seconds",
         "aws_backup_restore_job_message_info"],
        "",
    ),
    "a status AWS adds later shows as 1 beside the known ones": (
        scrape([job(Status="QUEUED")]),
        ["aws_backup_restore_job_status"],
        f"""
        aws_backup_restore_job_status{{{ID},status="PENDING"}} 0.0
        aws_backup_restore_job_status{{{ID},status="RUNNING"}} 0.0
        aws_backup_restore_job_status{{{ID},status="COMPLETED"}} 0.0
        aws_backup_restore_job_status{{{ID},status="ABORTED"}} 0.0
        aws_backup_restore_job_status{{{ID},status="FAILED"}} 0.0
        aws_backup_restore_job_status{{{ID},status="QUEUED"}} 1.0
        """,
    ),
    "descriptive attributes on the info series, empty when AWS gives none": (
        scrape([job(CreatedBy={"RestoreTestingPlanArn": PLAN}, IsParent=False,
                    ParentJobId="p1", IamRoleArn="arn:aws:iam::111122223333:role/R")]),
        ["aws_backup_restore_job_info"],
        f"""
        aws_backup_restore_job_info{{{ID},recovery_point_arn="",source_resource_arn="",created_resource_arn="",backup_vault_arn="",iam_role_arn="arn:aws:iam::111122223333:role/R",restore_testing_plan_arn="{PLAN}",parent_job_id="p1",is_parent="false"}} 1.0
        """,
    ),
    "a restore test validating and cleaning up": (
        scrape([job(Status="COMPLETED", ValidationStatus="VALIDATING",
                    DeletionStatus="DELETING")]),
        ["aws_backup_restore_job_validation_status", "aws_backup_restore_job_deletion_status"],
        f"""
        aws_backup_restore_job_validation_status{{{ID},validation_status="FAILED"}} 0.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="SUCCESSFUL"}} 0.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="TIMED_OUT"}} 0.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="VALIDATING"}} 1.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="DELETING"}} 1.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="FAILED"}} 0.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="SUCCESSFUL"}} 0.0
        """,
    ),
    "a restore test that timed out, cleaned up": (
        scrape([job(Status="COMPLETED", ValidationStatus="TIMED_OUT",
                    DeletionStatus="SUCCESSFUL")]),
        ["aws_backup_restore_job_validation_status", "aws_backup_restore_job_deletion_status"],
        f"""
        aws_backup_restore_job_validation_status{{{ID},validation_status="FAILED"}} 0.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="SUCCESSFUL"}} 0.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="TIMED_OUT"}} 1.0
        aws_backup_restore_job_validation_status{{{ID},validation_status="VALIDATING"}} 0.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="DELETING"}} 0.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="FAILED"}} 0.0
        aws_backup_restore_job_deletion_status{{{ID},deletion_status="SUCCESSFUL"}} 1.0
        """,
    ),
    "no validation or deletion status: no state set at all (not a restore test)": (
        scrape([job(Status="COMPLETED")]),
        ["aws_backup_restore_job_validation_status", "aws_backup_restore_job_deletion_status"],
        "",
    ),
    "hostile strings are escaped; messages made single-line and cut": (
        scrape([job(RestoreJobId='a"b\\c', ResourceType="EB\nS",
                    StatusMessage='line one\nline "two" ' + "x" * 40,
                    DeletionStatusMessage="✓ Ω 🚀")]),
        ["aws_backup_restore_job_message_info"],
        """
        aws_backup_restore_job_message_info{account_id="111122223333",region="us-east-1",restore_job_id="a\\"b\\\\c",resource_type="EB\\nS",status_message="line one line \\"two\\" xxxxxxxxx…",validation_status_message="",deletion_status_message="✓ Ω 🚀"} 1.0
        """,
    ),
    "the aggregate: every status per account, region and resource type": (
        scrape([job(RestoreJobId="a", Status="FAILED"), job(RestoreJobId="b", Status="FAILED"),
                job(RestoreJobId="c", ResourceType="RDS", Status="NEW")]),
        ["aws_backup_restore_jobs"],
        """
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="EBS",status="PENDING"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="EBS",status="RUNNING"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="EBS",status="COMPLETED"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="EBS",status="ABORTED"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="EBS",status="FAILED"} 2.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="PENDING"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="RUNNING"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="COMPLETED"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="ABORTED"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="FAILED"} 0.0
        aws_backup_restore_jobs{account_id="111122223333",region="us-east-1",resource_type="RDS",status="NEW"} 1.0
        """,
    ),
    "restore testing plans: info, last run (absent if it never ran), schedule in its zone": (
        scrape(testing=plans.RestoreTestingView((DAILY, BERLIN))),
        ["aws_backup_restore_testing_plan_info",
         "aws_backup_restore_testing_plan_last_execution_timestamp_seconds",
         "aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds",
         "aws_backup_restore_testing_plan_next_scheduled_timestamp_seconds",
         "aws_backup_restore_testing_plan_start_window_seconds"],
        """
        aws_backup_restore_testing_plan_info{account_id="111122223333",region="us-east-1",restore_testing_plan_arn="arn:aws:backup:us-east-1:111122223333:restore-testing-plan:daily-daily",restore_testing_plan_name="daily",schedule_expression="cron(0 5 ? * * *)",schedule_expression_timezone=""} 1.0
        aws_backup_restore_testing_plan_info{account_id="111122223333",region="us-east-1",restore_testing_plan_arn="arn:aws:backup:us-east-1:111122223333:restore-testing-plan:daily-berlin",restore_testing_plan_name="berlin",schedule_expression="cron(0 5 ? * * *)",schedule_expression_timezone="Europe/Berlin"} 1.0
        aws_backup_restore_testing_plan_last_execution_timestamp_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="daily"} 1.6999381e+09
        aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="daily"} 1.699938e+09
        aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="berlin"} 1.6999344e+09
        aws_backup_restore_testing_plan_next_scheduled_timestamp_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="daily"} 1.7000244e+09
        aws_backup_restore_testing_plan_next_scheduled_timestamp_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="berlin"} 1.7000208e+09
        aws_backup_restore_testing_plan_start_window_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="daily"} 86400.0
        aws_backup_restore_testing_plan_start_window_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="berlin"} 7200.0
        """,
    ),
    "a schedule we cannot read: no scheduled series, the rest as usual": (
        scrape(testing=plans.RestoreTestingView((plan("odd", ScheduleExpression="rate(1 day)"),))),
        ["aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds",
         "aws_backup_restore_testing_plan_next_scheduled_timestamp_seconds",
         "aws_backup_restore_testing_plan_start_window_seconds"],
        """
        aws_backup_restore_testing_plan_start_window_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="odd"} 86400.0
        """,
    ),
    "selections: what each restores; a validation window only where AWS gives one": (
        scrape(testing=plans.RestoreTestingView((DAILY,), (RDS, EBS))),
        ["aws_backup_restore_testing_selection_info",
         "aws_backup_restore_testing_selection_validation_window_seconds"],
        """
        aws_backup_restore_testing_selection_info{account_id="111122223333",iam_role_arn="arn:aws:iam::111122223333:role/T",protected_resource_type="RDS",region="us-east-1",restore_testing_plan_name="daily",restore_testing_selection_name="rds"} 1.0
        aws_backup_restore_testing_selection_info{account_id="111122223333",iam_role_arn="arn:aws:iam::111122223333:role/T",protected_resource_type="EBS",region="us-east-1",restore_testing_plan_name="daily",restore_testing_selection_name="ebs"} 1.0
        aws_backup_restore_testing_selection_validation_window_seconds{account_id="111122223333",region="us-east-1",restore_testing_plan_name="daily",restore_testing_selection_name="rds"} 43200.0
        """,
    ),
    "last success per plan and resource type": (
        scrape(testing=plans.RestoreTestingView((DAILY,), (), (plans.PlanSuccess(DAILY, "EBS", 1_699_940_000.0),
                                                        plans.PlanSuccess(DAILY, "RDS", 1_699_000_000.0)))),
        ["aws_backup_restore_testing_plan_last_success_timestamp_seconds"],
        """
        aws_backup_restore_testing_plan_last_success_timestamp_seconds{account_id="111122223333",region="us-east-1",resource_type="EBS",restore_testing_plan_name="daily"} 1.69994e+09
        aws_backup_restore_testing_plan_last_success_timestamp_seconds{account_id="111122223333",region="us-east-1",resource_type="RDS",restore_testing_plan_name="daily"} 1.699e+09
        """,
    ),
    "protected resources: last restore, absent for one never restored": (
        scrape(resources=[
            plans.ProtectedResource.from_api({"ResourceArn": "arn:aws:ec2:us-east-1:111122223333:volume/vol-1",
                                        "ResourceType": "EBS",
                                        "LatestRestoreJobCreationDate": 1_699_000_000.0}, "us-east-1"),
            plans.ProtectedResource.from_api({"ResourceArn": "arn:aws:rds:us-east-1:111122223333:db:x",
                                        "ResourceType": "RDS"}, "us-east-1"),
        ]),
        ["aws_backup_protected_resource_last_restore_timestamp_seconds"],
        """
        aws_backup_protected_resource_last_restore_timestamp_seconds{account_id="111122223333",region="us-east-1",resource_arn="arn:aws:ec2:us-east-1:111122223333:volume/vol-1",resource_type="EBS"} 1.699e+09
        """,
    ),
    "per-source health: a source that failed is 0, one that never ran is absent": (
        scrape(healths=[health(source_up={"restore_jobs": True, "restore_testing": False})]),
        ["aws_backup_restore_exporter_source_up"],
        """
        aws_backup_restore_exporter_source_up{account_id="111122223333",source="restore_jobs",target="main"} 1.0
        aws_backup_restore_exporter_source_up{account_id="111122223333",source="restore_testing",target="main"} 0.0
        """,
    ),
    "an up target: up, no reason, its figures": (
        scrape(healths=[health(jobs=7, jobs_dropped=2, protected_resources_dropped=3)]),
        ["aws_backup_restore_exporter_target_up", "aws_backup_restore_exporter_target_down_reason",
         "aws_backup_restore_exporter_scrape_duration_seconds",
         "aws_backup_restore_exporter_target_sync_duration_seconds",
         "aws_backup_restore_exporter_target_data_age_seconds",
         "aws_backup_restore_exporter_target_jobs",
         "aws_backup_restore_exporter_target_jobs_dropped",
         "aws_backup_restore_exporter_target_protected_resources_dropped"],
        """
        aws_backup_restore_exporter_target_up{account_id="111122223333",region="us-east-1",target="main"} 1.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="auth",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="throttled",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="unavailable",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="timeout",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="invalid",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="other",region="us-east-1",target="main"} 0.0
        aws_backup_restore_exporter_scrape_duration_seconds{account_id="111122223333",target="main"} 0.25
        aws_backup_restore_exporter_target_sync_duration_seconds{account_id="111122223333",target="main"} 1.5
        aws_backup_restore_exporter_target_data_age_seconds{account_id="111122223333",region="us-east-1",target="main"} 12.0
        aws_backup_restore_exporter_target_jobs{account_id="111122223333",region="us-east-1",target="main"} 7.0
        aws_backup_restore_exporter_target_jobs_dropped{account_id="111122223333",region="us-east-1",target="main"} 2.0
        aws_backup_restore_exporter_target_protected_resources_dropped{account_id="111122223333",region="us-east-1",target="main"} 3.0
        """,
    ),
    "a target that never synced and a reason we do not know: down, other, no data age": (
        scrape(healths=[health("new", up=False, down_reason="weird", data_age_seconds=None)]),
        ["aws_backup_restore_exporter_target_up", "aws_backup_restore_exporter_target_down_reason",
         "aws_backup_restore_exporter_target_data_age_seconds"],
        """
        aws_backup_restore_exporter_target_up{account_id="111122223333",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="auth",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="throttled",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="unavailable",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="timeout",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="invalid",region="us-east-1",target="new"} 0.0
        aws_backup_restore_exporter_target_down_reason{account_id="111122223333",reason="other",region="us-east-1",target="new"} 1.0
        """,
    ),
    "what the exporter costs: requests and syncs as counters, lookup errors per job ID": (
        scrape(healths=[health(
            api_requests={("ListRestoreJobs", "success"): 4, ("DescribeRestoreJob", "throttled"): 1},
            syncs={("full", "success"): 1, ("incremental", "failure"): 2},
            lookup_errors={"gone": "not_found"},
        )]),
        ["aws_backup_restore_exporter_api_requests", "aws_backup_restore_exporter_syncs",
         "aws_backup_restore_exporter_restore_job_lookup_errors"],
        """
        aws_backup_restore_exporter_api_requests_total{account_id="111122223333",operation="DescribeRestoreJob",outcome="throttled",target="main"} 1.0
        aws_backup_restore_exporter_api_requests_total{account_id="111122223333",operation="ListRestoreJobs",outcome="success",target="main"} 4.0
        aws_backup_restore_exporter_syncs_total{account_id="111122223333",kind="full",result="success",target="main"} 1.0
        aws_backup_restore_exporter_syncs_total{account_id="111122223333",kind="incremental",result="failure",target="main"} 2.0
        aws_backup_restore_exporter_restore_job_lookup_errors{account_id="111122223333",reason="not_found",restore_job_id="gone",target="main"} 1.0
        """,
    ),
    "a target whose account is not known: no account_id (an empty label is none)": (
        scrape(healths=[health(account_id="", sync_seconds=None)]),
        ["aws_backup_restore_exporter_target_up",
         "aws_backup_restore_exporter_target_sync_duration_seconds"],
        """
        aws_backup_restore_exporter_target_up{account_id="",region="us-east-1",target="main"} 1.0
        """,
    ),
    "discovery that works: up, what it found, when and how long": (
        replace(scrape(), discovery=(DiscoveryStatus("organization", True, 8, 2, NOW - 60, 3.5),)),
        [family.name for family in DISCOVERY_FAMILIES],
        """
        aws_backup_restore_exporter_discovery_up{discovery="organization"} 1.0
        aws_backup_restore_exporter_discovery_targets{discovery="organization"} 8.0
        aws_backup_restore_exporter_discovery_accounts{discovery="organization"} 2.0
        aws_backup_restore_exporter_discovery_last_success_timestamp_seconds{discovery="organization"} 1.70000054e+09
        aws_backup_restore_exporter_discovery_duration_seconds{discovery="organization"} 3.5
        """,
    ),
    "discovery that never succeeded: down, nothing found, no success time": (
        replace(scrape(), discovery=(DiscoveryStatus("organization", False, 0, 0, None, 0.5, "auth"),)),
        ["aws_backup_restore_exporter_discovery_up",
         "aws_backup_restore_exporter_discovery_last_success_timestamp_seconds"],
        """
        aws_backup_restore_exporter_discovery_up{discovery="organization"} 0.0
        """,
    ),
    "a broken web-config renewal: 0, and when the last good one loaded": (
        replace(scrape(), web_config=ReloadStatus(False, 1_699_990_000.0)),
        ["aws_backup_restore_exporter_web_config_last_reload_successful",
         "aws_backup_restore_exporter_web_config_last_reload_success_timestamp_seconds"],
        """
        aws_backup_restore_exporter_web_config_last_reload_successful 0.0
        aws_backup_restore_exporter_web_config_last_reload_success_timestamp_seconds 1.69999e+09
        """,
    ),
    "no web config reloading: no reload series": (
        scrape(),
        ["aws_backup_restore_exporter_web_config_last_reload_successful"],
        "",
    ),
    "restore job summaries: the latest day's counts, 0 for what AWS listed an earlier day only": (
        scrape(summaries=JobSummariesView.from_api("org", "us-east-1", "ONE_DAY", [
            {"AccountId": "111122223333", "Region": "eu-west-1", "ResourceType": "EBS",
             "State": "COMPLETED", "Count": 3, "StartTime": DAY_1, "EndTime": DAY_1 + 86400},
            {"AccountId": "444455556666", "Region": "eu-west-1", "ResourceType": "RDS",
             "State": "FAILED", "Count": 1, "StartTime": DAY_1, "EndTime": DAY_1 + 86400},
            {"AccountId": "444455556666", "Region": "eu-west-1", "ResourceType": "RDS",
             "State": "FAILED", "Count": 2, "StartTime": DAY_0, "EndTime": DAY_1},
            {"AccountId": "111122223333", "Region": "eu-west-1", "ResourceType": "EBS",
             "State": "ABORTED", "Count": 5, "StartTime": DAY_0, "EndTime": DAY_1},
            {"AccountId": "111122223333", "State": "RUNNING", "StartTime": DAY_1},  # no Count
        ])),
        ["aws_backup_restore_job_summaries_jobs",
         "aws_backup_restore_job_summaries_period_start_timestamp_seconds",
         "aws_backup_restore_job_summaries_period_end_timestamp_seconds"],
        """
        aws_backup_restore_job_summaries_jobs{account_id="111122223333",aggregation_period="ONE_DAY",region="eu-west-1",resource_type="EBS",state="ABORTED",target="org"} 0.0
        aws_backup_restore_job_summaries_jobs{account_id="111122223333",aggregation_period="ONE_DAY",region="eu-west-1",resource_type="EBS",state="COMPLETED",target="org"} 3.0
        aws_backup_restore_job_summaries_jobs{account_id="444455556666",aggregation_period="ONE_DAY",region="eu-west-1",resource_type="RDS",state="FAILED",target="org"} 1.0
        aws_backup_restore_job_summaries_period_start_timestamp_seconds{aggregation_period="ONE_DAY",target="org"} 1.6999488e+09
        aws_backup_restore_job_summaries_period_end_timestamp_seconds{aggregation_period="ONE_DAY",target="org"} 1.7000352e+09
        """,
    ),
    "no restore job summaries (off, or never refreshed): no summary series": (
        scrape(summaries=JobSummariesView.from_api("org", "us-east-1", "SEVEN_DAYS", [])),
        ["aws_backup_restore_job_summaries_jobs",
         "aws_backup_restore_job_summaries_period_start_timestamp_seconds",
         "aws_backup_restore_job_summaries_period_end_timestamp_seconds"],
        "",
    ),
    "build info": (
        scrape(),
        ["aws_backup_restore_exporter_build_info"],
        f"""
        aws_backup_restore_exporter_build_info{{boto3_version="{boto3.__version__}",python_version="{platform.python_version()}",version="{__version__}"}} 1.0
        """,
    ),
}  # fmt: skip


@cases(("value", "names", "expected"), CASES)
def test_exposition(value, names, expected):
    assert sample_lines(value, names, message_max_length=30) == dedent(expected).lstrip("\n")


def test_every_declared_family_is_covered_by_a_row():
    covered = {name for _, names, _ in CASES.values() for name in names}
    assert covered == {family.name for family in ALL_FAMILIES}


def test_a_full_scrape_has_every_family_once_with_help_and_type_in_declared_order():
    value = scrape([job(Status="RUNNING")], [health()])
    chunks, _ = render_scrape(value, JobTextCache(256), None)
    text = body_text(chunks).decode()
    types = [line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE ")]
    # the text format names a counter's HELP and TYPE after its samples (``_total``)
    assert types == [[family.sample_name, family.kind] for family in ALL_FAMILIES]
    for family in ALL_FAMILIES:
        assert text.count(f"# HELP {family.sample_name} {family.help}\n") == 1
