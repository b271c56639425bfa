"""Build the Grafana dashboard deploy/grafana/aws-backup-restores.json with grafana-foundation-sdk.

The JSON is generated, never edited by hand: change this script and run

    python deploy/grafana/generate_dashboard.py            # rewrite the JSON
    python deploy/grafana/generate_dashboard.py --check    # exit 1 if the JSON is out of date

tests/test_dashboard.py regenerates it and compares, checks the variables and panels, runs every
expression through Prometheus, and type-checks the JSON against @grafana/schema.

Every query filters on the template variables $account, $region and $resource_type where the
series carry those labels (the restore testing plans' series have no resource type, except the
last success per resource type); the exporter's own series carry `target` and `region` only
(`source_up`: `target` only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).resolve().parent / "aws-backup-restores.json"
UID = "aws-backup-restores"
INTERVAL_ONLY_KEYS = ("auto", "auto_count", "auto_min")

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Label matchers for the per-job series and for aws_backup_restore_jobs.
JOBS = 'account_id=~"$account", region=~"$region", resource_type=~"$resource_type"'
# ...and for the recorded per-plan series, which have no resource type.
PLANS = 'account_id=~"$account", region=~"$region"'
# The exporter's per-target series carry a region (but no account).
TARGETS = 'region=~"$region"'
# How per-job series are joined (see deploy/prometheus/alerts.yaml).
ON_JOB = "on (job, instance, account_id, region, restore_job_id)"
# ...and the restore-testing source's per-plan series.
ON_PLAN = "on (job, instance, account_id, region, restore_testing_plan_name)"
# Days without a success after which AwsBackupRestoreTestingNoRecentSuccess fires by default.
SUCCESS_MAX_AGE_DAYS = 8

STATUS_COLORS = {
    "PENDING": "yellow",
    "RUNNING": "blue",
    "COMPLETED": "green",
    "ABORTED": "orange",
    "FAILED": "red",
}
VALIDATION_COLORS = {
    "VALIDATING": "blue",
    "SUCCESSFUL": "green",
    "TIMED_OUT": "orange",
    "FAILED": "red",
}
DELETION_COLORS = {"DELETING": "blue", "SUCCESSFUL": "green", "FAILED": "red"}


def merge() -> model.DataTransformerConfig:
    """One row per series, the queries' values side by side."""
    return model.DataTransformerConfig(id_val="merge", options={})


def columns(rename: dict[str, str]) -> model.DataTransformerConfig:
    """A table's columns after merge(): the scrape's own labels and Time dropped, the rest named."""
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {"Time": True, "job": True, "instance": True},
            "renameByName": rename,
        },
    )


def query(expr: str, legend: str = "", ref_id: str = "A") -> prometheus.Dataquery:
    """A range query, drawn over time."""
    built = prometheus.Dataquery().expr(expr).range().ref_id(ref_id).datasource(DATASOURCE)
    return built.legend_format(legend) if legend else built


def table_query(expr: str, ref_id: str = "A") -> prometheus.Dataquery:
    """An instant query returned as a table: one row per series, labels as columns."""
    return (
        prometheus.Dataquery()
        .expr(expr)
        .instant()
        .format(PromQueryFormat.TABLE)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
    )


def with_schedule(expr: str) -> str:
    """A per-plan series with the plan's schedule and time zone as labels, from its _info."""
    return (
        f"{expr} * {ON_PLAN} group_left (schedule_expression, schedule_expression_timezone)"
        f" aws_backup_restore_testing_plan_info{{{PLANS}}}"
    )


def unit(name: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="unit", value=name)


def fixed_color(name: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": name})


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def stat_panel(title: str, description: str, expr: str, unit: str = "none") -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(table_query(expr).format(PromQueryFormat.TIME_SERIES))
        .unit(unit)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .height(4)
        .span(4)
    )


def state_series(
    title: str, description: str, expr: str, legend: str, colors: dict[str, str]
) -> timeseries.Panel:
    """Counts of jobs per state over time, stacked, one fixed colour per state."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, legend))
        .unit("none")
        .min(0)
        .decimals(0)
        .fill_opacity(30)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .height(8)
        .span(12)
    )
    for state, color in colors.items():
        panel = panel.override_by_name(state, [fixed_color(color)])
    return panel


def variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    def label_values(name: str, label: str, title: str, selector: str) -> dash.QueryVariable:
        return (
            dash.QueryVariable(name)
            .label(title)
            .datasource(DATASOURCE)
            .query(f"label_values({selector}, {label})")
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(model.VariableOption(selected=True, text="All", value="$__all"))
        )

    return [
        dash.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        label_values("account", "account_id", "Account", "aws_backup_restore_jobs"),
        label_values(
            "region", "region", "Region", 'aws_backup_restore_jobs{account_id=~"$account"}'
        ),
        label_values(
            "resource_type",
            "resource_type",
            "Resource type",
            'aws_backup_restore_jobs{account_id=~"$account", region=~"$region"}',
        ),
    ]


def overview_row(board: dash.Dashboard) -> dash.Dashboard:
    finished = f'aws_backup_restore_jobs{{status=~"COMPLETED|FAILED|ABORTED", {JOBS}}}'
    return (
        board.with_row(dash.Row("Overview"))
        .with_panel(
            stat_panel(
                "Failed restores",
                "Restore jobs FAILED in the exporter's window (discovery.lookback, 24 h by "
                "default).",
                f'sum(aws_backup_restore_jobs{{status="FAILED", {JOBS}}})',
            ).thresholds(thresholds((None, "green"), (1, "red")))
        )
        .with_panel(
            stat_panel(
                "Running restores",
                "Restore jobs RUNNING now.",
                f"sum(resource_type:aws_backup_restore_jobs_running:sum{{{JOBS}}})",
            ).thresholds(thresholds((None, "blue")))
        )
        .with_panel(
            stat_panel(
                "Success ratio (window)",
                "COMPLETED / (COMPLETED + FAILED + ABORTED) of the jobs in the window.",
                f'sum(aws_backup_restore_jobs{{status="COMPLETED", {JOBS}}}) / sum({finished})',
                unit="percentunit",
            ).thresholds(thresholds((None, "red"), (0.9, "orange"), (0.99, "green")))
        )
        .with_panel(
            stat_panel(
                "Restore tests not validated",
                "Restore tests in the window whose validation FAILED or TIMED_OUT.",
                "count(aws_backup_restore_job_validation_status"
                f'{{validation_status=~"FAILED|TIMED_OUT", {JOBS}}} == 1) or vector(0)',
            ).thresholds(thresholds((None, "green"), (1, "orange")))
        )
        .with_panel(
            stat_panel(
                "Clean-ups failed",
                "Restore tests in the window whose created resource could not be deleted.",
                "count(aws_backup_restore_job_deletion_status"
                f'{{deletion_status="FAILED", {JOBS}}} == 1) or vector(0)',
            ).thresholds(thresholds((None, "green"), (1, "orange")))
        )
        .with_panel(
            stat_panel(
                "Targets down",
                "Accounts and regions the exporter cannot read (see the Exporter row).",
                f"count(aws_backup_restore_exporter_target_up{{{TARGETS}}} == 0) or vector(0)",
            ).thresholds(thresholds((None, "green"), (1, "red")))
        )
    )


def jobs_row(board: dash.Dashboard) -> dash.Dashboard:
    running = f'(aws_backup_restore_job_status{{status="RUNNING", {JOBS}}} == 1)'
    completed = f'(aws_backup_restore_job_status{{status="COMPLETED", {JOBS}}} == 1)'
    return (
        board.with_row(dash.Row("Restore jobs"))
        .with_panel(
            state_series(
                "Restore jobs by status",
                "Jobs in the exporter's window, by status.",
                f"sum by (status) (aws_backup_restore_jobs{{{JOBS}}})",
                "{{status}}",
                STATUS_COLORS,
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Success ratio by resource type")
            .description(
                "COMPLETED / (COMPLETED + FAILED + ABORTED), over the exporter's window (about "
                "1 day) and over 7 days (recording rules)."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"resource_type:aws_backup_restore_jobs:success_ratio_1d{{{JOBS}}}",
                    "{{resource_type}} {{region}} 1d",
                    "A",
                )
            )
            .with_target(
                query(
                    f"resource_type:aws_backup_restore_jobs:success_ratio_7d{{{JOBS}}}",
                    "{{resource_type}} {{region}} 7d",
                    "B",
                )
            )
            .unit("percentunit")
            .min(0)
            .max(1)
            .height(8)
            .span(12)
        )
        .with_panel(
            table.Panel()
            .title("Running restores")
            .description("RUNNING jobs: progress, time so far and AWS's estimate.")
            .datasource(DATASOURCE)
            .with_target(
                table_query(
                    f"aws_backup_restore_job_progress_ratio{{{JOBS}}} and {ON_JOB} {running}", "A"
                )
            )
            .with_target(
                table_query(
                    f"aws_backup_restore_job_duration_seconds{{{JOBS}}} and {ON_JOB} {running}",
                    "B",
                )
            )
            .with_target(
                table_query(
                    f"aws_backup_restore_job_expected_duration_seconds{{{JOBS}}}"
                    f" and {ON_JOB} {running}",
                    "C",
                )
            )
            .with_transformation(merge())
            .with_transformation(
                columns(
                    {
                        "restore_job_id": "Restore job",
                        "resource_type": "Type",
                        "account_id": "Account",
                        "region": "Region",
                        "Value #A": "Progress",
                        "Value #B": "Running for",
                        "Value #C": "Expected",
                    }
                )
            )
            .override_by_name(
                "Progress",
                [
                    model.DynamicConfigValue(id_val="unit", value="percentunit"),
                    model.DynamicConfigValue(id_val="min", value=0),
                    model.DynamicConfigValue(id_val="max", value=1),
                    model.DynamicConfigValue(
                        id_val="custom.cellOptions", value={"type": "gauge", "mode": "basic"}
                    ),
                ],
            )
            .override_by_name("Running for", [model.DynamicConfigValue(id_val="unit", value="s")])
            .override_by_name("Expected", [model.DynamicConfigValue(id_val="unit", value="s")])
            .height(8)
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Running restores: duration vs expected")
            .description(
                "Time since each RUNNING job was created (solid) and AWS's estimate for it "
                "(dashed). AwsBackupRestoreJobRunningTooLong fires past 1.5 x the estimate "
                "(30 min at least)."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"aws_backup_restore_job_duration_seconds{{{JOBS}}} and {ON_JOB} {running}",
                    "{{restore_job_id}} actual",
                    "A",
                )
            )
            .with_target(
                query(
                    f"aws_backup_restore_job_expected_duration_seconds{{{JOBS}}}"
                    f" and {ON_JOB} {running}",
                    "{{restore_job_id}} expected",
                    "B",
                )
            )
            .override_by_query(
                "B",
                [
                    model.DynamicConfigValue(
                        id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
                    )
                ],
            )
            .unit("s")
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("p90 duration of completed restores")
            .description(
                "90th percentile of the duration of the COMPLETED jobs in the window, per "
                "resource type (recording rule)."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"resource_type:aws_backup_restore_job_duration_seconds:p90{{{JOBS}}}",
                    "{{resource_type}} {{region}}",
                )
            )
            .unit("s")
            .min(0)
            .height(8)
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Restored bytes by resource type")
            .description("Size of the resources restored by the COMPLETED jobs in the window.")
            .datasource(DATASOURCE)
            .with_target(
                query(
                    "sum by (resource_type) ("
                    f"aws_backup_restore_job_backup_size_bytes{{{JOBS}}} and {ON_JOB} {completed})",
                    "{{resource_type}}",
                )
            )
            .unit("bytes")
            .min(0)
            .fill_opacity(30)
            .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
            .height(8)
            .span(12)
        )
    )


def restore_testing_row(board: dash.Dashboard) -> dash.Dashboard:
    return (
        board.with_row(dash.Row("Restore testing"))
        .with_panel(
            state_series(
                "Restore-test validation outcomes",
                "Restore tests in the window, by validation status.",
                f"sum by (validation_status) (aws_backup_restore_job_validation_status{{{JOBS}}})",
                "{{validation_status}}",
                VALIDATION_COLORS,
            )
        )
        .with_panel(
            state_series(
                "Restore-test clean-up outcomes",
                "Restore tests in the window, by deletion status of the resource they created.",
                f"sum by (deletion_status) (aws_backup_restore_job_deletion_status{{{JOBS}}})",
                "{{deletion_status}}",
                DELETION_COLORS,
            )
        )
        .with_panel(
            table.Panel()
            .title("Restore testing plans")
            .description(
                "Restore tests per plan in the window, by validation status (recording rule). "
                "A plan with failures and no SUCCESSFUL validation in 7 days fires "
                "AwsBackupRestoreTestingPlanNoSuccessfulValidation."
            )
            .datasource(DATASOURCE)
            .with_target(
                table_query(
                    "restore_testing_plan:aws_backup_restore_job_validation_status:sum"
                    f"{{{PLANS}}} > 0"
                )
            )
            .with_transformation(
                model.DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {"Time": True, "__name__": True},
                        "renameByName": {
                            "restore_testing_plan_arn": "Plan",
                            "validation_status": "Validation",
                            "account_id": "Account",
                            "region": "Region",
                            "Value": "Tests",
                        },
                    },
                )
            )
            .height(8)
            .span(24)
        )
        .with_panel(plan_schedule_table())
        .with_panel(last_success_table())
    )


def plan_schedule_table() -> table.Panel:
    """One row per restore testing plan: last run, the schedule's last and next start."""
    plan = "aws_backup_restore_testing_plan"
    return (
        table.Panel()
        .title("Restore testing plan runs")
        .description(
            "Per plan (restore-testing source): when it last ran, the latest and the next start "
            "its schedule calls for (computed by the exporter in the plan's time zone), and its "
            "start window. AwsBackupRestoreTestingPlanMissedRun fires when a start's window has "
            "passed without a run; an empty Last run means the plan never ran."
        )
        .datasource(DATASOURCE)
        .with_target(
            table_query(with_schedule(f"{plan}_last_execution_timestamp_seconds{{{PLANS}}} * 1000"))
        )
        .with_target(
            table_query(
                with_schedule(f"{plan}_last_scheduled_timestamp_seconds{{{PLANS}}} * 1000"), "B"
            )
        )
        .with_target(
            table_query(
                with_schedule(f"{plan}_next_scheduled_timestamp_seconds{{{PLANS}}} * 1000"), "C"
            )
        )
        .with_target(table_query(with_schedule(f"{plan}_start_window_seconds{{{PLANS}}}"), "D"))
        .with_transformation(merge())
        .with_transformation(
            columns(
                {
                    "restore_testing_plan_name": "Plan",
                    "account_id": "Account",
                    "region": "Region",
                    "schedule_expression": "Schedule",
                    "schedule_expression_timezone": "Time zone",
                    "Value #A": "Last run",
                    "Value #B": "Last scheduled start",
                    "Value #C": "Next run",
                    "Value #D": "Start window",
                }
            )
        )
        .override_by_name("Last run", [unit("dateTimeAsIso")])
        .override_by_name("Last scheduled start", [unit("dateTimeAsIso")])
        .override_by_name("Next run", [unit("dateTimeAsIso")])
        .override_by_name("Start window", [unit("s")])
        .height(8)
        .span(24)
    )


def last_success_table() -> table.Panel:
    """One row per plan and resource type: the last successful restore test and its age."""
    success = f"aws_backup_restore_testing_plan_last_success_timestamp_seconds{{{JOBS}}}"
    max_age = SUCCESS_MAX_AGE_DAYS * 86400
    return (
        table.Panel()
        .title("Last successful restore test per resource type")
        .description(
            "Per plan and resource type: completion time of the latest restore test that "
            "completed and validated SUCCESSFUL (or needed no validation), within the exporter's "
            "restore_testing.success_lookback, and its age. AwsBackupRestoreTestingNoRecentSuccess "
            f"fires after {SUCCESS_MAX_AGE_DAYS} days unless you set another threshold "
            "(docs/alerts.md); a type with no success in the lookback has no row."
        )
        .datasource(DATASOURCE)
        .with_target(table_query(f"{success} * 1000"))
        .with_target(table_query(f"time() - {success}", "B"))
        .with_transformation(merge())
        .with_transformation(
            columns(
                {
                    "restore_testing_plan_name": "Plan",
                    "resource_type": "Type",
                    "account_id": "Account",
                    "region": "Region",
                    "Value #A": "Last success",
                    "Value #B": "Age",
                }
            )
        )
        .override_by_name("Last success", [unit("dateTimeAsIso")])
        .override_by_name(
            "Age",
            [
                unit("s"),
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value={
                        "mode": "absolute",
                        "steps": [
                            {"value": None, "color": "green"},
                            {"value": max_age - 86400, "color": "orange"},
                            {"value": max_age, "color": "red"},
                        ],
                    },
                ),
                model.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
            ],
        )
        .height(8)
        .span(24)
    )


def failures_row(board: dash.Dashboard) -> dash.Dashboard:
    failed = (
        "max by (job, instance, account_id, region, restore_job_id, resource_type) ("
        f'(aws_backup_restore_job_status{{status=~"FAILED|ABORTED", {JOBS}}} == 1)'
        " or (aws_backup_restore_job_validation_status"
        f'{{validation_status=~"FAILED|TIMED_OUT", {JOBS}}} == 1)'
        f' or (aws_backup_restore_job_deletion_status{{deletion_status="FAILED", {JOBS}}} == 1)'
        ")"
    )
    messages = "status_message, validation_status_message, deletion_status_message"
    return board.with_row(dash.Row("Failures")).with_panel(
        table.Panel()
        .title("Failed restores and restore tests")
        .description(
            "Jobs in the window that FAILED or were ABORTED, whose validation FAILED or "
            "TIMED_OUT, or whose clean-up FAILED, with AWS's messages."
        )
        .datasource(DATASOURCE)
        .with_target(
            table_query(
                f"({failed} * {ON_JOB} group_left ({messages})"
                f" aws_backup_restore_job_message_info{{{JOBS}}}) or {ON_JOB} {failed}"
            )
        )
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "Value": True,
                        "job": True,
                        "instance": True,
                    },
                    "renameByName": {
                        "restore_job_id": "Restore job",
                        "resource_type": "Type",
                        "account_id": "Account",
                        "region": "Region",
                        "status_message": "Status message",
                        "validation_status_message": "Validation message",
                        "deletion_status_message": "Clean-up message",
                    },
                },
            )
        )
        .height(10)
        .span(24)
    )


def exporter_row(board: dash.Dashboard) -> dash.Dashboard:
    up_mapping = model.ValueMap(
        options={
            "0": model.ValueMappingResult(text="Down", color="red", index=0),
            "1": model.ValueMappingResult(text="Up", color="green", index=1),
        }
    )
    return (
        board.with_row(dash.Row("Exporter"))
        .with_panel(
            stat.Panel()
            .title("Targets")
            .description(
                "Whether the exporter's last sync of each target (account and region) worked. "
                "AwsBackupRestoreExporterTargetDown fires after 10 minutes down."
            )
            .datasource(DATASOURCE)
            .with_target(query(f"aws_backup_restore_exporter_target_up{{{TARGETS}}}", "{{target}}"))
            .mappings([up_mapping])
            .thresholds(thresholds((None, "red"), (1, "green")))
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .graph_mode(common.BigValueGraphMode.NONE)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
            .height(6)
            .span(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("AWS API requests")
            .description(
                "Requests to AWS Backup per second (retries included), by target, operation and "
                "outcome: what the exporter costs, and whether AWS throttles it."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(
                    "sum by (target, operation, outcome) ("
                    "rate(aws_backup_restore_exporter_api_requests_total[$__rate_interval]))",
                    "{{target}} {{operation}} {{outcome}}",
                )
            )
            .unit("reqps")
            .min(0)
            .height(6)
            .span(8)
        )
        .with_panel(
            timeseries.Panel()
            .title("Data age and scrape time")
            .description(
                "Age of each target's data (grows while AWS is slow or failing) and the time "
                "each scrape spent on the target."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"aws_backup_restore_exporter_target_data_age_seconds{{{TARGETS}}}",
                    "{{target}} data age",
                    "A",
                )
            )
            .with_target(
                query(
                    "aws_backup_restore_exporter_scrape_duration_seconds",
                    "{{target}} scrape",
                    "B",
                )
            )
            .unit("s")
            .min(0)
            .height(6)
            .span(8)
        )
        .with_panel(
            stat.Panel()
            .title("Sources")
            .description(
                "Whether each source of each target (restore_jobs, restore_testing, "
                "protected_resources) was read on its last run. A source down on an up target "
                "is usually a role without that source's permissions (docs/iam); "
                "AwsBackupRestoreExporterSourceDown fires after 15 minutes."
            )
            .datasource(DATASOURCE)
            .with_target(query("aws_backup_restore_exporter_source_up", "{{target}} {{source}}"))
            .mappings([up_mapping])
            .thresholds(thresholds((None, "red"), (1, "green")))
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .graph_mode(common.BigValueGraphMode.NONE)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
            .height(6)
            .span(8)
        )
        .with_panel(
            table.Panel()
            .title("Configured restore jobs that cannot be read")
            .description("restore_job_ids entries that DescribeRestoreJob could not read.")
            .datasource(DATASOURCE)
            .with_target(table_query("aws_backup_restore_exporter_restore_job_lookup_errors == 1"))
            .with_transformation(
                model.DataTransformerConfig(
                    id_val="organize",
                    options={"excludeByName": {"Time": True, "Value": True, "__name__": True}},
                )
            )
            .height(6)
            .span(8)
        )
        .with_panel(
            stat.Panel()
            .title("Exporter versions")
            .description("Exporters scraped, by version.")
            .datasource(DATASOURCE)
            .with_target(
                query("count by (version) (aws_backup_restore_exporter_build_info)", "{{version}}")
            )
            .color_mode(common.BigValueColorMode.NONE)
            .graph_mode(common.BigValueGraphMode.NONE)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
            .height(6)
            .span(8)
        )
    )


def build() -> dict[str, Any]:
    """The dashboard as the JSON-ready dict Grafana imports."""
    board = (
        dash.Dashboard("AWS Backup restores")
        .uid(UID)
        .description(
            "Restore jobs and restore testing from aws-backup-restore-exporter: status, progress, "
            "durations, validation and clean-up, failures, and the exporter's own health."
        )
        .tags(["aws", "aws-backup", "restore"])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .variables(variables())
        .link(
            dash.DashboardLink("Runbooks")
            .type(model.DashboardLinkType.LINK)
            .url(
                "https://github.com/aws-backup-restore-exporter/aws-backup-restore-exporter/"
                "blob/main/docs/runbooks.md"
            )
            .icon("doc")
            .target_blank(True)
        )
    )
    for add_row in (overview_row, jobs_row, restore_testing_row, failures_row, exporter_row):
        board = add_row(board)
    built = board.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    result: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    for variable in result["templating"]["list"]:
        # The SDK gives every variable the interval variable's settings: drop them elsewhere,
        # as Grafana does (and as @grafana/schema's VariableModel has no such keys).
        if variable["type"] != "interval":
            for key in INTERVAL_ONLY_KEYS:
                variable.pop(key, None)
    return result


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if {OUTPUT.name} is not what this generates"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
