"""Shared fixtures: the fake AWS Backup (empty at the start of each test) and exporters on it,
moto's server for STS and Organizations, fake credentials."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import pytest

from exporter.config import parse_config
from exporter.demo.fake_backup import DEFAULT_ACCOUNT_ID, FakeBackup, RestoreJobStore
from exporter.scheduler import Exporter
from tests.offline_aws import OFFLINE_AWS_ENV, UNSET_AWS_ENV

ACCOUNT = DEFAULT_ACCOUNT_ID  # the fake puts every access key in this account (as moto does)
STORE = RestoreJobStore()  # the jobs the session's fake AWS Backup serves; put_job writes here


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real AWS account, nor the instance metadata service, from a test."""
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in UNSET_AWS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def backup_server() -> Iterator[FakeBackup]:
    """The session's fake AWS Backup (exporter/demo/fake_backup), serving ``STORE``. Use it for
    its counters and ``fail_next``; ask for ``backup`` too, so that it starts the test empty."""
    fake = FakeBackup(store=STORE)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def backup(backup_server: FakeBackup) -> str:
    """The fake AWS Backup's endpoint URL, with no jobs, counts or queued faults at the start of
    the test."""
    backup_server.reset()
    return backup_server.url


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the session, for moto's own services (STS, Organizations); AWS
    Backup is the fake's (``backup``)."""
    from moto.server import ThreadedMotoServer  # imported only by the tests that need it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_url: str) -> str:
    """The moto server's URL, emptied before each test."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_url


class Clock:
    """A settable wall clock for the exporter, so windows and durations are exact."""

    def __init__(self, start: float | None = None) -> None:
        # whole seconds: AWS timestamps carry milliseconds, so exact comparisons stay exact
        self.now = float(int(time.time())) if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_exporter(backup: str) -> Iterator[Callable[..., Exporter]]:
    """Build exporters on the fake AWS Backup from a config dict; closed after the test."""
    made: list[Exporter] = []

    def build(
        config: dict | None = None, clock: Callable[[], float] = time.time, **target: object
    ) -> Exporter:
        if config is None:
            config = {"targets": [{"name": "main", "region": "us-east-1", **target}]}
        for entry in config["targets"]:
            entry.setdefault("endpoint_url", backup)
        exporter = Exporter(parse_config(config), clock=clock)
        made.append(exporter)
        return exporter

    yield build
    for exporter in made:
        exporter.close()


def put_job(region: str = "us-east-1", **fields: object) -> str:
    """Store a job in the fake AWS Backup (``RestoreJobStore.put``: fields checked against the
    model, defaults filled in); returns its ID."""
    fields.setdefault("ResourceType", "EBS")
    return STORE.put(ACCOUNT, region, **fields)


def update_job(job_id: str, region: str = "us-east-1", **fields: object) -> None:
    """Change fields of a stored job (``RestoreJobStore.update``: ``None`` removes a field)."""
    STORE.update(ACCOUNT, region, job_id, **fields)


def put_plan(region: str = "us-east-1", **fields: object) -> str:
    """Store a restore testing plan (``RestoreTestingStore.put_plan``: fields of
    RestoreTestingPlanForGet checked against the model and AWS's rules, AWS's defaults filled
    in, the ARN minted unless given); returns its ARN."""
    return STORE.testing.put_plan(ACCOUNT, region, **fields)


def put_selection(plan_name: str, region: str = "us-east-1", **fields: object) -> str:
    """Store a selection of a stored plan (``RestoreTestingStore.put_selection``: fields of
    RestoreTestingSelectionForGet); returns its name."""
    return STORE.testing.put_selection(ACCOUNT, region, plan_name, **fields)


def set_last_execution(
    plan_name: str, when: datetime | float | None, region: str = "us-east-1"
) -> None:
    """Set a plan's LastExecutionTime (a datetime or epoch seconds; None removes it)."""
    STORE.testing.set_last_execution(ACCOUNT, region, plan_name, when)


def put_plan_job(
    plan_name: str, selection_name: str | None = None, region: str = "us-east-1", **fields: object
) -> str:
    """Store a restore job the plan created (CreatedBy.RestoreTestingPlanArn; with a selection,
    its resource type, role and first ARN unless given); returns the job's ID."""
    return STORE.testing.put_plan_job(ACCOUNT, region, plan_name, selection_name, **fields)


def record_run(
    plan_name: str, when: datetime | float, jobs: Iterable[dict] = (), region: str = "us-east-1"
) -> list[str]:
    """A run of the plan: LastExecutionTime ``when`` and one job per dict of ``put_plan_job``
    arguments in ``jobs`` (CreationDate ``when`` unless given); returns the jobs' IDs."""
    return STORE.testing.record_run(ACCOUNT, region, plan_name, when, jobs)


def put_protected_resource(region: str = "us-east-1", **fields: object) -> str:
    """Store a protected resource (``ProtectedResourceStore.put``: members of
    DescribeProtectedResourceOutput but the Latest* ones, which DescribeProtectedResource
    derives from the restore jobs whose SourceResourceArn it is); returns its ARN."""
    return STORE.protected.put(ACCOUNT, region, **fields)


class Gate:
    """Holds requests in a botocore before-send hook until released: a sync that is 'slow'
    exactly as long as a test wants, without sleeping."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def hook(self, **_: object) -> None:
        self.entered.set()
        if not self.released.wait(timeout=30):
            raise AssertionError("gate never released")
