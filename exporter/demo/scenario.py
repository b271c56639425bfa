"""The demo's restore jobs: a seeded population in every state, and a ``tick()`` that moves it on;
and its restore testing plans (``testing_plans``) and protected resources.

Pure logic on a ``RestoreJobStore`` (no HTTP, no threads, no sleeping): the clock is injected,
random choices come from a seeded generator and state changes count ticks, so tests replay the
scenario exactly. The endpoint serves the store and calls ``tick()`` every few seconds.

Promises that tests, dashboards and alert-rule demos rely on:
- every Status, ValidationStatus and DeletionStatus of the model is present right after seeding;
- ``STABLE_FAILED_JOB_ID`` (and the FAILED restore test) never change, so an alert can fire;
- a running job moves at least ``MIN_STEP`` percent per tick and, while the clock moves, finishes
  before three quarters of its ExpectedCompletionTimeMinutes (counted from CreationDate);
- restore tests go COMPLETED -> validation VALIDATING -> SUCCESSFUL (every third new one
  TIMED_OUT) -> deletion DELETING -> SUCCESSFUL.

Restore testing (times UTC; S is the latest 05:00 at or before the seed time):
- two plans per region, ARNs ``arn:aws:backup:{region}:{account}:restore-testing-plan:{name}-
  {6 chars}``, fixed per account, region and name: ``restore_testing_plan_arn`` (healthy) and
  ``missed_restore_testing_plan_arn``;
- the healthy plan, demo_daily_restore_test, ``cron(0 5 ? * * *)`` with StartWindowHours 24, has
  selections for EBS and RDS; its LastExecutionTime is S, and ``PLAN_RUN_JOB_IDS``' EBS and RDS
  jobs, created by it at S, are COMPLETED by the seed time with ValidationStatus and
  DeletionStatus SUCCESSFUL. Each 05:00 the clock passes it runs again: LastExecutionTime that
  start, and new EBS and RDS restore tests that end validated SUCCESSFUL. Every other restore
  test of the scenario (``SEED_JOBS``' and the ticker's) names this plan too;
- the missed plan, demo_missed_restore_test, runs daily at the minute three hours before the seed
  time with StartWindowHours 1, and never runs during the demo. Its LastExecutionTime (and its
  one restore job, ``MISSED_PLAN_JOB_ID``, completed and validated) is its latest scheduled start
  minus two days. So whatever the time of day, and however long the demo runs, its latest
  scheduled start whose start window has closed is later than its LastExecutionTime (by a day
  at the least): it missed its last run;
- the source (SourceResourceArn) of every restore job is a protected resource, its LastBackupTime
  the job's RecoveryPointCreationDate (the latest of them, for a resource restored again).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

from exporter.demo.arns import resource_arns, resource_name
from exporter.demo.fake_backup import lifecycle
from exporter.demo.fake_backup.fields import Job
from exporter.demo.fake_backup.store import RestoreJobStore
from exporter.demo.testing_plans import (
    HEALTHY_PLAN,
    MISSED_PLAN,
    MISSED_RUN_JOB_ID,
    SCHEDULED_JOB_IDS,
    DemoPlans,
    PlanJob,
    plan_arn,
)

RESOURCE_TYPES = ("EBS", "RDS", "S3", "DynamoDB", "EFS", "Aurora")
STABLE_FAILED_JOB_ID = "demo-rds-failed"
OLD_COMPLETED_JOB_ID = "demo-s3-old-completed"  # three days old: outside a 24 h window
UNKNOWN_JOB_ID = "demo-unknown-job"  # never exists: for the exporter's lookup errors
PLAN_RUN_JOB_IDS = SCHEDULED_JOB_IDS  # the healthy plan's seeded run: EBS, RDS
MISSED_PLAN_JOB_ID = MISSED_RUN_JOB_ID  # the missed plan's last run, two days before

MIN_STEP = 1.0  # percent a running job moves on every tick, even when the clock stands still
PENDING_TICKS = 2  # ticks a new job waits before it runs
VALIDATING_TICKS = 3
DELETING_TICKS = 2
NEW_JOB_EVERY = 6  # ticks between new jobs
KEEP_GENERATED = 24  # new jobs kept; older ones are dropped so a long demo stays small

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0

_TIMED_OUT = "Validation did not finish within the validation window of 1 hour."
_RUNNING: dict[str, Any] = {"Status": "RUNNING"}

# Per region: job ID, resource type, age in seconds, minutes it ran (None: not finished),
# restore test?, other fields. Every Status, ValidationStatus and DeletionStatus appears.
SEED_JOBS: tuple[tuple[str, str, float, float | None, bool, dict[str, Any]], ...] = (
    ("demo-ebs-pending", "EBS", _MINUTE, None, False, {}),
    ("demo-rds-running", "RDS", 4 * _MINUTE, None, False,
     _RUNNING | {"PercentDone": "37.50%", "ExpectedCompletionTimeMinutes": 12}),
    ("demo-efs-running", "EFS", _MINUTE, None, False,
     _RUNNING | {"PercentDone": "5.00%", "ExpectedCompletionTimeMinutes": 20}),
    ("demo-s3-completed", "S3", 3 * _HOUR, 40, False, {}),
    (OLD_COMPLETED_JOB_ID, "S3", 3 * _DAY, 55, False, {}),
    ("demo-ebs-aborted", "EBS", 2 * _HOUR, 5, False,
     {"Status": "ABORTED", "StatusMessage": "Restore job was canceled by a user."}),
    (STABLE_FAILED_JOB_ID, "RDS", 5 * _HOUR, 2, False,
     {"Status": "FAILED", "StatusMessage": "IAM role AWSBackupDefaultServiceRole is not "
      "authorized to perform: rds:RestoreDBInstanceFromDBSnapshot"}),
    ("demo-aurora-parent", "Aurora", 8 * _HOUR, 70, False, {"IsParent": True}),
    ("demo-aurora-child", "Aurora", 8 * _HOUR, 65, False,
     {"IsParent": False, "ParentJobId": "demo-aurora-parent"}),
    ("demo-test-ebs-running", "EBS", 2 * _MINUTE, None, True,
     _RUNNING | {"PercentDone": "62.50%", "ExpectedCompletionTimeMinutes": 8}),
    ("demo-test-efs-validating", "EFS", 30 * _MINUTE, 20, True,
     {"ValidationStatus": "VALIDATING"}),
    ("demo-test-s3-deleting", "S3", _HOUR, 30, True,
     {"ValidationStatus": "SUCCESSFUL", "DeletionStatus": "DELETING"}),
    ("demo-test-dynamodb-done", "DynamoDB", 4 * _HOUR, 25, True,
     {"ValidationStatus": "SUCCESSFUL", "DeletionStatus": "SUCCESSFUL"}),
    ("demo-test-rds-timed-out", "RDS", 6 * _HOUR, 35, True,
     {"ValidationStatus": "TIMED_OUT", "ValidationStatusMessage": _TIMED_OUT,
      "DeletionStatus": "SUCCESSFUL"}),
    ("demo-test-aurora-validation-failed", "Aurora", 7 * _HOUR, 50, True,
     {"ValidationStatus": "FAILED",
      "ValidationStatusMessage": "Validation script exited with status 1: table orders is empty.",
      "DeletionStatus": "FAILED",
      "DeletionStatusMessage": "The restored DB cluster has deletion protection enabled."}),
)  # fmt: skip


def restore_testing_plan_arn(account_id: str, region: str) -> str:
    """The ARN of the demo's healthy restore testing plan, which every seeded restore test and
    every one the ticker starts belongs to."""
    return plan_arn(account_id, region, HEALTHY_PLAN)


def missed_restore_testing_plan_arn(account_id: str, region: str) -> str:
    """The ARN of the demo's restore testing plan that missed its last run."""
    return plan_arn(account_id, region, MISSED_PLAN)


class DemoScenario:
    """One region's demo jobs in ``store`` (a store of its own unless given). Not thread-safe by
    itself: one thread calls ``tick()``; the store's lock covers the server's reads."""

    def __init__(
        self,
        account_id: str,
        region: str,
        now: Callable[[], float] = time.time,
        seed: int = 0,
        store: RestoreJobStore | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.now = now
        self.store = store if store is not None else RestoreJobStore()
        self.plans = DemoPlans(self.store, account_id, region)
        self.plan_arn = self.plans.healthy_arn
        self._seed = seed
        self._reset_state()

    def _reset_state(self) -> None:
        self._random = random.Random(f"{self._seed}:{self.region}")  # noqa: S311 (not crypto)
        self._last = self.now()
        self._ticks = 0
        self._sequence = 0
        self._phase_ticks: dict[str, int] = {}  # job ID -> ticks in its current phase
        self._fate: dict[str, str] = {}  # job ID -> "FAILED" (restore) or "TIMED_OUT" (test)
        self._generated: list[str] = []
        self._own_sources: dict[str, str] = {}  # generated job ID -> the resource only it restores

    def _put(
        self,
        job_id: str,
        resource_type: str,
        created: float,
        source_key: str | None = None,
        **fields: Any,
    ) -> str:
        """Store a job, and its source as a protected resource; returns the source's ARN."""
        recovery, _, restored = resource_arns(resource_type, self.account_id, self.region, job_id)
        source = resource_arns(resource_type, self.account_id, self.region, source_key or job_id)[1]
        if fields.get("Status") == "COMPLETED":
            fields.setdefault("CreatedResourceArn", restored)
            fields.setdefault("BackupSizeInBytes", self._random.randint(1, 400) * 2**28)
        vault = f"arn:aws:backup:{self.region}:{self.account_id}:backup-vault:Default"
        self.store.put(
            self.account_id,
            self.region,
            RestoreJobId=job_id,
            ResourceType=resource_type,
            RecoveryPointArn=recovery,
            SourceResourceArn=source,
            BackupVaultArn=vault,
            IamRoleArn=f"arn:aws:iam::{self.account_id}:role/service-role/"
            "AWSBackupDefaultServiceRole",
            CreationDate=created,
            RecoveryPointCreationDate=created - 6 * _HOUR,
            **fields,
        )
        self._protect(resource_type, source, recovery, vault, created - 6 * _HOUR)
        return source

    def _protect(
        self, resource_type: str, arn: str, recovery: str, vault: str, backed_up: float
    ) -> None:
        """The resource a job restores, protected by its latest backup (the job's recovery
        point, unless one stored already is newer)."""
        stored = self.store.protected.get(self.account_id, self.region, arn) or {}
        if "LastBackupTime" in stored and stored["LastBackupTime"].timestamp() >= backed_up:
            return
        self.store.protected.put(
            self.account_id,
            self.region,
            ResourceArn=arn,
            ResourceType=resource_type,
            ResourceName=resource_name(arn),
            LastBackupTime=backed_up,
            LastRecoveryPointArn=recovery,
            LastBackupVaultArn=vault,
        )

    def _put_plan_job(self, job: PlanJob) -> None:
        self._put(job.job_id, job.resource_type, job.created, job.source_key, **job.fields)

    def seed(self) -> None:
        """Replace the region's jobs, plans and protected resources with the demo's: the
        ``SEED_JOBS`` population, and the restore testing plans of ``testing_plans``."""
        self.store.clear(self.account_id, self.region)
        self._reset_state()
        for job_id, resource_type, age, ran_minutes, is_test, fields in SEED_JOBS:
            created, extra = self._last - age, dict(fields)
            if ran_minutes is not None:
                extra.setdefault("Status", "COMPLETED")
                extra["CompletionDate"] = created + ran_minutes * _MINUTE
            if is_test:
                extra["CreatedBy"] = {"RestoreTestingPlanArn": self.plan_arn}
            self._put(job_id, resource_type, created, **extra)
        for job in self.plans.seed(self._last):
            self._put_plan_job(job)

    def tick(self) -> None:
        """Advance every job one step, start a new job every ``NEW_JOB_EVERY`` ticks, and run
        the healthy restore testing plan when its scheduled start has come."""
        now = self.now()
        elapsed, self._last = max(0.0, now - self._last), now
        self._ticks += 1
        for job in self.store.jobs(self.account_id, self.region):
            self._advance(job, now, elapsed)
        if self._ticks % NEW_JOB_EVERY == 0:
            self._start_new_job(now)
        for planned in self.plans.due(now):
            self._put_plan_job(planned)
            self._keep(planned.job_id)

    def _update(self, job_id: str, **fields: Any) -> None:
        """Change a job and start counting its new phase."""
        self.store.update(self.account_id, self.region, job_id, **fields)
        self._phase_ticks[job_id] = 0

    def _advance(self, job: Job, now: float, elapsed: float) -> None:
        job_id, status = job["RestoreJobId"], job["Status"]
        ticks = self._phase_ticks[job_id] = self._phase_ticks.get(job_id, 0) + 1
        if status == "PENDING" and ticks >= PENDING_TICKS:
            created = job["CreationDate"].timestamp()
            duration = self._random.randint(2, 6) * _MINUTE  # planned run time from now
            expected = math.ceil((now - created + duration) / _MINUTE / 0.75)
            self._update(job_id, **lifecycle.running(expected))
        elif status == "RUNNING":
            self._run(job, now, elapsed)
        elif status == "COMPLETED" and lifecycle.is_restore_test(job):
            validation, deletion = job.get("ValidationStatus"), job.get("DeletionStatus")
            if validation is None:
                self._update(job_id, **lifecycle.validating())
            elif validation == "VALIDATING" and ticks >= VALIDATING_TICKS:
                if self._fate.get(job_id) == "TIMED_OUT":
                    result = lifecycle.validated("TIMED_OUT", _TIMED_OUT)
                else:
                    result = lifecycle.validated("SUCCESSFUL")
                self._update(job_id, **result, **lifecycle.cleanup_started())
            elif deletion == "DELETING" and ticks >= DELETING_TICKS:
                self._update(job_id, **lifecycle.cleaned_up("SUCCESSFUL"))

    def _run(self, job: Job, now: float, elapsed: float) -> None:
        """Progress on a straight line to the job's target time, and at least MIN_STEP."""
        job_id = job["RestoreJobId"]
        percent = lifecycle.percent_done(job)
        target = job["CreationDate"].timestamp() + 0.75 * _MINUTE * job.get(
            "ExpectedCompletionTimeMinutes", 60
        )
        # The previous tick was at now - elapsed: before the target unless now is past it.
        step = 100.0 if now >= target else (100.0 - percent) * elapsed / (target - now + elapsed)
        percent = min(100.0, percent + max(MIN_STEP, step))
        if self._fate.get(job_id) == "FAILED" and percent >= 50.0:
            message = "Restore failed: the target subnet has no free IP addresses."
            self._update(job_id, **lifecycle.failed(now, message))
        elif percent >= 100.0:
            restored = resource_arns(job["ResourceType"], self.account_id, self.region, job_id)[2]
            size = self._random.randint(1, 400) * 2**28
            self._update(job_id, **lifecycle.completed(now, restored, size))
        else:
            self.store.update(self.account_id, self.region, job_id, **lifecycle.progressed(percent))

    def _start_new_job(self, now: float) -> None:
        """A new PENDING job, cycling through resource types; every other one a restore test."""
        self._sequence += 1
        resource_type = RESOURCE_TYPES[self._sequence % len(RESOURCE_TYPES)]
        is_test = self._sequence % 2 == 0
        kind = "test-" if is_test else ""
        job_id = f"demo-{kind}{resource_type.lower()}-{self._sequence:04d}"
        if is_test and self._sequence % 3 == 0:
            self._fate[job_id] = "TIMED_OUT"
        elif not is_test and self._sequence % 5 == 0:
            self._fate[job_id] = "FAILED"
        plan = {"RestoreTestingPlanArn": self.plan_arn} if is_test else None
        self._own_sources[job_id] = self._put(job_id, resource_type, now, CreatedBy=plan)
        self._keep(job_id)

    def _keep(self, job_id: str) -> None:
        """Count a new job among the kept ones; drop the oldest beyond KEEP_GENERATED (by the
        time a job is KEEP_GENERATED * NEW_JOB_EVERY ticks old it has long finished)."""
        self._generated.append(job_id)
        while len(self._generated) > KEEP_GENERATED:
            old = self._generated.pop(0)
            self.store.delete(self.account_id, self.region, old)
            self._phase_ticks.pop(old, None)
            self._fate.pop(old, None)
            source = self._own_sources.pop(old, None)
            if source is not None:
                self.store.protected.delete(self.account_id, self.region, source)
