"""A target's restore jobs as an immutable table: merged with each sync, expired with the window,
capped for exposure. Pure values and functions: no AWS, no clock, no locks.

A new sync's table is built beside the old one and swapped in whole, so a scrape that holds the
old table keeps a consistent view while the next sync runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from exporter.model import RestoreJob

EMPTY: Mapping[str, RestoreJob] = MappingProxyType({})


def in_window(job: RestoreJob, window_start: float) -> bool:
    """Jobs created in the lookback window, plus any still PENDING or RUNNING whatever its age."""
    if job.is_active:
        return True
    return job.creation_timestamp is not None and job.creation_timestamp >= window_start


@dataclass(frozen=True)
class JobTable:
    """Jobs by ID, and the lookup errors of configured job IDs."""

    jobs: Mapping[str, RestoreJob] = field(default_factory=lambda: EMPTY)
    lookup_errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def merged(
        self,
        fetched: Mapping[str, RestoreJob],
        lookup_errors: Mapping[str, str],
        configured: Collection[str],
        window_start: float,
    ) -> JobTable:
        """This table with a sync's results folded in.

        Fetched jobs replace known ones; a discovered job AWS no longer knows (not_found) and
        one that left the window are dropped; configured jobs are kept whatever their age.
        A configured ID's lookup error stays until the ID is read successfully.
        """
        jobs = dict(self.jobs)
        changed = False
        for job_id, job in fetched.items():
            # A job read again unchanged keeps its object: the exposition reuses a job's text
            # by identity (blocks.py), so re-reading finished jobs costs no re-rendering.
            if jobs.get(job_id) != job:
                jobs[job_id] = job
                changed = True
        for job_id, reason in lookup_errors.items():
            if reason == "not_found" and job_id not in configured and job_id in jobs:
                del jobs[job_id]
                changed = True
        for job_id in [i for i, job in jobs.items() if not in_window(job, window_start)]:
            if job_id not in configured:
                del jobs[job_id]
                changed = True
        errors = {
            job_id: reason
            for job_id, reason in {**self.lookup_errors, **lookup_errors}.items()
            if job_id in configured and job_id not in fetched
        }
        if not changed and errors == self.lookup_errors:
            return self  # the very same table: nothing downstream needs to look again
        return JobTable(MappingProxyType(jobs), MappingProxyType(errors))


def cap(
    jobs: Mapping[str, RestoreJob], limit: int, configured: Collection[str]
) -> tuple[Mapping[str, RestoreJob], int]:
    """The newest ``limit`` jobs, configured IDs first, and how many were left out."""
    if len(jobs) <= limit:
        return jobs, 0
    ranked = sorted(
        jobs.values(),
        key=lambda job: (job.restore_job_id in configured, job.creation_timestamp or 0.0),
        reverse=True,
    )
    kept = {job.restore_job_id: job for job in ranked[:limit]}
    return MappingProxyType(kept), len(jobs) - limit
