"""Query planning as tables: (what the exporter knows, now) -> the requests one sync makes.

No server and no clock: planning is pure, so every rule of the incremental sync is one row.
"""

from __future__ import annotations

import pytest

from exporter.config import DiscoveryConfig, TargetConfig
from exporter.model import RestoreJob
from exporter.planning import (
    SyncState,
    describe_candidates,
    is_full_sync_due,
    plan_queries,
)
from tests.tables import cases

NOW = 1_800_000_000.0
DAY = 86_400.0
MARGIN = 300.0
WINDOW = NOW - DAY
PLAN_A = "arn:aws:backup:us-east-1:111122223333:restore-testing-plan:a"
PLAN_B = "arn:aws:backup:us-east-1:111122223333:restore-testing-plan:b"


def job(job_id: str, **fields: object) -> RestoreJob:
    data = {"RestoreJobId": job_id, "ResourceType": "EBS", "CreationDate": NOW - 7200, **fields}
    return RestoreJob.from_api(data, "us-east-1")


def known(*jobs: RestoreJob) -> dict[str, RestoreJob]:
    return {j.restore_job_id: j for j in jobs}


def restore_test(job_id: str, plan: str, completed: float, **fields: object) -> RestoreJob:
    defaults = {"ValidationStatus": "SUCCESSFUL", "DeletionStatus": "DELETING"}
    return job(
        job_id,
        Status="COMPLETED",
        CompletionDate=completed,
        CreatedBy={"RestoreTestingPlanArn": plan},
        **{**defaults, **fields},
    )


FULL = [
    {"ByCreatedAfter": WINDOW},
    {"ByStatus": "RUNNING", "ByCreatedBefore": WINDOW},
    {"ByStatus": "PENDING", "ByCreatedBefore": WINDOW},
]
AFTER_A_MINUTE = [
    {"ByCreatedAfter": NOW - 60 - MARGIN},
    {"ByCompleteAfter": NOW - 60 - MARGIN},
    {"ByStatus": "RUNNING"},
    {"ByStatus": "PENDING"},
]

PLANS = {
    "first sync: the whole window, and active jobs older than it": (
        DiscoveryConfig(), SyncState(), {}, False, FULL, None,
    ),
    "a full resync ignores the watermark": (
        DiscoveryConfig(), SyncState(watermark=NOW - 60), {}, True, FULL, None,
    ),
    "incremental: created or completed since the last sync less the margin, and every active": (
        DiscoveryConfig(), SyncState(watermark=NOW - 60), {}, False, AFTER_A_MINUTE, None,
    ),
    "incremental never reaches back past the window": (
        DiscoveryConfig(), SyncState(watermark=NOW - 3 * DAY), {}, False,
        [{"ByCreatedAfter": WINDOW}, {"ByCompleteAfter": WINDOW}, {"ByStatus": "RUNNING"},
         {"ByStatus": "PENDING"}],
        None,
    ),
    "statuses: one query per status; completion only for final ones": (
        DiscoveryConfig(statuses=("FAILED", "RUNNING")), SyncState(watermark=NOW - 60), {}, False,
        [{"ByStatus": "FAILED", "ByCreatedAfter": NOW - 360},
         {"ByStatus": "FAILED", "ByCompleteAfter": NOW - 360},
         {"ByStatus": "RUNNING", "ByCreatedAfter": NOW - 360},
         {"ByStatus": "RUNNING"}],
        None,
    ),
    "statuses without active ones: no query for old active jobs": (
        DiscoveryConfig(statuses=("FAILED",)), SyncState(), {}, False,
        [{"ByStatus": "FAILED", "ByCreatedAfter": WINDOW}], None,
    ),
    "resource types x plans: one filter set per combination, account on each": (
        DiscoveryConfig(
            resource_types=("EBS", "RDS"), restore_testing_plan_arns=(PLAN_A,),
            account_id="111122223333", statuses=("COMPLETED",),
        ),
        SyncState(), {}, False,
        [{"ByAccountId": "111122223333", "ByResourceType": "EBS",
          "ByRestoreTestingPlanArn": PLAN_A, "ByStatus": "COMPLETED", "ByCreatedAfter": WINDOW},
         {"ByAccountId": "111122223333", "ByResourceType": "RDS",
          "ByRestoreTestingPlanArn": PLAN_A, "ByStatus": "COMPLETED", "ByCreatedAfter": WINDOW}],
        None,
    ),
    "a long restore-test clean-up is followed up per plan, not by widening the general query": (
        DiscoveryConfig(), SyncState(watermark=NOW - 60),
        known(restore_test("t1", PLAN_A, NOW - 7000), restore_test("t2", PLAN_A, NOW - 5000)),
        False,
        [*AFTER_A_MINUTE,
         {"ByRestoreTestingPlanArn": PLAN_A, "ByStatus": "COMPLETED",
          "ByCompleteAfter": NOW - 7000 - MARGIN}],
        PLAN_A,
    ),
    "two plans with clean-ups: the one followed up longest ago goes next": (
        DiscoveryConfig(account_id="111122223333"),
        SyncState(watermark=NOW - 60, plan_checked={PLAN_A: NOW - 60}),
        known(restore_test("t1", PLAN_A, NOW - 7000), restore_test("t2", PLAN_B, NOW - 6000)),
        False,
        [*[{"ByAccountId": "111122223333", **q} for q in AFTER_A_MINUTE],
         {"ByAccountId": "111122223333", "ByRestoreTestingPlanArn": PLAN_B,
          "ByStatus": "COMPLETED", "ByCompleteAfter": NOW - 6000 - MARGIN}],
        PLAN_B,
    ),
    "a settled restore test needs no follow-up": (
        DiscoveryConfig(), SyncState(watermark=NOW - 60),
        known(restore_test("t1", PLAN_A, NOW - 7000, DeletionStatus="SUCCESSFUL")), False,
        AFTER_A_MINUTE, None,
    ),
    "an unsettled job that is no restore test widens the completion query": (
        DiscoveryConfig(), SyncState(watermark=NOW - 60),
        known(job("v1", Status="COMPLETED", CompletionDate=NOW - 4000,
                  ValidationStatus="VALIDATING")),
        False,
        [{"ByCreatedAfter": NOW - 360}, {"ByCompleteAfter": NOW - 4000 - MARGIN},
         {"ByStatus": "RUNNING"}, {"ByStatus": "PENDING"}],
        None,
    ),
}  # fmt: skip


@cases(("discovery", "state", "jobs", "full", "queries", "followed"), PLANS)
def test_plan_queries(discovery, state, jobs, full, queries, followed):
    plan = plan_queries(discovery, state, jobs, NOW, full, MARGIN)
    assert [dict(q) for q in plan.queries] == queries
    assert plan.followed_plan == followed
    assert plan.full is (full or state.watermark is None)


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (SyncState(), True),
        (SyncState(watermark=NOW - 60), True),  # no full sync yet
        (SyncState(watermark=NOW - 60, last_full=NOW - 3599), False),
        (SyncState(watermark=NOW - 60, last_full=NOW - 3600), True),
    ],
)
def test_full_sync_is_due_without_watermark_or_after_the_interval(state, due):
    assert is_full_sync_due(state, NOW, 3600.0) is due


TARGET = TargetConfig(name="t", region="us-east-1", restore_job_ids=("cfg-1", "cfg-2"))
RUNNING = job("run", Status="RUNNING")
DONE = job("done", Status="COMPLETED", CompletionDate=NOW - 100)
VALIDATING_NO_DATE = job("validating", Status="COMPLETED", ValidationStatus="VALIDATING")
CFG_DONE = job("cfg-1", Status="COMPLETED", CompletionDate=NOW - 100)
CFG_RUNNING = job("cfg-1", Status="RUNNING")

CANDIDATES = {
    "configured IDs not known yet": (TARGET, {}, {}, {}, False, ["cfg-1", "cfg-2"]),
    "a configured ID the lists found needs no describe": (
        TARGET, known(CFG_RUNNING), {}, {}, False, ["cfg-2"]),
    "a settled configured job is read once": (TARGET, {}, known(CFG_DONE), {}, False, ["cfg-2"]),
    "an unsettled configured job is read again": (
        TARGET, {}, known(CFG_RUNNING), {}, False, ["cfg-1", "cfg-2"]),
    "not_found and invalid IDs wait for the full resync": (
        TARGET, {}, {}, {"cfg-1": "not_found", "cfg-2": "invalid"}, False, []),
    "and are tried again at the full resync": (
        TARGET, {}, {}, {"cfg-1": "not_found", "cfg-2": "throttled"}, True, ["cfg-1", "cfg-2"]),
    "a throttled ID is tried again at once": (
        TARGET, {}, {}, {"cfg-1": "throttled"}, False, ["cfg-1", "cfg-2"]),
    "an active job no list shows any more": (
        TargetConfig(name="t", region="us-east-1"), {}, known(RUNNING, DONE), {}, False, ["run"]),
    "an active job a list shows": (
        TargetConfig(name="t", region="us-east-1"), known(RUNNING), known(RUNNING), {}, False, []),
    "an unsettled job without completion date, which no completion query can see": (
        TargetConfig(name="t", region="us-east-1"), {}, known(VALIDATING_NO_DATE), {}, False,
        ["validating"]),
    "without discovery only configured IDs are described": (
        TargetConfig(name="t", region="us-east-1", restore_job_ids=("cfg-2",),
                     discovery=DiscoveryConfig(enabled=False)),
        {}, known(RUNNING), {}, False, ["cfg-2"]),
}  # fmt: skip


@cases(("target", "fetched", "jobs", "errors", "full", "wanted"), CANDIDATES)
def test_describe_candidates(target, fetched, jobs, errors, full, wanted):
    assert describe_candidates(target, fetched, jobs, errors, full) == wanted
