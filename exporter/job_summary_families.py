"""The restore-job-summary families: AWS's daily counts of restore jobs (ListRestoreJobSummaries)
by account, region, resource type and state, and the period they cover.

One object per target (its ``JobSummariesView``); a target without summaries, or whose first
refresh has not succeeded, has no series. The counts are AWS's and lag by up to a day (see
``job_summary_view``): the period's end timestamp says how recent they are.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.families import Family, Identity, RenderContext, Sample
from exporter.job_summary_view import JobSummariesView

BY_TARGET: Identity[JobSummariesView] = Identity(("target",), lambda view: (view.target,))


def _jobs(view: JobSummariesView, _: RenderContext) -> Iterator[Sample]:
    for count in view.counts:
        values = (count.account_id, count.region, count.resource_type, count.state)
        yield (*values, view.aggregation_period), count.jobs


def _period(view: JobSummariesView, value: float | None) -> Iterator[Sample]:
    if value is not None:
        yield (view.aggregation_period,), value


JOB_SUMMARY_FAMILIES: tuple[Family[JobSummariesView], ...] = (
    Family(
        "aws_backup_restore_job_summaries_jobs",
        "gauge",
        "Restore jobs AWS Backup counted in the latest period of ListRestoreJobSummaries (for "
        "ONE_DAY the latest full UTC day), by account, region, resource type and state; AWS "
        "computes them daily, so they lag. 0 for a combination AWS listed for an earlier day only.",
        ("target", "account_id", "region", "resource_type", "state", "aggregation_period"),
        _jobs,
        BY_TARGET,
    ),
    Family(
        "aws_backup_restore_job_summaries_period_start_timestamp_seconds",
        "gauge",
        "Start of the period the restore job summary counts cover (StartTime, Unix time).",
        ("target", "aggregation_period"),
        lambda view, _: _period(view, view.period_start),
        BY_TARGET,
    ),
    Family(
        "aws_backup_restore_job_summaries_period_end_timestamp_seconds",
        "gauge",
        "End of the period the restore job summary counts cover (EndTime, Unix time).",
        ("target", "aggregation_period"),
        lambda view, _: _period(view, view.period_end),
        BY_TARGET,
    ),
)
