"""Background sync (``sync.interval``): every target synced on its own schedule, spread over the
interval, and a scrape answered from memory.

The schedule itself with a fake clock and recording stand-ins for TargetSync (a new target at
once, then at its phase at least half an interval on, then every interval; phases spread; a late
tick skipping missed rounds; a gone target dropped); then real TargetSyncs on the fake AWS
Backup: a long sync joined rather than doubled, the client and its connections let go after a
sync at long intervals (seen as the sockets open to the fake), and an exporter whose scrapes
make no AWS request while ticks refresh its data.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from exporter.background import KEEP_CONNECTIONS_BELOW_SECONDS, BackgroundSync, phase
from exporter.config import TargetConfig, parse_config
from exporter.demo.fake_backup import FakeBackup, RestoreJobStore
from exporter.scheduler import Exporter
from tests.conftest import Clock, put_job
from tests.scraped import Scraped
from tests.waiting import eventually

INTERVAL = 60.0
STEP = 0.5  # seconds between ticks of the fake clock (the real thread ticks every second)
START = 1_000_017.25  # not a multiple of the interval: phases are positions within it


class RecordingSync:
    """What BackgroundSync uses of a TargetSync: its target's name, ``refresh()`` (a sync that
    finishes at once, recorded at the clock's time) and ``close_connections_after_sync``."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.target = TargetConfig(name=name, region="us-east-1")
        self.close_connections_after_sync = False
        self.clock = clock
        self.started: list[float] = []

    def refresh(self) -> Future[None]:
        self.started.append(self.clock())
        done: Future[None] = Future()
        done.set_result(None)
        return done


def syncs(names: list[str], clock: Clock) -> list[RecordingSync]:
    return [RecordingSync(name, clock) for name in names]


def run(schedule: BackgroundSync, clock: Clock, until: float) -> list[int]:
    """Tick every STEP seconds while the clock is before ``until``; what each tick started."""
    started = []
    while clock() < until:
        started.append(schedule.tick())
        clock.advance(STEP)
    return started


def offset(when: float, name: str, interval: float = INTERVAL) -> float:
    """How far past the target's phase a time is, within the interval."""
    return (when - phase(name, interval)) % interval


NAMES = [f"us-east-1/{210000000000 + 7919 * i:012d}" for i in range(20)]
NAMES += [f"eu-west-1/{330000000000 + 13 * i:012d}" for i in range(20)]


# ---- the schedule -----------------------------------------------------------------------------


def test_a_new_target_syncs_at_once_then_at_its_phase_then_every_interval():
    clock = Clock(START)
    targets = syncs(NAMES, clock)
    schedule = BackgroundSync(INTERVAL, lambda: targets, clock)
    run(schedule, clock, START + 4 * INTERVAL)
    waited = []
    for sync in targets:
        name, first, second, *later = sync.target.name, *sync.started
        assert first == START, name  # at once, on the first tick that sees it
        # the second at its phase, at least half an interval after the first (so a target that
        # joins just before its phase does not sync twice in a row), within 1.5 intervals
        assert second - first >= INTERVAL / 2, (name, second - first)
        assert second - first < 1.5 * INTERVAL + STEP, (name, second - first)
        assert offset(second, name) < STEP, (name, offset(second, name))
        waited.append(second - first)
        # then every interval, at the same phase
        times = [second, *later]
        assert len(times) in (3, 4), (name, times)
        for previous, following in itertools.pairwise(times):
            assert following - previous == pytest.approx(INTERVAL, abs=STEP), (name, times)
            assert offset(following, name) < STEP, name
    # both cases happen among these 40 names: a phase more than half an interval ahead is
    # taken in this round, a nearer one waits for the next round
    assert min(waited) < INTERVAL < max(waited), waited


def test_phases_are_stable_and_within_the_interval():
    for name in NAMES:
        assert 0 <= phase(name, INTERVAL) < INTERVAL
        assert phase(name, INTERVAL) == phase(name, INTERVAL)
        assert phase(name, 2 * INTERVAL) == pytest.approx(2 * phase(name, INTERVAL))
    assert len({phase(name, INTERVAL) for name in NAMES}) == len(NAMES)


def test_phases_spread_over_the_interval():
    # 600 targets in 10 windows of 6 s: Binomial(600, 0.1), mean 60, sd 7.3; each window within
    # 4 sd of the mean. A uniform hash misses that with a chance of about 6e-5 per window, a
    # bunched schedule (everyone at 0, or at the start) by far; and SHA-256 of these fixed names
    # is deterministic, so the bound holds on every run or on none: it cannot flake.
    names = [f"region-{i % 7}/{100000000000 + 31 * i:012d}" for i in range(600)]
    windows = 10
    mean = len(names) / windows
    bound = 4 * math.sqrt(len(names) * (1 / windows) * (1 - 1 / windows))
    by_phase = [0] * windows
    for name in names:
        by_phase[int(phase(name, INTERVAL) // (INTERVAL / windows))] += 1
    assert all(abs(count - mean) <= bound for count in by_phase), (by_phase, bound)

    # and the schedule follows them: one round in steady state starts every target once, and
    # spread the same way (no tick starting many of them at once)
    clock = Clock(START)
    targets = syncs(names, clock)
    schedule = BackgroundSync(INTERVAL, lambda: targets, clock)
    assert schedule.tick() == len(names)  # all new: all at once, the one time that is right
    clock.advance(STEP)
    run(schedule, clock, START + 2 * INTERVAL)
    round_start = clock()
    per_tick = run(schedule, clock, round_start + INTERVAL)
    assert sum(per_tick) == len(names)
    assert all(len([t for t in s.started if t >= round_start]) == 1 for s in targets)
    by_window = [
        sum(per_tick[i : i + len(per_tick) // windows])
        for i in range(0, len(per_tick), len(per_tick) // windows)
    ]
    assert all(abs(count - mean) <= bound for count in by_window), (by_window, bound)
    # per tick of 0.5 s: Binomial(600, 1/120), mean 5, sd 2.2; 4 sd above is 13.9
    assert max(per_tick) <= 14, max(per_tick)


def test_a_late_tick_skips_the_missed_rounds_and_keeps_each_phase():
    clock = Clock(START)
    names = [f"us-east-1/{400000000000 + 17 * i:012d}" for i in range(200)]
    targets = syncs(names, clock)
    schedule = BackgroundSync(INTERVAL, lambda: targets, clock)
    run(schedule, clock, START + 2 * INTERVAL)
    before = {s.target.name: len(s.started) for s in targets}

    clock.advance(5.5 * INTERVAL)  # the process was paused (a stopped container, a GC storm)
    late = clock()
    schedule.tick()
    # every target was due, and syncs once: not once per missed round
    assert [len(s.started) - before[s.target.name] for s in targets] == [1] * len(targets)

    clock.advance(STEP)
    per_tick = run(schedule, clock, late + 2 * INTERVAL)
    for sync in targets:
        after = [t for t in sync.started if t > late]
        # back on its own phase, not bunched at late + interval
        assert after, sync.target.name
        assert all(offset(t, sync.target.name) < STEP for t in after), sync.target.name
        assert len(after) in (1, 2), (sync.target.name, after)
    # Binomial(200, 1/120) per tick: mean 1.7, sd 1.3; 4 sd above is 6.8
    assert max(per_tick) <= 7, max(per_tick)


def test_a_gone_target_is_dropped_and_syncs_at_once_when_it_returns():
    clock = Clock(START)
    a, b, c = syncs(["a", "b", "c"], clock)
    current = [a, b, c]
    schedule = BackgroundSync(INTERVAL, lambda: current, clock)
    # until b has synced at its phase (its second sync)
    while len(b.started) < 2:
        schedule.tick()
        clock.advance(STEP)
    synced_at = b.started[-1]
    current = [a, c]  # b leaves (an account left the organisation)
    run(schedule, clock, synced_at + 1)
    assert b.started[-1] == synced_at  # not synced while gone
    current = [a, b, c]  # and comes back well before its next phase
    back = clock()
    assert back - synced_at < INTERVAL / 2
    schedule.tick()
    # a target the schedule had kept would wait for synced_at + interval; a dropped one is new
    assert b.started[-1] == back
    clock.advance(STEP)
    run(schedule, clock, back + INTERVAL / 2)
    assert b.started[-1] == back  # and then waits at least half an interval, as a new one does


def test_connections_are_closed_after_a_sync_only_at_long_intervals():
    assert KEEP_CONNECTIONS_BELOW_SECONDS == 30
    for interval, closes in ((29.0, False), (30.0, True), (3600.0, True)):
        clock = Clock(START)
        targets = syncs(NAMES[:5], clock)
        schedule = BackgroundSync(interval, lambda t=targets: t, clock)
        run(schedule, clock, START + 3 * interval)
        for sync in targets:
            # the sync closes its client's connections as it ends (TargetSync._sync_guarded,
            # before the next sync can start); the real-sync test below watches them close
            assert sync.close_connections_after_sync is closes, (interval, sync.target.name)


# ---- real TargetSyncs on the fake AWS Backup --------------------------------------------------


@pytest.fixture
def own_backup() -> Iterator[FakeBackup]:
    """A fake AWS Backup of the test's own: its port sees only this test's connections."""
    fake = FakeBackup(store=RestoreJobStore())
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def exporters() -> Iterator[list[Exporter]]:
    made: list[Exporter] = []
    yield made
    for exporter in made:
        exporter.close()


def background_exporter(
    made: list[Exporter], endpoint: str, interval: str, clock: Clock, **sync: object
) -> Exporter:
    """An exporter of one static target in background mode, its schedule on ``clock``."""
    config = {
        "targets": [{"name": "main", "region": "us-east-1", "endpoint_url": endpoint}],
        "sync": {"interval": interval, **sync},
    }
    exporter = Exporter(parse_config(config), schedule_clock=clock)
    made.append(exporter)
    assert exporter.background is not None
    return exporter


PROC_NET_TCP = Path("/proc/net/tcp")


def open_connections_to(port: int) -> int:
    """ESTABLISHED TCP connections whose remote end is ``port`` on this host: the sockets the
    exporter (a client in this process) holds open to the fake."""
    assert PROC_NET_TCP.exists(), "needs Linux's /proc/net/tcp"
    count = 0
    for line in PROC_NET_TCP.read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if int(remote.split(":")[1], 16) == port and state == "01":
            count += 1
    return count


def port_of(fake: FakeBackup) -> int:
    return int(fake.url.rsplit(":", 1)[1])


@pytest.mark.parametrize(("interval", "closed"), [("29s", False), ("30s", True), ("5m", True)])
def test_idle_connections_are_closed_after_a_background_sync_at_30s_and_more(
    exporters, own_backup, interval, closed
):
    clock = Clock(START)
    exporter = background_exporter(exporters, own_backup.url, interval, clock)
    port = port_of(own_backup)
    assert open_connections_to(port) == 0
    assert exporter.background is not None
    for round_number in (1, 2):  # the first sync, and one at the target's phase
        requests = own_backup.requests()
        assert exporter.background.tick() == 1
        (sync,) = exporter.syncers
        future = sync.refresh()  # joins the sync the tick started
        assert future is not None
        future.result(timeout=30)
        assert own_backup.requests() > requests, round_number  # it did talk to the fake
        if closed:

            def all_closed() -> None:
                assert open_connections_to(port) == 0

            eventually(all_closed, timeout=10, what="the sync's connections closed")
        else:  # kept alive for the next sync, which is soon
            assert open_connections_to(port) >= 1, round_number
        clock.advance(1.5 * exporter.background.interval + 1)
    up = Scraped(exporter).get_sample_value(
        "aws_backup_restore_exporter_target_up", {"target": "main", "region": "us-east-1"}
    )
    assert up == 1.0  # closing the pool between syncs costs the target nothing


@pytest.mark.parametrize(
    ("background", "rate_limit", "one_connection"),
    [(True, {}, True), (False, {}, False), (True, {"list_concurrency": 3}, False)],
    ids=["background", "on-the-scrape", "background-configured-parallel"],
)
def test_a_background_sync_runs_its_queries_on_one_connection(
    exporters, own_backup, background, rate_limit, one_connection
):
    """Each new connection to AWS is a TLS handshake: a background sync, which nobody waits for,
    sends its queries one after another on one connection unless list_concurrency says
    otherwise; a sync on the scrape path runs its list queries side by side, for the scrape."""
    own_backup.latency = 0.2  # queries side by side overlap, each on a connection of its own
    config = {
        "targets": [{"name": "main", "region": "us-east-1", "endpoint_url": own_backup.url}],
        "rate_limit": rate_limit,
    }
    if background:
        config["sync"] = {"interval": "60s"}
    exporter = Exporter(parse_config(config), schedule_clock=Clock(START))
    exporters.append(exporter)
    if exporter.background is not None:
        assert exporter.background.tick() == 1
        (sync,) = exporter.syncers
        future = sync.refresh()
        assert future is not None
        future.result(timeout=30)
    else:
        exporter.scrape()
    assert own_backup.requests("ListRestoreJobs") == 3  # a first sync's three list queries
    assert (own_backup.connections() == 1) is one_connection


def test_a_long_sync_is_joined_by_later_ticks_not_doubled(exporters, own_backup):
    # what one sync, then a second, costs at the fake, from another exporter of the same target
    clock = Clock(START)
    reference = background_exporter(exporters, own_backup.url, "60s", Clock(START))
    (ref,) = reference.syncers
    before = own_backup.requests()
    ref.sync_once()
    first_sync = own_backup.requests() - before
    ref.sync_once()
    second_sync = own_backup.requests() - before - first_sync
    assert first_sync >= 1
    assert second_sync >= 1

    exporter = background_exporter(exporters, own_backup.url, "60s", clock)
    assert exporter.background is not None
    (sync,) = exporter.syncers
    entered = threading.Semaphore(0)
    release = threading.Event()

    def hold(**_: object) -> None:  # every request of this target waits here, counted
        entered.release()
        assert release.wait(30), "never released"

    sync.api.client.meta.events.register("before-send.backup.*", hold)
    start = own_backup.requests()
    try:
        assert exporter.background.tick() == 1
        assert entered.acquire(timeout=10)  # the sync is under way, held at its first request
        running = sync.refresh()
        # the sync runs past two of its due times (the first within 1.5 intervals, the next an
        # interval on); each tick joins it
        for wait in (1.5 * INTERVAL + 1, INTERVAL + 1):
            clock.advance(wait)
            assert exporter.background.tick() == 1
        assert sync.refresh() is running
    finally:
        release.set()
    assert running is not None
    running.result(timeout=30)
    # a sync queued behind it (the pool has one worker: one static target) would run before
    # this one, so once this finishes, everything the ticks asked for has run
    after = sync.refresh()
    assert after is not None
    assert after is not running
    after.result(timeout=30)
    assert own_backup.requests() - start == first_sync + second_sync


def test_a_scrape_in_background_mode_asks_aws_nothing_while_ticks_refresh(
    make_exporter, backup_server, clock
):
    config = {
        "targets": [{"name": "main", "region": "us-east-1"}],
        "sync": {"interval": "60s"},
    }
    exporter = make_exporter(config, clock=clock)
    schedule = exporter.background
    assert schedule is not None
    monotonic = Clock(START)
    schedule._clock = monotonic  # see background_exporter
    first_job = put_job(Status="COMPLETED")

    def jobs() -> set[str]:
        return {
            s.labels["restore_job_id"]
            for s in Scraped(exporter).samples()
            if s.name == "aws_backup_restore_job_info"
        }

    def synced(*expected: str) -> None:  # the sync over (restore testing after the jobs)
        assert jobs() == set(expected)
        assert not exporter.syncers[0].snapshot().syncing

    assert jobs() == set()  # before any tick: no data, and no request for it
    assert backup_server.requests() == 0

    assert schedule.tick() == 1
    eventually(lambda: synced(first_job), 30, "the first sync")
    first_sync = backup_server.requests()
    assert first_sync >= 1

    second_job = put_job(Status="RUNNING")
    for _ in range(5):
        assert jobs() == {first_job}  # answered from memory
    assert schedule.tick() == 0  # not due yet
    assert backup_server.requests() == first_sync

    monotonic.advance(1.5 * INTERVAL)  # past the target's phase
    clock.advance(1.5 * INTERVAL)
    assert schedule.tick() == 1
    eventually(lambda: synced(first_job, second_job), 30, "the tick's sync, the new job")
    refreshed = backup_server.requests()
    assert refreshed > first_sync
    for _ in range(5):
        Scraped(exporter).samples()
    assert backup_server.requests() == refreshed


@pytest.mark.parametrize("interval", ["60s", "15m"])
def test_a_transient_failure_in_background_mode_keeps_the_last_known_jobs(
    make_exporter, backup_server, clock, interval
):
    # sync.stale_data_max_age (10m by default) is how long a failing target's last known jobs
    # are served "so that alerts do not flap on a transient error" (README). In background mode
    # the data is already about an interval old when the next sync runs: at an interval of 15m,
    # one throttled sync must not take every job of the target off /metrics at once.
    config = {
        "targets": [{"name": "main", "region": "us-east-1", "restore_testing": {"enabled": False}}],
        "sync": {"interval": interval},
        "aws": {"max_attempts": 1},
    }
    exporter = make_exporter(config, clock=clock)
    schedule = exporter.background
    assert schedule is not None
    monotonic = Clock(START)
    schedule._clock = monotonic  # see background_exporter
    job = put_job(Status="COMPLETED")

    def seen() -> tuple[float | None, set[str]]:
        samples = Scraped(exporter).samples()
        up = [s.value for s in samples if s.name == "aws_backup_restore_exporter_target_up"]
        jobs = {
            s.labels["restore_job_id"] for s in samples if s.name == "aws_backup_restore_job_info"
        }
        return (up[0] if up else None), jobs

    def synced_with(up: float) -> None:
        assert not exporter.syncers[0].snapshot().syncing
        assert seen()[0] == up

    assert schedule.tick() == 1
    eventually(lambda: synced_with(1.0), 30, "the first sync")
    assert seen() == (1.0, {job})

    backup_server.fail_next(10, "ThrottlingException", "Rate exceeded")
    wait = 1.5 * schedule.interval + 1  # past the target's phase, as the real clocks would be
    monotonic.advance(wait)
    clock.advance(wait)
    assert schedule.tick() == 1
    eventually(lambda: synced_with(0.0), 30, "the throttled sync")
    assert seen() == (0.0, {job})  # down, and its jobs still served
