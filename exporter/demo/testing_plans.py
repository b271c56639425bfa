"""The demo's two restore testing plans per region, their selections, and their runs.

The fake AWS Backup runs no schedules; this module does it for the demo, on the scenario's
injected clock. Both plans are daily; times are UTC (the plans' Etc/UTC). With S the healthy
plan's latest scheduled start (the latest 05:00 at or before the seed time):

- ``HEALTHY_PLAN`` (demo_daily_restore_test): ``cron(0 5 ? * * *)``, StartWindowHours 24 (AWS's
  default); selections demo_ebs_volumes (EBS, one volume) and demo_rds_databases (RDS, one
  database). LastExecutionTime is S, and for each of EBS and RDS a restore job it created at S
  COMPLETED (within 20 minutes, or half the time since S if less) with ValidationStatus and
  DeletionStatus SUCCESSFUL. Whenever the clock passes its next 05:00 it runs again (``due``):
  LastExecutionTime that start, and new PENDING EBS and RDS restore jobs.
- ``MISSED_PLAN`` (demo_missed_restore_test): daily at the minute three hours before the seed
  time, StartWindowHours 1; one selection, demo_s3_buckets (S3, by tag). Its latest scheduled
  start M is three hours before the seed (its window closed two hours before), LastExecutionTime
  is M minus two days (that run's one S3 restore job completed and validated), and it never runs
  again. So at any time of day, and however long the demo runs, its latest scheduled start whose
  start window has closed is later than its LastExecutionTime: it missed its last run.

ARNs are ``arn:aws:backup:{region}:{account}:restore-testing-plan:{name}-{id}`` with a 6-char ID
fixed per account, region and name (``plan_arn``), so a restarted demo keeps them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from exporter.demo.arns import resource_arns
from exporter.demo.fake_backup.store import RestoreJobStore
from exporter.demo.fake_backup.testing_rules import PLAN_ID_LENGTH, mint_plan_arn

HEALTHY_PLAN = "demo_daily_restore_test"
MISSED_PLAN = "demo_missed_restore_test"
HEALTHY_SCHEDULE = "cron(0 5 ? * * *)"
MISSED_START_WINDOW_HOURS = 1
MISSED_BY_DAYS = 2  # the missed plan last ran this many days before its latest scheduled start
_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0
HEALTHY_AT = 5 * _HOUR  # seconds after midnight UTC of HEALTHY_SCHEDULE's start
MISSED_BEFORE_SEED = 3 * _HOUR
RUN_MINUTES = 20
# Protected resources the plans restore, by the key their ARNs derive from (arns.resource_arns).
VOLUME_KEY, DATABASE_KEY, BUCKET_KEY = "demo-orders-volume", "demo-orders-db", "demo-archive"
SCHEDULED_JOB_IDS = ("demo-test-ebs-scheduled", "demo-test-rds-scheduled")
MISSED_RUN_JOB_ID = "demo-test-s3-missed-plan"
_DONE = {"Status": "COMPLETED", "ValidationStatus": "SUCCESSFUL", "DeletionStatus": "SUCCESSFUL"}
_TAGGED = {"StringEquals": [{"Key": "restore-test", "Value": "weekly"}]}


def plan_arn(account_id: str, region: str, name: str) -> str:
    """A demo plan's ARN, its ID fixed per account, region and name."""
    digest = hashlib.sha256(f"{account_id}:{region}:{name}".encode()).hexdigest()
    return mint_plan_arn(account_id, region, name, digest[:PLAN_ID_LENGTH])


def latest_start(now: float, at: float) -> float:
    """The latest start of a daily schedule ``at`` seconds after midnight UTC, at or before
    ``now`` (epoch seconds)."""
    return (now - at) // _DAY * _DAY + at


def _daily_cron(at: float) -> str:
    minutes = int(at // _MINUTE)
    return f"cron({minutes % 60} {minutes // 60} ? * * *)"


@dataclass(frozen=True)
class PlanJob:
    """A restore job a plan created, for the scenario to store (it adds the ARNs and sizes)."""

    job_id: str
    resource_type: str
    created: float
    source_key: str  # what it restores: the key of the source's ARN
    fields: dict[str, Any] = field(default_factory=dict)


class DemoPlans:
    """The two plans of one region in ``store`` (see the module docstring)."""

    def __init__(self, store: RestoreJobStore, account_id: str, region: str) -> None:
        self.store, self.account_id, self.region = store, account_id, region
        self.healthy_arn = plan_arn(account_id, region, HEALTHY_PLAN)
        self.missed_arn = plan_arn(account_id, region, MISSED_PLAN)
        self._next_run = 0.0
        self._runs = 0

    def _source(self, resource_type: str, key: str) -> str:
        return resource_arns(resource_type, self.account_id, self.region, key)[1]

    def seed(self, now: float) -> list[PlanJob]:
        """Both plans and their selections, as the module docstring says; returns the restore
        jobs of their latest runs."""
        testing, account, region = self.store.testing, self.account_id, self.region
        created = now - 30 * _DAY
        missed_at = (now - MISSED_BEFORE_SEED) % _DAY // _MINUTE * _MINUTE
        for name, arn, fields in (
            (HEALTHY_PLAN, self.healthy_arn, {"ScheduleExpression": HEALTHY_SCHEDULE}),
            (MISSED_PLAN, self.missed_arn, {"ScheduleExpression": _daily_cron(missed_at),
                                            "StartWindowHours": MISSED_START_WINDOW_HOURS}),
        ):  # fmt: skip
            testing.put_plan(
                account, region, RestoreTestingPlanName=name, RestoreTestingPlanArn=arn,
                CreationTime=created, **fields,
            )  # fmt: skip
        for plan, name, resource_type, extra in (
            (HEALTHY_PLAN, "demo_ebs_volumes", "EBS",
             {"ProtectedResourceArns": [self._source("EBS", VOLUME_KEY)]}),
            (HEALTHY_PLAN, "demo_rds_databases", "RDS",
             {"ProtectedResourceArns": [self._source("RDS", DATABASE_KEY)],
              "ValidationWindowHours": 2}),
            (MISSED_PLAN, "demo_s3_buckets", "S3",
             {"ProtectedResourceArns": ["*"], "ProtectedResourceConditions": _TAGGED}),
        ):  # fmt: skip
            testing.put_selection(
                account, region, plan, RestoreTestingSelectionName=name,
                ProtectedResourceType=resource_type, CreationTime=created, **extra,
            )  # fmt: skip
        healthy = latest_start(now, HEALTHY_AT)
        missed = latest_start(now, missed_at) - MISSED_BY_DAYS * _DAY
        testing.set_last_execution(account, region, HEALTHY_PLAN, healthy)
        testing.set_last_execution(account, region, MISSED_PLAN, missed)
        self._next_run, self._runs = healthy + _DAY, 0
        took = min(RUN_MINUTES * _MINUTE, (now - healthy) / 2)
        return [
            self._job(SCHEDULED_JOB_IDS[0], "EBS", VOLUME_KEY, healthy, self.healthy_arn,
                      {**_DONE, "CompletionDate": healthy + took}),
            self._job(SCHEDULED_JOB_IDS[1], "RDS", DATABASE_KEY, healthy, self.healthy_arn,
                      {**_DONE, "CompletionDate": healthy + took}),
            self._job(MISSED_RUN_JOB_ID, "S3", BUCKET_KEY, missed, self.missed_arn,
                      {**_DONE, "CompletionDate": missed + RUN_MINUTES * _MINUTE}),
        ]  # fmt: skip

    @staticmethod
    def _job(
        job_id: str,
        resource_type: str,
        key: str,
        created: float,
        arn: str,
        fields: dict[str, Any] | None = None,
    ) -> PlanJob:
        created_by = {"CreatedBy": {"RestoreTestingPlanArn": arn}}
        return PlanJob(job_id, resource_type, created, key, {**created_by, **(fields or {})})

    def due(self, now: float) -> list[PlanJob]:
        """The healthy plan's runs whose start ``now`` has passed since the last call: each sets
        LastExecutionTime to its start and brings new PENDING EBS and RDS jobs (created now)."""
        jobs: list[PlanJob] = []
        while self._next_run and now >= self._next_run:
            start, self._next_run = self._next_run, self._next_run + _DAY
            self._runs += 1
            self.store.testing.set_last_execution(self.account_id, self.region, HEALTHY_PLAN, start)
            for resource_type, key in (("EBS", VOLUME_KEY), ("RDS", DATABASE_KEY)):
                job_id = f"demo-test-{resource_type.lower()}-daily-{self._runs:04d}"
                jobs.append(self._job(job_id, resource_type, key, now, self.healthy_arn))
        return jobs
