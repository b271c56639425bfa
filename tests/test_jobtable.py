"""The job table as values: a sync's results merged in, the window expired, the exposure capped."""

from __future__ import annotations

import pytest

from exporter.jobtable import JobTable, cap
from exporter.model import RestoreJob
from tests.tables import cases

NOW = 1_800_000_000.0
WINDOW = NOW - 86_400.0


def job(job_id: str, age: float = 600.0, status: str = "COMPLETED", **fields: object) -> RestoreJob:
    data = {"RestoreJobId": job_id, "ResourceType": "EBS", "CreationDate": NOW - age,
            "Status": status, **fields}  # fmt: skip
    return RestoreJob.from_api(data, "us-east-1")


def table(*jobs: RestoreJob, errors: dict[str, str] | None = None) -> JobTable:
    return JobTable({j.restore_job_id: j for j in jobs}, errors or {})


MERGES = {
    "fetched jobs are added and replace what was known": (
        table(job("a"), job("b")), [job("b", status="FAILED"), job("c")], {}, (),
        {"a": "COMPLETED", "b": "FAILED", "c": "COMPLETED"}, {},
    ),
    "a discovered job AWS no longer knows is dropped": (
        table(job("a"), job("b")), [], {"b": "not_found"}, (), {"a": "COMPLETED"}, {},
    ),
    "a configured job AWS no longer knows stays, with its error": (
        table(job("a")), [], {"a": "not_found"}, ("a",), {"a": "COMPLETED"}, {"a": "not_found"},
    ),
    "jobs that left the window leave; configured ones stay whatever their age": (
        table(job("old", age=2 * 86_400), job("cfg", age=9 * 86_400), job("new")), [], {},
        ("cfg",), {"cfg": "COMPLETED", "new": "COMPLETED"}, {},
    ),
    "a job still running stays whatever its age": (
        table(job("slow", age=5 * 86_400, status="RUNNING")), [], {}, (), {"slow": "RUNNING"}, {},
    ),
    "a lookup error stays until the ID is read": (
        table(errors={"x": "throttled", "y": "not_found"}), [job("x")], {}, ("x", "y"),
        {"x": "COMPLETED"}, {"y": "not_found"},
    ),
    "lookup errors are kept for configured IDs only": (
        table(), [], {"a": "invalid", "b": "invalid"}, ("a",), {}, {"a": "invalid"},
    ),
}  # fmt: skip


@cases(("before", "fetched", "errors", "configured", "statuses", "kept_errors"), MERGES)
def test_merged(before, fetched, errors, configured, statuses, kept_errors):
    fetched_by_id = {j.restore_job_id: j for j in fetched}
    after = before.merged(fetched_by_id, errors, configured, WINDOW)
    assert {job_id: j.status for job_id, j in after.jobs.items()} == statuses
    assert dict(after.lookup_errors) == kept_errors


def test_merging_leaves_the_old_table_as_it_was_and_the_new_one_is_read_only():
    before = table(job("a"))
    after = before.merged({"b": job("b")}, {"a": "not_found"}, (), WINDOW)
    assert set(before.jobs) == {"a"}
    assert set(after.jobs) == {"b"}
    with pytest.raises(TypeError):
        after.jobs["c"] = job("c")  # type: ignore[index]


def test_cap_keeps_configured_jobs_first_then_the_newest():
    jobs = {j.restore_job_id: j for j in [job(f"j{i}", age=60.0 * i) for i in range(1, 7)]}
    exposed, dropped = cap(jobs, 3, configured=("j6",))
    assert set(exposed) == {"j6", "j1", "j2"}
    assert dropped == 3


def test_cap_within_the_limit_changes_nothing():
    jobs = {"a": job("a"), "b": job("b")}
    exposed, dropped = cap(jobs, 2, configured=())
    assert exposed is jobs
    assert dropped == 0


def test_a_job_read_again_unchanged_keeps_its_object_and_the_table_stays():
    # the block cache reuses a job's rendered text while the job is the same object: a sync
    # that re-reads finished jobs must not make every scrape render them again
    known = table(job("a"), job("b"))
    same = known.merged({"a": job("a"), "b": job("b")}, {}, (), WINDOW)
    assert same is known
    changed = known.merged({"a": job("a"), "b": job("b", status="FAILED")}, {}, (), WINDOW)
    assert changed is not known
    assert changed.jobs["a"] is known.jobs["a"]
    assert changed.jobs["b"].status == "FAILED"
    gone = known.merged({}, {"b": "not_found"}, (), WINDOW)
    assert set(gone.jobs) == {"a"}
