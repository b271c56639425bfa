"""A realistic, seeded population of restore jobs for the benchmarks, and its churn over time.

``generate_jobs(N)``: created over the last 23 h; mostly COMPLETED, a few percent FAILED or
ABORTED, recent ones still PENDING or RUNNING, about a fifth restore tests at every stage of
validation and clean-up. ``JobChurn.tick()`` moves them along the way AWS would between two
scrapes: PENDING jobs start, RUNNING jobs progress and some finish, restore tests finish their
validation and then their clean-up, and new jobs arrive. Both are seeded: the same calls give the
same jobs, so every run and every exporter under test sees the same population.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from exporter.demo.fake_backup import lifecycle
from exporter.demo.fake_backup.fields import Job
from exporter.demo.fake_backup.sigv4 import DEFAULT_ACCOUNT_ID
from exporter.demo.fake_backup.store import RestoreJobStore

DEFAULT_REGION = "us-east-1"
_RESOURCE_TYPES = (
    ("EBS", 30), ("EC2", 20), ("RDS", 15), ("S3", 15), ("EFS", 10), ("DynamoDB", 5),
    ("Aurora", 5),
)  # fmt: skip
_FAILURES = (
    "Access denied while restoring the recovery point.",
    "The target subnet has no free IP addresses.",
    "Restore failed: the recovery point is being deleted.",
    "Insufficient capacity in the requested Availability Zone.",
)

_CLEANUP_FAILED = "Could not delete the restored resource."


def plan_arns(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[str]:
    """The restore testing plans the generated restore tests belong to."""
    prefix = f"arn:aws:backup:{region}:{account_id}:restore-testing-plan"
    names = ("daily", "weekly", "critical")
    return [f"{prefix}:plan-{name}-{n:04d}" for n, name in enumerate(names)]


def _stamp(value: float) -> float:
    return round(value, 3)  # AWS's precision


def new_job(rng: random.Random, created: float, status: str, account: str, region: str) -> Job:
    """One job of a random resource type, as StartRestoreJob leaves it plus what AWS fills in."""
    types, weights = zip(*_RESOURCE_TYPES, strict=True)
    resource_type = rng.choices(types, weights)[0]
    job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    short, kind = job_id.split("-")[0].lower(), resource_type.lower()
    vault = rng.randrange(4)
    job: Job = {
        "AccountId": account,
        "RestoreJobId": job_id,
        "RecoveryPointArn": f"arn:aws:backup:{region}:{account}:recovery-point:rp-{short}",
        "SourceResourceArn": f"arn:aws:{kind}:{region}:{account}:resource/{kind}-{short}",
        "BackupVaultArn": f"arn:aws:backup:{region}:{account}:backup-vault:vault-{vault}",
        "CreationDate": _stamp(created),
        "Status": status,
        "PercentDone": "0.00%",
        "BackupSizeInBytes": rng.randrange(1 << 20, 1 << 40),
        "IamRoleArn": f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole",
        "ExpectedCompletionTimeMinutes": rng.randrange(2, 120),
        "ResourceType": resource_type,
        "RecoveryPointCreationDate": _stamp(created - rng.uniform(3600, 7 * 86400)),
        "IsParent": False,
    }
    if rng.random() < 0.2:
        job["CreatedBy"] = {"RestoreTestingPlanArn": rng.choice(plan_arns(account, region))}
    return job


def _finish(job: Job, rng: random.Random, when: float) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.03:
        return lifecycle.failed(_stamp(when), rng.choice(_FAILURES))
    if roll < 0.04:
        return lifecycle.aborted(_stamp(when))
    changes = lifecycle.completed(_stamp(when), job["SourceResourceArn"] + "-restored")
    if lifecycle.is_restore_test(job):
        changes.update(lifecycle.validating())
    return changes


def _settle(job: Job, rng: random.Random, now: float, cleanup_after: float) -> dict[str, Any]:
    """A completed restore test ``now``: validated 20 min after completion; cleaned up from
    ``cleanup_after`` seconds after completion, for 10 min."""
    since, changes = now - job["CompletionDate"], {}
    if since >= 20 * 60:
        roll = rng.random()
        if roll < 0.95:
            changes.update(lifecycle.validated("SUCCESSFUL"))
        elif roll < 0.99:
            changes.update(lifecycle.validated("FAILED", "Validation script exited with status 1."))
        else:
            changes.update(lifecycle.validated("TIMED_OUT"))
    if since >= cleanup_after + 10 * 60:
        if rng.random() < 0.98:
            changes.update(lifecycle.cleaned_up("SUCCESSFUL"))
        else:
            changes.update(lifecycle.cleaned_up("FAILED", _CLEANUP_FAILED))
    elif since >= cleanup_after:
        changes.update(lifecycle.cleanup_started())
    return changes


def generate_jobs(
    count: int,
    now: float | None = None,
    seed: int = 0,
    spread_seconds: float = 23 * 3600,
    cleanup_after_seconds: float = 3600.0,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> list[Job]:
    """``count`` jobs created over the last ``spread_seconds`` (see the module docstring)."""
    now = time.time() if now is None else now
    rng = random.Random(f"{seed}/jobs/{count}")  # noqa: S311 (not crypto)
    jobs: list[Job] = []
    for _ in range(count):
        created = now - rng.uniform(30, spread_seconds)
        job = new_job(rng, created, "RUNNING", account_id, region)
        age, duration = now - created, rng.uniform(120, 3600)
        if age < 15 * 60 and rng.random() < 0.3:
            job["Status"] = "PENDING"
        elif created + duration >= now or (age < 2 * 3600 and rng.random() < 0.05):
            job.update(lifecycle.progressed(min(99.0, 100 * age / duration)))
        else:
            job.update(_finish(job, rng, created + duration))
            if lifecycle.is_restore_test(job) and job["Status"] == "COMPLETED":
                job.update(_settle(job, rng, now, cleanup_after_seconds))
        jobs.append({name: value for name, value in job.items() if value is not None})
    return jobs


def _advance(job: Job, rng: random.Random, now: float) -> dict[str, Any]:
    """What one tick changes in one job (nothing, for most finished ones)."""
    status = job["Status"]
    if status == "PENDING":
        return {"Status": "RUNNING"}
    if status == "RUNNING":
        done = lifecycle.percent_done(job) + rng.uniform(5, 30)
        if done >= 100 or rng.random() < 0.15:
            return _finish(job, rng, now)
        return lifecycle.progressed(done)
    if job.get("ValidationStatus") == "VALIDATING" and rng.random() < 0.3:
        return lifecycle.validated("SUCCESSFUL")
    if job.get("DeletionStatus") == "DELETING" and rng.random() < 0.5:
        return lifecycle.cleaned_up("SUCCESSFUL")
    return {}


class JobChurn:
    """Moves the jobs of one (account, region) of a store along, one ``tick()`` at a time."""

    def __init__(
        self,
        store: RestoreJobStore,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        seed: int = 0,
    ) -> None:
        self.store, self.account_id, self.region = store, account_id, region
        self.reset(seed)

    def reset(self, seed: int = 0) -> None:
        self.seed, self.ticks = seed, 0

    def tick(self, now: float | None = None, new_jobs: int = 3) -> int:
        """One step for every job, then ``new_jobs`` new PENDING ones; how many jobs changed."""
        now = time.time() if now is None else now
        self.ticks += 1
        rng = random.Random(f"{self.seed}/tick/{self.ticks}")  # noqa: S311 (not crypto)
        changed = 0
        jobs = self.store.jobs(self.account_id, self.region)
        for job in sorted(jobs, key=lambda job: str(job["RestoreJobId"])):
            changes = _advance(job, rng, now)
            if changes:
                self.store.update(self.account_id, self.region, job["RestoreJobId"], **changes)
                changed += 1
        for _ in range(new_jobs):
            job = new_job(rng, now - rng.uniform(0, 30), "PENDING", self.account_id, self.region)
            self.store.put(self.account_id, self.region, **job)
            changed += 1
        return changed
