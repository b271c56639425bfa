"""The demo: the seeded population, how ``tick()`` moves it, its restore testing plans (one
healthy, one that missed its last run, whatever the time of day) and protected resources, and
the endpoint serving it all.

The scenario runs on an injected clock with explicit ``tick()`` calls; the endpoint test waits on
an event set by the ticker, never on a fixed sleep.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from exporter.demo import scenario as sc
from exporter.demo.endpoint import DemoEndpoint
from exporter.demo.fake_backup import RestoreJobStore

ACCOUNT = "123456789012"
REGION = "eu-west-1"
START = 1_800_000_000.0
MODEL = botocore.session.get_session().get_service_model("backup")


def enum(shape: str) -> set[str]:
    return set(MODEL.shape_for(shape).enum)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


STORE = RestoreJobStore()  # the scenario tests' jobs; each test starts it empty


@pytest.fixture
def scenario(fake_clock: FakeClock) -> Iterator[sc.DemoScenario]:
    STORE.clear()
    demo = sc.DemoScenario(ACCOUNT, REGION, now=fake_clock, store=STORE)
    demo.seed()
    yield demo
    STORE.clear()


def jobs() -> dict[str, dict[str, Any]]:
    return {job["RestoreJobId"]: job for job in STORE.jobs(ACCOUNT, REGION)}


def resources() -> dict[str, dict[str, Any]]:
    return {r["ResourceArn"]: r for r in STORE.protected.resources(ACCOUNT, REGION)}


def plans() -> dict[str, dict[str, Any]]:
    return {p["RestoreTestingPlanName"]: p for p in STORE.testing.plans(ACCOUNT, REGION)}


def percent(job: dict[str, Any]) -> float:
    assert re.fullmatch(r"\d{1,3}\.\d\d%", job["PercentDone"]), job["PercentDone"]
    return float(job["PercentDone"][:-1])


def run(scenario: sc.DemoScenario, clock: FakeClock, ticks: int, step: float = 5.0) -> None:
    for _ in range(ticks):
        clock.now += step
        scenario.tick()


@pytest.mark.usefixtures("scenario")
def test_seed_has_every_status_validation_and_deletion_status() -> None:
    seeded = list(jobs().values())
    plan_runs = {*sc.PLAN_RUN_JOB_IDS, sc.MISSED_PLAN_JOB_ID}
    assert {job["RestoreJobId"] for job in seeded} == {j for j, *_ in sc.SEED_JOBS} | plan_runs
    assert {job["Status"] for job in seeded} == enum("RestoreJobStatus")
    validation = {job["ValidationStatus"] for job in seeded if "ValidationStatus" in job}
    assert validation == enum("RestoreValidationStatus")
    deletion = {job["DeletionStatus"] for job in seeded if "DeletionStatus" in job}
    assert deletion == enum("RestoreDeletionStatus")
    assert {job["ResourceType"] for job in seeded} == set(sc.RESOURCE_TYPES)
    assert all(job["RestoreJobId"].startswith("demo-") for job in seeded)


@pytest.mark.usefixtures("scenario")
def test_seeded_jobs_look_like_aws_jobs() -> None:
    seeded = jobs()
    for job in seeded.values():
        assert job["AccountId"] == ACCOUNT
        assert job["RecoveryPointArn"].startswith("arn:aws:")
        assert job["BackupVaultArn"] == f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default"
        if job["Status"] == "RUNNING":
            assert 0 < percent(job) < 100
            assert isinstance(job["ExpectedCompletionTimeMinutes"], int)
        if job["Status"] == "COMPLETED":
            assert job["CompletionDate"] > job["CreationDate"]
            assert job["BackupSizeInBytes"] > 0
            assert job["CreatedResourceArn"].startswith("arn:aws:")
        if job["Status"] in ("ABORTED", "FAILED"):
            assert job["StatusMessage"]
            assert job["CompletionDate"] > job["CreationDate"]
    assert seeded[sc.STABLE_FAILED_JOB_ID]["Status"] == "FAILED"
    old = seeded[sc.OLD_COMPLETED_JOB_ID]
    assert old["Status"] == "COMPLETED"
    assert old["CreationDate"].timestamp() < START - 86400
    assert sc.UNKNOWN_JOB_ID not in seeded
    assert seeded["demo-aurora-parent"]["IsParent"] is True
    assert seeded["demo-aurora-child"]["ParentJobId"] == "demo-aurora-parent"
    plan = sc.restore_testing_plan_arn(ACCOUNT, REGION)
    prefix = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:demo_daily_restore_test-"
    assert re.fullmatch(re.escape(prefix) + "[a-z0-9]{6}", plan)
    assert plan == sc.restore_testing_plan_arn(ACCOUNT, REGION)  # fixed, not random
    assert plan != sc.restore_testing_plan_arn(ACCOUNT, "us-east-1")
    tests = [job for job in seeded.values() if job.get("CreatedBy")]
    missed = {"RestoreTestingPlanArn": sc.missed_restore_testing_plan_arn(ACCOUNT, REGION)}
    assert seeded.pop(sc.MISSED_PLAN_JOB_ID)["CreatedBy"] == missed
    assert all(
        job["CreatedBy"] == {"RestoreTestingPlanArn": plan}
        for job in tests
        if job["RestoreJobId"] != sc.MISSED_PLAN_JOB_ID
    )
    assert all("ValidationStatus" not in j for j in seeded.values() if not j.get("CreatedBy"))


def test_every_tick_moves_every_running_job_even_on_a_frozen_clock(
    scenario: sc.DemoScenario,
) -> None:
    for _ in range(10):
        before = {i: percent(j) for i, j in jobs().items() if j["Status"] == "RUNNING"}
        assert before
        scenario.tick()  # the clock does not move
        after = jobs()
        for job_id, done in before.items():
            job = after[job_id]
            assert job["Status"] != "RUNNING" or percent(job) > done, job_id


def test_running_jobs_finish_within_their_expected_time(
    scenario: sc.DemoScenario, fake_clock: FakeClock
) -> None:
    ran: set[str] = set()
    for _ in range(400):
        run(scenario, fake_clock, 1)
        for job in jobs().values():
            if job["Status"] == "RUNNING":
                ran.add(job["RestoreJobId"])
                deadline = job["CreationDate"] + timedelta(
                    minutes=job["ExpectedCompletionTimeMinutes"]
                )
                assert fake_clock.now <= deadline.timestamp(), job
    final = jobs()
    finished = [final[i] for i in ran if i in final and final[i]["Status"] != "RUNNING"]
    assert len(finished) > 20  # seeded and new jobs ran and finished
    for job in finished:
        deadline = job["CreationDate"] + timedelta(minutes=job["ExpectedCompletionTimeMinutes"])
        assert job["CompletionDate"] <= deadline
        assert job["Status"] in ("COMPLETED", "FAILED")
        if job["Status"] == "COMPLETED":
            assert job["PercentDone"] == "100.00%"
            assert job["BackupSizeInBytes"] > 0
    assert {job["Status"] for job in finished} == {"COMPLETED", "FAILED"}


def test_a_restore_test_goes_through_validation_and_deletion(
    scenario: sc.DemoScenario, fake_clock: FakeClock
) -> None:
    def phases(job_id: str) -> list[tuple[str, str | None, str | None]]:
        seen: list[tuple[str, str | None, str | None]] = []
        for _ in range(200):
            job = jobs()[job_id]
            phase = (job["Status"], job.get("ValidationStatus"), job.get("DeletionStatus"))
            if not seen or seen[-1] != phase:
                seen.append(phase)
            if phase[2] == "SUCCESSFUL":
                return seen
            run(scenario, fake_clock, 1)
        pytest.fail(f"{job_id} never finished: {seen}")

    assert phases("demo-test-ebs-running") == [
        ("RUNNING", None, None),
        ("COMPLETED", None, None),
        ("COMPLETED", "VALIDATING", None),
        ("COMPLETED", "SUCCESSFUL", "DELETING"),
        ("COMPLETED", "SUCCESSFUL", "SUCCESSFUL"),
    ]


def test_new_jobs_start_and_some_restore_tests_time_out(
    scenario: sc.DemoScenario, fake_clock: FakeClock
) -> None:
    seeded = set(jobs())
    run(scenario, fake_clock, sc.NEW_JOB_EVERY - 1)
    assert set(jobs()) == seeded
    run(scenario, fake_clock, 1)
    (new,) = set(jobs()) - seeded
    assert re.fullmatch(r"demo-(test-)?[a-z0-9]+-\d{4}", new)
    assert jobs()[new]["Status"] == "PENDING"
    run(scenario, fake_clock, 300)
    generated = [job for i, job in jobs().items() if i not in seeded]
    assert {job["ResourceType"] for job in generated} == set(sc.RESOURCE_TYPES)
    assert any(job.get("ValidationStatus") == "TIMED_OUT" for job in generated)
    assert any(job.get("ValidationStatus") == "SUCCESSFUL" for job in generated)
    assert any(job["Status"] == "FAILED" for job in generated)
    assert len(generated) == sc.KEEP_GENERATED  # a long demo stays small
    assert set(jobs()) >= seeded


def test_stable_failed_jobs_never_change(scenario: sc.DemoScenario, fake_clock: FakeClock) -> None:
    stable = (sc.STABLE_FAILED_JOB_ID, "demo-test-aurora-validation-failed", "demo-ebs-aborted")
    before = {job_id: jobs()[job_id] for job_id in stable}
    run(scenario, fake_clock, 300)
    assert {job_id: jobs()[job_id] for job_id in stable} == before


def test_the_scenario_is_deterministic(scenario: sc.DemoScenario, fake_clock: FakeClock) -> None:
    def state() -> tuple[Any, ...]:
        return jobs(), STORE.testing.plans(ACCOUNT, REGION), resources()

    run(scenario, fake_clock, 100)
    first = state()
    fake_clock.now = START
    scenario.seed()
    run(scenario, fake_clock, 100)
    assert state() == first


# -- restore testing plans and protected resources -----------------------------------------

MIDNIGHT = START // 86400 * 86400  # START is 08:00 UTC
TIMES_OF_DAY = [0, 5 * 3600 - 1, 5 * 3600, 5 * 3600 + 1, 5.5 * 3600, 6.25 * 3600, 12 * 3600,
                86400 - 1]  # fmt: skip
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def seeded_at(now: float) -> sc.DemoScenario:
    STORE.clear()
    demo = sc.DemoScenario(ACCOUNT, REGION, now=lambda: now, store=STORE)
    demo.seed()
    return demo


def latest_daily_start(schedule: str, now: datetime) -> datetime:
    """The latest start at or before ``now`` of a daily ``cron(M H ? * * *)``, worked out here
    independently of the scenario."""
    found = re.fullmatch(r"cron\((\d+) (\d+) \? \* \* \*\)", schedule)
    assert found, schedule
    start = now.replace(hour=int(found[2]), minute=int(found[1]), second=0, microsecond=0)
    return start if start <= now else start - DAY


@pytest.mark.usefixtures("scenario")
def test_two_restore_testing_plans_with_their_selections() -> None:
    healthy, missed = plans()[sc.HEALTHY_PLAN], plans()[sc.MISSED_PLAN]
    assert len(plans()) == 2
    assert healthy["RestoreTestingPlanArn"] == sc.restore_testing_plan_arn(ACCOUNT, REGION)
    assert missed["RestoreTestingPlanArn"] == sc.missed_restore_testing_plan_arn(ACCOUNT, REGION)
    assert re.fullmatch(
        rf"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:demo_missed_restore_test-[a-z0-9]{{6}}",
        missed["RestoreTestingPlanArn"],
    )
    assert (healthy["ScheduleExpression"], healthy["StartWindowHours"]) == ("cron(0 5 ? * * *)", 24)
    assert (missed["StartWindowHours"], healthy["ScheduleExpressionTimezone"]) == (1, "Etc/UTC")
    kinds = {
        name: {s["ProtectedResourceType"] for s in STORE.testing.selections(ACCOUNT, REGION, name)}
        for name in plans()
    }
    assert kinds == {sc.HEALTHY_PLAN: {"EBS", "RDS"}, sc.MISSED_PLAN: {"S3"}}
    for selection in STORE.testing.selections(ACCOUNT, REGION, sc.HEALTHY_PLAN):
        (arn,) = selection["ProtectedResourceArns"]
        assert arn in resources()


@pytest.mark.parametrize("time_of_day", TIMES_OF_DAY)
def test_the_healthy_plan_ran_at_its_last_scheduled_start_whenever_seeded(time_of_day) -> None:
    now = MIDNIGHT + time_of_day
    seeded_at(now)
    plan = plans()[sc.HEALTHY_PLAN]
    start = latest_daily_start(plan["ScheduleExpression"], datetime.fromtimestamp(now, UTC))
    assert plan["LastExecutionTime"] == start
    runs = [jobs()[job_id] for job_id in sc.PLAN_RUN_JOB_IDS]
    assert {job["ResourceType"] for job in runs} == {"EBS", "RDS"}
    for job in runs:
        assert job["CreatedBy"] == {"RestoreTestingPlanArn": plan["RestoreTestingPlanArn"]}
        assert job["CreationDate"] == start
        assert job["Status"] == "COMPLETED"
        assert start <= job["CompletionDate"] <= datetime.fromtimestamp(now, UTC)
        assert (job["ValidationStatus"], job["DeletionStatus"]) == ("SUCCESSFUL", "SUCCESSFUL")
        assert job["SourceResourceArn"] in resources()


@pytest.mark.parametrize("time_of_day", TIMES_OF_DAY)
def test_the_missed_plan_missed_its_last_run_whenever_seeded_and_however_long_it_runs(
    time_of_day,
) -> None:
    now = MIDNIGHT + time_of_day
    demo = seeded_at(now)
    for later in (0, 1800, 3 * 3600, 22 * 3600, 30 * 3600, 3 * 86400):
        demo.now = lambda later=later: now + later
        demo.tick()
        plan = plans()[sc.MISSED_PLAN]
        window = timedelta(hours=plan["StartWindowHours"])
        at = datetime.fromtimestamp(now + later, UTC)
        closed = latest_daily_start(plan["ScheduleExpression"], at - window)  # its window passed
        assert plan["LastExecutionTime"] < closed, (time_of_day, later)
        assert closed - plan["LastExecutionTime"] >= DAY
    last_run = jobs()[sc.MISSED_PLAN_JOB_ID]
    assert last_run["CreationDate"] == plan["LastExecutionTime"]
    assert last_run["CreatedBy"] == {"RestoreTestingPlanArn": plan["RestoreTestingPlanArn"]}
    assert (last_run["Status"], last_run["ValidationStatus"]) == ("COMPLETED", "SUCCESSFUL")
    assert all(
        job.get("CreatedBy", {}).get("RestoreTestingPlanArn") != plan["RestoreTestingPlanArn"]
        for job_id, job in jobs().items()
        if job_id != sc.MISSED_PLAN_JOB_ID
    )  # it never ran again


def test_the_healthy_plan_runs_at_each_scheduled_start(
    scenario: sc.DemoScenario, fake_clock: FakeClock
) -> None:
    first = plans()[sc.HEALTHY_PLAN]["LastExecutionTime"]
    fake_clock.now = (first + DAY).timestamp() - 1
    scenario.tick()
    assert plans()[sc.HEALTHY_PLAN]["LastExecutionTime"] == first
    missed = plans()[sc.MISSED_PLAN]["LastExecutionTime"]
    run(scenario, fake_clock, 1, step=2.0)
    assert plans()[sc.HEALTHY_PLAN]["LastExecutionTime"] == first + DAY
    new = {"demo-test-ebs-daily-0001": "EBS", "demo-test-rds-daily-0001": "RDS"}
    assert {job_id: jobs()[job_id]["ResourceType"] for job_id in new} == new
    sources = {jobs()[i]["SourceResourceArn"] for i in (*new, *sc.PLAN_RUN_JOB_IDS)}
    assert len(sources) == 2  # the same volume and database, restored again
    run(scenario, fake_clock, 60)
    for job_id in new:
        job = jobs()[job_id]
        assert job["CreatedBy"] == {"RestoreTestingPlanArn": scenario.plan_arn}
        assert (job["Status"], job["ValidationStatus"]) == ("COMPLETED", "SUCCESSFUL")
    assert plans()[sc.MISSED_PLAN]["LastExecutionTime"] == missed
    fake_clock.now += 3 * 86400  # three starts passed between two ticks: it ran at the last
    scenario.tick()
    assert plans()[sc.HEALTHY_PLAN]["LastExecutionTime"] == first + 4 * DAY


def test_every_restore_jobs_source_is_a_protected_resource(
    scenario: sc.DemoScenario, fake_clock: FakeClock
) -> None:
    for ticks in (0, 300):
        run(scenario, fake_clock, ticks)
        protected = resources()
        for job in jobs().values():
            resource = protected[job["SourceResourceArn"]]
            assert resource["ResourceType"] == job["ResourceType"]
            assert resource["LastBackupTime"] >= job["RecoveryPointCreationDate"]
            assert resource["LastBackupVaultArn"] == job["BackupVaultArn"]
            assert resource["ResourceName"]
        restored = {job["SourceResourceArn"] for job in jobs().values()}
        assert set(protected) == restored  # the dropped jobs' own resources go with them
    (volume,) = STORE.testing.selection(ACCOUNT, REGION, sc.HEALTHY_PLAN, "demo_ebs_volumes")[
        "ProtectedResourceArns"
    ]
    described = STORE.protected.describe(ACCOUNT, REGION, volume)
    newest = max(
        (j for j in jobs().values() if j["SourceResourceArn"] == volume),
        key=lambda j: j["CreationDate"],
    )
    assert described["LatestRestoreJobCreationDate"] == newest["CreationDate"]


class TestDemoEndpoint:
    @pytest.fixture
    def endpoint(self) -> Iterator[DemoEndpoint]:
        demo = DemoEndpoint(regions=("us-east-1", REGION), tick_seconds=0.05)
        yield demo
        demo.stop()

    def client(self, endpoint: DemoEndpoint, region: str) -> Any:
        return boto3.client(
            "backup",
            region_name=region,
            endpoint_url=endpoint.url,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )

    def test_serves_the_scenario_over_http_and_stops_cleanly(self, endpoint: DemoEndpoint) -> None:
        ticked = threading.Event()
        scenario = endpoint.scenarios[REGION]
        original_tick = scenario.tick

        def tick() -> None:
            original_tick()
            ticked.set()

        scenario.tick = tick  # type: ignore[method-assign]
        endpoint.start()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint.url)
        assert not endpoint.url.endswith(":0")
        for region in endpoint.regions:
            client = self.client(endpoint, region)
            pages = client.get_paginator("list_restore_jobs").paginate(
                PaginationConfig={"PageSize": 4}
            )
            listed = [job for page in pages for job in page["RestoreJobs"]]
            assert len(listed) >= len(sc.SEED_JOBS)
            old, unknown = endpoint.configured_job_ids(region)
            assert client.describe_restore_job(RestoreJobId=old)["Status"] == "COMPLETED"
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.describe_restore_job(RestoreJobId=unknown)
        assert ticked.wait(timeout=10), "the ticker never ticked"
        client = self.client(endpoint, REGION)
        running = client.describe_restore_job(RestoreJobId="demo-rds-running")
        assert running["PercentDone"] != "37.50%"  # moved by the ticker thread

        endpoint.stop()
        endpoint.stop()  # twice is fine
        with pytest.raises(EndpointConnectionError):
            client.list_restore_jobs()
        assert endpoint.fake.store.jobs(ACCOUNT, REGION) == []
        assert not any(t.name == "demo-ticker" for t in threading.enumerate())

    def test_serves_the_plans_and_protected_resources_over_http(
        self, endpoint: DemoEndpoint
    ) -> None:
        endpoint.start()
        for region in endpoint.regions:
            client = self.client(endpoint, region)
            listed = client.get_paginator("list_restore_testing_plans").paginate(
                PaginationConfig={"PageSize": 1}
            )
            names = {
                p["RestoreTestingPlanName"] for page in listed for p in page["RestoreTestingPlans"]
            }
            assert names == {sc.HEALTHY_PLAN, sc.MISSED_PLAN}
            healthy = sc.restore_testing_plan_arn(endpoint.account_id, region)
            selections = client.list_restore_testing_selections(
                RestoreTestingPlanName=sc.HEALTHY_PLAN
            )
            assert len(selections["RestoreTestingSelections"]) == 2
            recent = client.list_restore_jobs(
                ByRestoreTestingPlanArn=healthy,
                ByStatus="COMPLETED",
                ByCompleteAfter=datetime.now(UTC) - timedelta(hours=25),
            )["RestoreJobs"]
            assert set(sc.PLAN_RUN_JOB_IDS) <= {job["RestoreJobId"] for job in recent}
            for job_id in sc.PLAN_RUN_JOB_IDS:
                job = client.describe_restore_job(RestoreJobId=job_id)
                resource = client.describe_protected_resource(ResourceArn=job["SourceResourceArn"])
                assert resource["LatestRestoreJobCreationDate"] >= job["CreationDate"]
                assert resource["ResourceType"] == job["ResourceType"]
            pages = client.get_paginator("list_protected_resources").paginate(
                PaginationConfig={"PageSize": 5}
            )
            assert sum(len(page["Results"]) for page in pages) >= len(sc.SEED_JOBS)

    def test_configured_ids_name_an_old_job_and_a_missing_one(self) -> None:
        endpoint = DemoEndpoint()
        assert endpoint.configured_job_ids("us-east-1") == [
            sc.OLD_COMPLETED_JOB_ID,
            sc.UNKNOWN_JOB_ID,
        ]
        with pytest.raises(KeyError):
            endpoint.configured_job_ids("ap-south-1")
        with pytest.raises(RuntimeError):
            _ = endpoint.url  # not started

    def test_sets_fake_credentials_only_when_there_are_none(
        self, endpoint: DemoEndpoint, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.setenv(name, "x")  # so that monkeypatch restores what start() sets
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        endpoint.start()
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert self.client(endpoint, "us-east-1").list_restore_jobs()["RestoreJobs"]

    def test_keeps_credentials_that_are_set(
        self, endpoint: DemoEndpoint, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        endpoint.start()
        assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALLOOKINGKEY00"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "secret"

    def test_answers_as_the_account_it_is_given(self) -> None:
        endpoint = DemoEndpoint(regions=(REGION,), account_id="210987654321")
        endpoint.start()
        try:
            listed = self.client(endpoint, REGION).list_restore_jobs()["RestoreJobs"]
        finally:
            endpoint.stop()
        assert {job["AccountId"] for job in listed} == {"210987654321"}
        assert sc.restore_testing_plan_arn("210987654321", REGION) in {
            job.get("CreatedBy", {}).get("RestoreTestingPlanArn") for job in listed
        }
