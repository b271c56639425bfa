"""Protected resources per (account, region): what DescribeProtectedResource and
ListProtectedResources answer, and the helpers that put them there.

A protected resource is stored with the members of DescribeProtectedResourceOutput that describe
its backups (ResourceArn, ResourceType, ResourceName, LastBackupTime, LastBackupVaultArn,
LastRecoveryPointArn), set by whoever seeds it: the fake makes no backups. The three members
about restores are derived, on every read, from the restore jobs in the job store whose
SourceResourceArn is the resource, as the model's documentation words them:
- LatestRestoreJobCreationDate: "the creation date of the most recent restore job" (any status);
- LatestRestoreRecoveryPointCreationDate: the RecoveryPointCreationDate of that same job;
- LatestRestoreExecutionTimeMinutes: "the time, in minutes, that the most recent restore job
  took to complete": of the most recent COMPLETED job, CompletionDate - CreationDate rounded up
  to whole minutes (a job still running has taken no time to complete yet).
A resource without restore jobs has none of the three. ListProtectedResources' members
(ProtectedResource) have none of them either; it lists resources by ARN.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from exporter.demo.fake_backup.records import Record, copied, normalised
from exporter.demo.fake_backup.regions import Regions

if TYPE_CHECKING:
    from exporter.demo.fake_backup.fields import Job
    from exporter.demo.fake_backup.store import RestoreJobStore

DESCRIBED = "DescribeProtectedResourceOutput"
DERIVED = (
    "LatestRestoreJobCreationDate",
    "LatestRestoreExecutionTimeMinutes",
    "LatestRestoreRecoveryPointCreationDate",
)


def restore_fields(latest: Job | None, completed: Job | None) -> Record:
    """The derived members, from the newest restore job of a resource and its newest COMPLETED
    one (see the module docstring)."""
    fields: Record = {}
    if latest is not None:
        fields["LatestRestoreJobCreationDate"] = latest["CreationDate"]
        if latest.get("RecoveryPointCreationDate") is not None:
            fields["LatestRestoreRecoveryPointCreationDate"] = latest["RecoveryPointCreationDate"]
    if completed is not None and completed.get("CompletionDate") is not None:
        took = (completed["CompletionDate"] - completed["CreationDate"]).total_seconds()
        fields["LatestRestoreExecutionTimeMinutes"] = max(0, math.ceil(took / 60))
    return fields


class ProtectedResourceStore(Regions[dict[str, Record]]):
    """Protected resources of every (account, region), each a table by ARN; restore fields
    read from ``jobs``. Every method returns copies."""

    def __init__(self, jobs: RestoreJobStore) -> None:
        super().__init__(dict)
        self._jobs = jobs

    def put(self, account_id: str, region: str, **fields: Any) -> str:
        """Create or replace a resource from members of DescribeProtectedResourceOutput (the
        derived ones excepted: TypeError); ResourceArn is required. Returns the ARN."""
        derived = sorted(set(fields) & set(DERIVED))
        if derived:
            raise TypeError(f"{derived[0]} is derived from the restore jobs, not stored")
        record = normalised(DESCRIBED, fields)
        if "ResourceArn" not in record:
            raise TypeError("ResourceArn is required")
        with self._lock:
            self._region(account_id, region)[record["ResourceArn"]] = record
        return str(record["ResourceArn"])

    def update(self, account_id: str, region: str, resource_arn: str, **fields: Any) -> None:
        """Change some fields of a stored resource (KeyError if there is none); ``None``
        removes one. ResourceArn cannot change."""
        if "ResourceArn" in fields:
            raise TypeError("ResourceArn cannot change")
        with self._lock:
            table = self._region(account_id, region)
            merged = {**table[resource_arn], **fields, "ResourceArn": resource_arn}
            self.put(account_id, region, **merged)

    def delete(self, account_id: str, region: str, resource_arn: str) -> None:
        """Forget one resource; no error if it is gone already."""
        with self._lock:
            self._region(account_id, region).pop(resource_arn, None)

    def get(self, account_id: str, region: str, resource_arn: str) -> Record | None:
        """The stored fields of one resource (without the derived ones)."""
        with self._lock:
            found = self._region(account_id, region).get(resource_arn)
            return None if found is None else copy.deepcopy(found)

    def describe(self, account_id: str, region: str, resource_arn: str) -> Record | None:
        """DescribeProtectedResource: the stored fields and the derived ones."""
        record = self.get(account_id, region, resource_arn)
        if record is None:
            return None

        def restored(job: Job) -> bool:
            return job.get("SourceResourceArn") == resource_arn

        def completed(job: Job) -> bool:
            return restored(job) and job.get("Status") == "COMPLETED"

        latest = self._jobs.newest(account_id, region, restored)
        done = self._jobs.newest(account_id, region, completed)
        return record | restore_fields(latest, done)

    def resources(self, account_id: str, region: str) -> list[Record]:
        """Every resource of the region (stored fields), by ARN."""
        with self._lock:
            table = self._region(account_id, region)
            return copied(table[arn] for arn in sorted(table))
