"""AWS faults on the wire (tests/faulty_proxy.py): throttling and throttling storms, 5xx and 4xx
errors, broken bodies, read timeouts, connections refused or reset before and in the middle of a
response, an assumed-role session that expires, a role that cannot be assumed.

For each: the scrape answers with the fault's outcome, the other target is intact, the fault
shows in the health metrics of that very scrape and in one log line, and the target comes back
by itself once the fault clears. A scrape never waits for AWS past its deadline: shown with a
request held until after the scrape has answered. (How long each fault makes a scrape take is
measured by bench/faults.py, not asserted here.)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pytest

from tests.conftest import ACCOUNT, put_job
from tests.faulty_proxy import (
    FAULTS,
    HANG,
    RESET_MID_RESPONSE,
    STS_ACCESS_DENIED,
    THROTTLED,
    Fault,
    FaultyProxy,
    assume_role_response,
    aws_error,
)
from tests.network import free_port
from tests.scraped import Scraped
from tests.waiting import wait_until

DEADLINE = 5.0
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BackupRestoreReader"
GOOD = {"target": "good", "region": "us-east-1"}
BAD = {"target": "bad", "region": "us-east-1"}
TARGET_UP = "aws_backup_restore_exporter_target_up"
DOWN_REASON = "aws_backup_restore_exporter_target_down_reason"
API_REQUESTS = "aws_backup_restore_exporter_api_requests_total"


@pytest.fixture
def proxy(backup):
    faulty = FaultyProxy(backup)
    yield faulty
    faulty.close()


@pytest.fixture
def sts(moto):
    """A proxy in front of moto's STS: counts AssumeRole calls, can answer them itself."""
    faulty = FaultyProxy(moto)
    yield faulty
    faulty.close()


def two_targets(make_exporter, proxy_url, bad=None, **sections):
    """A good target straight on moto and a bad one behind ``proxy_url``."""
    config = {
        "targets": [
            {"name": "good", "region": "us-east-1"},
            {"name": "bad", "region": "us-east-1", "endpoint_url": proxy_url, **(bad or {})},
        ],
        "aws": {"max_attempts": 2, "connect_timeout": "1s", "read_timeout": "1s"},
        "sync": {"deadline": f"{DEADLINE:g}s"},
    }
    config.update(sections)
    return make_exporter(config)


class Seen:
    """One scrape, seen both ways: the Scrape (which target holds which job; two targets on one
    account share each job's series) and /metrics as rendered from that very scrape."""

    def __init__(self, exporter) -> None:
        self.scrape = exporter.scrape()
        self.metrics = Scraped.of(self.scrape)

    def snapshot(self, name):
        return next(s for s in self.scrape.snapshots if s.target.name == name)

    def jobs(self, name):
        return self.snapshot(name).jobs

    def reason(self, target):
        """The target's down reason as /metrics shows it (the state set's 1), or None when up;
        target_up must agree."""
        current = self.metrics.state(DOWN_REASON, "reason", target=target)
        (up,) = [  # a target with a role_arn has its account_id label too
            sample.value
            for sample in self.metrics.samples()
            if sample.name == TARGET_UP and sample.labels["target"] == target
        ]
        assert up == (0 if current else 1)
        return current

    def api_requests(self, target, outcome):
        """Attempts sent for the target with this outcome, over all operations, as exposed."""
        return sum(
            sample.value
            for sample in self.metrics.samples()
            if sample.name == API_REQUESTS
            and sample.labels["target"] == target
            and sample.labels["outcome"] == outcome
        )

    def settled(self):
        """The scrape answered with every target's outcome in: no sync was left running."""
        assert not [s.target.name for s in self.scrape.snapshots if s.syncing]
        return self


def observe(exporter):
    """One scrape of faults that fail fast: their outcome is what the scrape shows."""
    return Seen(exporter).settled()


def warnings_about(caplog, target):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and f"target {target}" in r.getMessage()
    ]


def assert_good_target_intact(seen, job):
    good = seen.snapshot("good")
    assert good.up
    assert job in good.jobs
    assert seen.reason("good") is None


def assert_recovered(seen, caplog, job):
    assert seen.reason("bad") is None
    assert job in seen.jobs("bad")
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)


# -- faults of the AWS Backup endpoint, each with its recovery -------------------------------

# The down reason each fault of FAULTS must show as.
REASONS = {
    "internal-server-error": "unavailable",
    "throttled": "throttled",
    "429": "throttled",
    "503": "unavailable",
    "dependency": "unavailable",
    "denied": "auth",
    "expired": "auth",
    "expired-token": "auth",
    "html-502": "unavailable",
    "truncated": "other",
    "non-json": "other",
    "read-timeout": "timeout",
    "reset-mid-response": "unavailable",
    "reset-before-response": "unavailable",
}


@dataclass(frozen=True)
class Failing:
    exporter: object
    job: str
    reason: str  # the down reason the fault must show as


@pytest.fixture(params=list(FAULTS))
def failing(request, make_exporter, proxy):
    """Two targets, the bad one behind each fault of FAULTS in turn; a FAILED job on both."""
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = FAULTS[request.param]
    return Failing(two_targets(make_exporter, proxy.url), job, REASONS[request.param])


def test_throttling_is_retried_counted_and_never_fails_the_scrape(make_exporter, proxy):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.inject(THROTTLED, THROTTLED)
    seen = observe(two_targets(make_exporter, proxy.url, aws={"max_attempts": 4}))
    assert job in seen.jobs("bad")
    assert seen.metrics.get_sample_value(TARGET_UP, BAD) == 1
    assert (
        seen.metrics.get_sample_value(
            API_REQUESTS, {"target": "bad", "operation": "ListRestoreJobs", "outcome": "throttled"}
        )
        == 2
    )


def test_a_failing_target_is_reported_while_the_other_is_served(failing, caplog):
    job, expected_reason = failing.job, failing.reason
    with caplog.at_level(logging.WARNING, logger="exporter"):
        seen = observe(failing.exporter)  # the fault's outcome was in when the scrape answered
    scrape = seen.scrape
    assert job in seen.jobs("good")
    assert seen.jobs("bad") == {}
    health = {h.name: h for h in scrape.health}
    assert health["good"].up
    assert not health["bad"].up
    assert health["bad"].down_reason == expected_reason
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "target bad" in warnings[0]
    assert f"reason={expected_reason}" in warnings[0]
    assert seen.reason("bad") == expected_reason


def test_every_fault_is_reported_once_and_recovers_by_itself(failing, proxy, caplog):
    exporter, job, expected_reason = failing.exporter, failing.job, failing.reason
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            seen = observe(exporter)
            assert_good_target_intact(seen, job)
            assert seen.reason("bad") == expected_reason
            assert seen.jobs("bad") == {}
        (warning,) = warnings_about(caplog, "bad")  # once, not once per scrape
        assert f"reason={expected_reason}" in warning
        proxy.default = None  # the fault clears
        seen = observe(exporter)
    assert_recovered(seen, caplog, job)
    assert_good_target_intact(seen, job)


def test_repeated_failures_log_once_and_recovery_is_automatic(make_exporter, proxy, caplog):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.default = aws_error(503, "ServiceUnavailableException")
    exporter = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(3):
            exporter.scrape()
        proxy.default = None  # the fault clears
        seen = observe(exporter)
    messages = [r.getMessage() for r in caplog.records if "target bad" in r.getMessage()]
    assert len([m for m in messages if "sync failed" in m]) == 1
    assert any("recovered" in m for m in messages)
    assert job in seen.jobs("bad")
    assert seen.metrics.get_sample_value(TARGET_UP, BAD) == 1


@pytest.mark.parametrize(
    "fault", ["internal-server-error", "reset-mid-response", "reset-before-response"]
)
def test_server_errors_and_resets_are_retried_before_the_target_is_down(
    make_exporter, proxy, fault
):
    put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.default = FAULTS[fault]
    seen = observe(two_targets(make_exporter, proxy.url, aws={"max_attempts": 3}))
    assert seen.reason("bad") == "unavailable"
    assert seen.api_requests("bad", "unavailable") >= 3  # one failed call = three attempts


def test_a_reset_that_clears_before_the_retries_run_out_costs_nothing(make_exporter, proxy):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.inject(RESET_MID_RESPONSE)
    seen = observe(two_targets(make_exporter, proxy.url, aws={"max_attempts": 3}))
    assert seen.reason("bad") is None
    assert job in seen.jobs("bad")
    assert seen.api_requests("bad", "unavailable") == 1


def test_connection_refused_is_unavailable(make_exporter):
    seen = observe(two_targets(make_exporter, f"http://127.0.0.1:{free_port()}"))
    assert seen.reason("bad") == "unavailable"
    assert seen.reason("good") is None
    assert seen.scrape.health[0].up


def test_connection_refused_recovers_when_the_endpoint_comes_back(make_exporter, proxy, caplog):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.refuse_connections()
    exporter = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            seen = observe(exporter)
            assert_good_target_intact(seen, job)
            assert seen.reason("bad") == "unavailable"
        (warning,) = warnings_about(caplog, "bad")
        assert "EndpointConnectionError" in warning
        proxy.accept_connections()  # the endpoint is back, on the same port
        seen = observe(exporter)
    assert_recovered(seen, caplog, job)


def test_transient_failure_serves_last_known_jobs_until_they_go_stale(make_exporter, proxy, clock):
    job = put_job(Status="FAILED", CreationDate=clock.now - 60)
    config = {
        "targets": [{"name": "bad", "region": "us-east-1", "endpoint_url": proxy.url}],
        "aws": {"max_attempts": 1},
        "sync": {"stale_data_max_age": "10m"},
    }
    exporter = make_exporter(config, clock=clock)
    assert job in exporter.scrape().snapshots[0].jobs
    proxy.default = aws_error(503, "ServiceUnavailableException")
    clock.advance(60)
    snapshot = exporter.scrape().snapshots[0]
    assert not snapshot.up
    assert job in snapshot.jobs  # a blip must not make the failed-restore alert resolve
    clock.advance(600)
    assert exporter.scrape().snapshots[0].jobs == {}  # too old to show as current


def test_unknown_configured_id_is_a_lookup_error_not_a_target_failure(make_exporter):
    exporter = make_exporter(restore_job_ids=["does-not-exist"])
    scrape = exporter.scrape()
    assert scrape.health[0].up
    assert scrape.health[0].lookup_errors == {"does-not-exist": "not_found"}


# -- the deadline ----------------------------------------------------------------------------


def test_a_scrape_answers_at_the_deadline_while_aws_still_holds_the_request(
    make_exporter, proxy, caplog
):
    """AWS holds the request far longer than the read timeout would let botocore wait, and
    releases it only after the scrape has answered: the scrape cannot have waited for it."""
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = HANG
    # the default deadline: time enough for the good target's first sync on a busy machine
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 2, "read_timeout": "60s"})
    with caplog.at_level(logging.WARNING, logger="exporter"):
        seen = Seen(exporter)
        assert seen.snapshot("bad").syncing  # the sync goes on in the background
        wait_until(lambda: proxy.holding >= 1, what="the request to be held")  # not answered
        assert seen.reason("bad") == "timeout"
        assert seen.jobs("bad") == {}
        assert_good_target_intact(seen, job)
        (warning,) = warnings_about(caplog, "bad")
        assert f"sync still running after the {DEADLINE:.1f}s deadline" in warning
        assert "(none yet)" in warning
    proxy.default = None
    proxy.release()  # the held connection closes unanswered; the retry gets through

    def recovered():
        seen = Seen(exporter)
        return seen.reason("bad") is None and job in seen.jobs("bad")

    wait_until(recovered, timeout=30, what="the bad target to recover once AWS answers")


def test_a_throttling_storm_over_several_scrapes_never_fails_the_scrape(
    make_exporter, proxy, caplog
):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = THROTTLED  # every request, every attempt, for four scrapes
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 3})
    throttled = 0
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(4):
            seen = observe(exporter)
            assert_good_target_intact(seen, job)
            assert seen.reason("bad") == "throttled"
            assert seen.api_requests("bad", "throttled") >= throttled + 3  # retried, counted
            throttled = seen.api_requests("bad", "throttled")
        assert len(warnings_about(caplog, "bad")) == 1
        proxy.default = None
        seen = observe(exporter)
    assert_recovered(seen, caplog, job)


def test_a_storm_whose_retries_outlast_the_deadline_still_answers_in_time(make_exporter, proxy):
    """Backoff after throttling can take longer than a scrape may: the scrape answers at the
    deadline with what it has, and the sync goes on in the background. Here one throttled
    answer is held until after the first scrape has answered, so that sync surely outlasts it.
    (The deadline is the default one, time enough for the good target's first sync on a busy
    machine: with the held answer the bad target's sync outlasts any deadline.)"""
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = THROTTLED
    proxy.inject(Fault(status=400, code="ThrottlingException", body=THROTTLED.body, hold=True))
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 4})
    for scrape in range(3):
        seen = Seen(exporter)  # answers at the deadline, whatever the retries do
        if scrape == 0:  # answered while the throttled answer was still held
            assert seen.snapshot("bad").syncing
            wait_until(lambda: proxy.holding == 1, what="the throttled answer to be held")
            proxy.release()
        assert_good_target_intact(seen, job)
        assert seen.reason("bad") in ("throttled", "timeout")
        assert seen.jobs("bad") == {}
    proxy.default = None

    def recovered():
        seen = Seen(exporter)
        return seen.reason("bad") is None and job in seen.jobs("bad")

    wait_until(recovered, timeout=30, what="the bad target to recover after the storm")


# -- an assumed role's session ---------------------------------------------------------------


def test_an_expired_role_session_is_reported_then_re_assumed_and_recovers(
    make_exporter, proxy, sts, caplog
):
    """The first session AWS hands out is about to end and AWS already refuses it; the exporter
    reports the target as down for auth, asks STS for a new session by itself, and recovers."""
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    sts.inject(assume_role_response("ASIAOLDSESSION000001", expires_in=60))
    proxy.expired_keys.add("ASIAOLDSESSION000001")
    exporter = two_targets(
        make_exporter, proxy.url, bad={"role_arn": ROLE_ARN, "sts_endpoint_url": sts.url}
    )
    with caplog.at_level(logging.INFO, logger="exporter"):
        seen = observe(exporter)
        assert_good_target_intact(seen, job)
        assert seen.reason("bad") == "auth"
        assert "ASIAOLDSESSION000001" in proxy.keys_seen
        assert seen.api_requests("bad", "auth") >= 1
        (warning,) = warnings_about(caplog, "bad")
        assert "reason=auth" in warning
        assert "ExpiredTokenException" in warning

        seen = observe(exporter)  # nothing changed but time: the role is assumed anew
    assert sts.requests >= 2
    assert proxy.keys_seen[-1] not in (None, "ASIAOLDSESSION000001")
    assert_recovered(seen, caplog, job)
    assert_good_target_intact(seen, job)
    assert len(warnings_about(caplog, "bad")) == 1


def test_a_session_aws_ends_early_is_re_assumed_at_the_next_sync(make_exporter, proxy, sts):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    sts.inject(assume_role_response("ASIAREVOKEDSESSION01", expires_in=3600))
    proxy.expired_keys.add("ASIAREVOKEDSESSION01")
    exporter = two_targets(
        make_exporter, proxy.url, bad={"role_arn": ROLE_ARN, "sts_endpoint_url": sts.url}
    )
    assert observe(exporter).reason("bad") == "auth"
    seen = observe(exporter)
    assert seen.reason("bad") is None
    assert job in seen.jobs("bad")


def test_a_role_that_cannot_be_assumed_is_auth_and_recovers(make_exporter, proxy, sts, caplog):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    sts.default = STS_ACCESS_DENIED
    exporter = two_targets(
        make_exporter, proxy.url, bad={"role_arn": ROLE_ARN, "sts_endpoint_url": sts.url}
    )
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            seen = observe(exporter)
            assert_good_target_intact(seen, job)
            assert seen.reason("bad") == "auth"
            assert seen.jobs("bad") == {}
        assert proxy.requests == 0  # nothing was sent to AWS Backup without credentials
        sts.default = None  # the trust policy is fixed
        seen = observe(exporter)
    assert_recovered(seen, caplog, job)
    assert len(warnings_about(caplog, "bad")) == 1
