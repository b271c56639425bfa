"""Syncing with AWS Backup over the wire (moto): what is fetched, how often, and what is shown.

Request counts come from the exporter's own per-attempt accounting, the figure users see in
aws_backup_restore_exporter_api_requests_total.
"""

from __future__ import annotations

import logging
import threading

from exporter.job_families import JOB_FAMILIES
from tests.conftest import ACCOUNT, Gate, put_job, update_job
from tests.scraped import Scraped
from tests.waiting import wait_until

PLAN = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:weekly-abc"


def job_labels(job_id: str, resource_type: str = "EBS", region: str = "us-east-1") -> dict:
    return {
        "account_id": ACCOUNT,
        "region": region,
        "restore_job_id": job_id,
        "resource_type": resource_type,
    }


def registry_for(exporter) -> Scraped:
    return Scraped(exporter)


def requests(exporter, operation: str | None = None) -> int:
    return exporter.api_requests(operation)


def aggregate(registry, status, resource_type="EBS"):
    """aws_backup_restore_jobs for one status of the account's us-east-1 jobs of a type."""
    labels = {"account_id": ACCOUNT, "region": "us-east-1", "resource_type": resource_type}
    return registry.get_sample_value("aws_backup_restore_jobs", {**labels, "status": status})


def status_of(registry, job_id, resource_type="EBS"):
    for status in ("PENDING", "RUNNING", "COMPLETED", "ABORTED", "FAILED"):
        value = registry.get_sample_value(
            "aws_backup_restore_job_status", {**job_labels(job_id, resource_type), "status": status}
        )
        if value == 1.0:
            return status
    return None


def test_discovered_and_configured_jobs_are_exported_with_their_values(make_exporter, clock):
    now = clock.now
    running = put_job(
        Status="RUNNING",
        ResourceType="EBS",
        PercentDone="37.50%",
        CreationDate=now - 600,
        ExpectedCompletionTimeMinutes=30,
        RecoveryPointCreationDate=now - 86400 * 3,
    )
    done = put_job(
        Status="COMPLETED",
        ResourceType="RDS",
        PercentDone="100.00%",
        CreationDate=now - 7200,
        CompletionDate=now - 3600,
        BackupSizeInBytes=5 * 2**30,
        CreatedResourceArn="arn:aws:rds:us-east-1:123456789012:db:restored",
    )
    old = put_job(
        Status="COMPLETED",
        ResourceType="EFS",
        CreationDate=now - 86400 * 10,
        CompletionDate=now - 86400 * 10 + 60,
    )
    exporter = make_exporter(clock=clock, restore_job_ids=[old, "no-such-job"])
    registry = registry_for(exporter)

    assert status_of(registry, running) == "RUNNING"
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(running))
        == 0.375
    )
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_expected_duration_seconds", job_labels(running)
        )
        == 1800
    )
    assert (
        registry.get_sample_value("aws_backup_restore_job_duration_seconds", job_labels(running))
        == 600
    )
    assert status_of(registry, done, "RDS") == "COMPLETED"
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_backup_size_bytes", job_labels(done, "RDS")
        )
        == 5 * 2**30
    )
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_duration_seconds", job_labels(done, "RDS")
        )
        == 3600
    )
    assert registry.get_sample_value(
        "aws_backup_restore_job_completion_timestamp_seconds", job_labels(done, "RDS")
    ) == int(now - 3600)
    # configured, outside the window: still there, read by DescribeRestoreJob
    assert status_of(registry, old, "EFS") == "COMPLETED"
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_restore_job_lookup_errors",
            {"target": "main", "restore_job_id": "no-such-job", "reason": "not_found"},
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_target_up", {"target": "main", "region": "us-east-1"}
        )
        == 1
    )
    assert aggregate(registry, "RUNNING", "EBS") == 1
    assert aggregate(registry, "FAILED", "EBS") == 0


def test_cold_sync_lists_and_describes_only_configured_jobs(make_exporter, clock):
    for age in range(10):
        put_job(
            Status="COMPLETED",
            CreationDate=clock.now - 600 * (age + 1),
            CompletionDate=clock.now - 300 * (age + 1),
        )
    configured = put_job(Status="COMPLETED", CreationDate=clock.now - 86400 * 30)
    exporter = make_exporter(clock=clock, restore_job_ids=[configured])
    exporter.scrape()
    # window + old RUNNING + old PENDING: one page each; one describe for the configured job
    assert requests(exporter, "ListRestoreJobs") == 3
    assert requests(exporter, "DescribeRestoreJob") == 1


def test_warm_sync_never_fetches_finished_jobs_again(make_exporter, clock):
    finished = [
        put_job(
            Status="COMPLETED", CreationDate=clock.now - 60 * i, CompletionDate=clock.now - 30 * i
        )
        for i in range(1, 30)
    ]
    configured = put_job(
        Status="FAILED", CreationDate=clock.now - 86400 * 30, StatusMessage="Access denied"
    )
    exporter = make_exporter(clock=clock, restore_job_ids=[configured])
    exporter.scrape()
    before = requests(exporter)
    clock.advance(30)
    scrape = exporter.scrape()
    warm = requests(exporter) - before
    assert requests(exporter, "DescribeRestoreJob") == 1  # the configured job, once
    assert warm <= 5
    assert len(scrape.snapshots[0].jobs) == len(finished) + 1


def test_progress_and_state_changes_are_picked_up(make_exporter, clock):
    job = put_job(Status="RUNNING", PercentDone="10.00%", CreationDate=clock.now - 60)
    test_job = put_job(
        Status="COMPLETED",
        CreationDate=clock.now - 3000,
        CompletionDate=clock.now - 2000,
        CreatedBy={"RestoreTestingPlanArn": PLAN},
        ValidationStatus="VALIDATING",
    )
    exporter = make_exporter(clock=clock)
    registry = registry_for(exporter)
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(job)) == 0.10
    )

    clock.advance(60)
    update_job(job, PercentDone="55.00%")
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(job)) == 0.55
    )

    clock.advance(60)
    update_job(job, Status="COMPLETED", PercentDone="100.00%", CompletionDate=clock.now - 5)
    update_job(test_job, ValidationStatus="SUCCESSFUL", DeletionStatus="DELETING")
    assert status_of(registry, job) == "COMPLETED"
    assert (
        registry.get_sample_value("aws_backup_restore_job_duration_seconds", job_labels(job)) == 175
    )  # created 60 s before start
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_validation_status",
            {**job_labels(test_job), "validation_status": "SUCCESSFUL"},
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_deletion_status",
            {**job_labels(test_job), "deletion_status": "DELETING"},
        )
        == 1
    )

    clock.advance(60)
    update_job(test_job, DeletionStatus="SUCCESSFUL")
    assert (
        registry.get_sample_value(
            "aws_backup_restore_job_deletion_status",
            {**job_labels(test_job), "deletion_status": "SUCCESSFUL"},
        )
        == 1
    )


def test_job_aborted_without_completion_date_is_found_by_describe(make_exporter, clock):
    # Older than the incremental margin, no completion date, no longer RUNNING: no list query
    # can see the change, so the exporter must describe it.
    job = put_job(Status="RUNNING", CreationDate=clock.now - 3600)
    exporter = make_exporter(clock=clock)
    registry = registry_for(exporter)
    assert status_of(registry, job) == "RUNNING"
    update_job(job, Status="ABORTED", CompletionDate=None)
    clock.advance(30)
    assert status_of(registry, job) == "ABORTED"
    assert requests(exporter, "DescribeRestoreJob") == 1


def test_new_jobs_appear_and_jobs_leaving_the_window_leave(make_exporter, clock):
    old = put_job(
        Status="COMPLETED", CreationDate=clock.now - 3600, CompletionDate=clock.now - 3000
    )
    exporter = make_exporter(clock=clock, discovery={"lookback": "2h"})
    registry = registry_for(exporter)
    assert status_of(registry, old) == "COMPLETED"
    clock.advance(1800)
    new = put_job(Status="PENDING", CreationDate=clock.now - 10)
    assert status_of(registry, new) == "PENDING"
    clock.advance(3700)  # `old` is now 2h 25m old
    assert status_of(registry, old) is None
    assert status_of(registry, new) == "PENDING"  # still pending: kept whatever its age


def test_old_jobs_still_running_are_found_whatever_their_age(make_exporter, clock):
    ancient = put_job(Status="RUNNING", CreationDate=clock.now - 86400 * 3)
    exporter = make_exporter(clock=clock)
    assert status_of(registry_for(exporter), ancient) == "RUNNING"


def test_more_jobs_than_one_page_are_all_listed(make_exporter, clock):
    for index in range(1005):
        put_job(
            Status="COMPLETED", CreationDate=clock.now - 10 - index, CompletionDate=clock.now - 5
        )
    exporter = make_exporter(clock=clock)
    scrape = exporter.scrape()
    assert len(scrape.snapshots[0].jobs) == 1005
    assert requests(exporter, "ListRestoreJobs") == 4  # two pages for the window


def test_discovery_filters_are_sent_to_aws(make_exporter, clock):
    ebs = put_job(Status="COMPLETED", ResourceType="EBS", CreationDate=clock.now - 60)
    put_job(Status="COMPLETED", ResourceType="RDS", CreationDate=clock.now - 60)
    planned = put_job(
        Status="COMPLETED",
        ResourceType="S3",
        CreationDate=clock.now - 60,
        CreatedBy={"RestoreTestingPlanArn": PLAN},
    )
    only_ebs = make_exporter(clock=clock, discovery={"resource_types": ["EBS"]})
    assert set(only_ebs.scrape().snapshots[0].jobs) == {ebs}
    only_plan = make_exporter(
        {
            "targets": [
                {
                    "name": "plan",
                    "region": "us-east-1",
                    "discovery": {"restore_testing_plan_arns": [PLAN]},
                }
            ]
        },
        clock=clock,
    )
    assert set(only_plan.scrape().snapshots[0].jobs) == {planned}


def test_max_jobs_per_target_keeps_the_newest_and_counts_the_rest(make_exporter, clock):
    ids = [put_job(Status="COMPLETED", CreationDate=clock.now - 60 * i) for i in range(1, 11)]
    exporter = make_exporter(
        {
            "targets": [{"name": "main", "region": "us-east-1"}],
            "metrics": {"max_jobs_per_target": 4},
        },
        clock=clock,
    )
    registry = registry_for(exporter)
    shown = {
        sample.labels["restore_job_id"]
        for family in registry.families()
        if family.name == "aws_backup_restore_job_status"
        for sample in family.samples
    }
    assert shown == set(ids[:4])
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_target_jobs_dropped",
            {"target": "main", "region": "us-east-1"},
        )
        == 6
    )
    assert aggregate(registry, "COMPLETED", "EBS") == 10


def test_aggregate_only_mode_has_no_per_job_series(make_exporter, clock):
    put_job(Status="FAILED", CreationDate=clock.now - 60)
    exporter = make_exporter(
        {"targets": [{"name": "main", "region": "us-east-1"}], "metrics": {"per_job": False}},
        clock=clock,
    )
    names = {metric.name for metric in registry_for(exporter).families()}
    assert names.isdisjoint(family.name for family in JOB_FAMILIES)
    assert "aws_backup_restore_job_status" not in names
    assert "aws_backup_restore_jobs" in names


def test_concurrent_scrapes_share_the_sync_in_flight(make_exporter, clock):
    for i in range(5):
        put_job(Status="COMPLETED", CreationDate=clock.now - 60 * (i + 1))
    exporter = make_exporter(clock=clock)
    syncer = exporter.syncers[0]
    gate = Gate()
    syncer.api.client.meta.events.register("before-send.backup.ListRestoreJobs", gate.hook)
    joined = []
    original = syncer.refresh

    def counting_refresh():
        future = original()
        joined.append(future)
        return future

    syncer.refresh = counting_refresh
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(exporter.scrape())) for _ in range(20)
    ]
    threads[0].start()
    assert gate.entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: len(joined) == 20, what="20 scrapes joining the sync")
    gate.released.set()
    for thread in threads:
        thread.join(30)
    assert len({id(future) for future in joined}) == 1  # one sync, shared
    assert requests(exporter, "ListRestoreJobs") == 3  # exactly one cold sync's requests
    assert requests(exporter) == 4  # and the restore-testing source's one plan listing
    assert len(results) == 20


def test_slow_aws_serves_last_known_state_within_the_deadline(make_exporter, clock, caplog):
    job = put_job(Status="RUNNING", PercentDone="20.00%", CreationDate=clock.now - 60)
    exporter = make_exporter(
        {"targets": [{"name": "main", "region": "us-east-1"}], "sync": {"deadline": "200ms"}},
        clock=clock,
    )
    exporter.syncers[0].sync_once()  # a first sync in this thread, however long it takes
    caplog.set_level(logging.DEBUG, logger="exporter")
    registry = registry_for(exporter)
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(job)) == 0.2
    )
    gate = Gate()
    exporter.syncers[0].api.client.meta.events.register("before-send.backup.*", gate.hook)
    caplog.clear()
    update_job(job, PercentDone="80.00%")
    clock.advance(45)
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(job)) == 0.2
    )  # last known state
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_target_data_age_seconds",
            {"target": "main", "region": "us-east-1"},
        )
        == 45
    )
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_target_up", {"target": "main", "region": "us-east-1"}
        )
        == 1
    )
    slow = [r for r in caplog.records if "still running" in r.getMessage()]
    assert [r.levelname for r in slow] == ["WARNING", "DEBUG", "DEBUG"]  # one line per slow sync
    gate.released.set()
    wait_until(lambda: not exporter.syncers[0].snapshot().syncing, what="sync to finish")
    assert (
        registry.get_sample_value("aws_backup_restore_job_progress_ratio", job_labels(job)) == 0.8
    )


def test_full_resync_runs_on_its_interval(make_exporter, clock):
    put_job(Status="COMPLETED", CreationDate=clock.now - 60)
    exporter = make_exporter(
        {
            "targets": [{"name": "main", "region": "us-east-1"}],
            "sync": {"full_resync_interval": "10m"},
        },
        clock=clock,
    )
    registry = registry_for(exporter)
    registry.get_sample_value("aws_backup_restore_exporter_target_up")
    clock.advance(60)
    list(registry.families())
    clock.advance(600)
    list(registry.families())
    runs = exporter.syncers[0].stats.runs
    job_runs = {key: count for key, count in runs.items() if key[0] in ("full", "incremental")}
    assert job_runs == {("full", "success"): 2, ("incremental", "success"): 1}


def test_long_restore_test_cleanups_are_followed_per_plan_not_by_relisting_everything(
    make_exporter, clock
):
    other_plan = PLAN.replace("weekly-abc", "daily-xyz")
    for i in range(20):  # ordinary restores that finished hours ago: never to be listed again
        put_job(
            Status="COMPLETED",
            CreationDate=clock.now - 7200 - i,
            CompletionDate=clock.now - 7000 - i,
        )
    cleanups = {
        plan: put_job(
            Status="COMPLETED",
            ResourceType="RDS",
            CreationDate=clock.now - 7300,
            CompletionDate=clock.now - 7100,
            CreatedBy={"RestoreTestingPlanArn": plan},
            ValidationStatus="SUCCESSFUL",
            DeletionStatus="DELETING",
        )
        for plan in (PLAN, other_plan)
    }
    exporter = make_exporter(clock=clock)
    exporter.scrape()
    sent = []
    exporter.syncers[0].api.client.meta.events.register(
        "before-parameter-build.backup.ListRestoreJobs",
        lambda params, **_: sent.append(dict(params)),
    )
    for job_id in cleanups.values():
        update_job(job_id, DeletionStatus="SUCCESSFUL")
    followed = []
    for _ in range(2):
        sent.clear()
        clock.advance(60)
        exporter.scrape()
        per_plan = [q for q in sent if "ByRestoreTestingPlanArn" in q]
        assert len(per_plan) == 1  # one follow-up query per sync
        assert per_plan[0]["ByStatus"] == "COMPLETED"
        followed.append(per_plan[0]["ByRestoreTestingPlanArn"])
        general = [q for q in sent if "ByCompleteAfter" in q and q not in per_plan]
        # the general completion query still starts at the last sync (less the margin)
        assert [q["ByCompleteAfter"].timestamp() for q in general] == [clock.now - 60 - 300]
        assert len(sent) == 5  # created, completed, RUNNING, PENDING, one plan
    assert sorted(followed) == sorted(cleanups)  # the plans take turns
    jobs = exporter.scrape().snapshots[0].jobs
    assert {jobs[job_id].deletion_status for job_id in cleanups.values()} == {"SUCCESSFUL"}


def test_max_attempts_counts_the_first_try(make_exporter, backup):
    from tests.faulty_proxy import THROTTLED, FaultyProxy

    proxy = FaultyProxy(backup)
    proxy.default = THROTTLED
    try:
        exporter = make_exporter(
            {
                "targets": [{"name": "main", "region": "us-east-1", "endpoint_url": proxy.url}],
                "aws": {"max_attempts": 3},
                "rate_limit": {"list_concurrency": 1},
            }
        )
        exporter.scrape()
    finally:
        proxy.close()
    assert exporter.api_requests("ListRestoreJobs", "throttled") == 3
    assert proxy.requests == 3
