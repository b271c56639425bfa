"""AWS faults on the wire: the scrape still answers, the other target is intact, the fault
shows in the health metrics and in one log line, and recovery needs nothing but time."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from tests.conftest import put_job
from tests.faulty_proxy import HANG, THROTTLED, Fault, FaultyProxy, aws_error
from tests.scraped import Scraped

GOOD = {"target": "good", "region": "us-east-1"}
BAD = {"target": "bad", "region": "us-east-1"}


@pytest.fixture
def proxy(moto):
    faulty = FaultyProxy(moto)
    yield faulty
    faulty.close()


def two_targets(make_exporter, proxy_url, **sections):
    config = {
        "targets": [
            {"name": "good", "region": "us-east-1"},
            {"name": "bad", "region": "us-east-1", "endpoint_url": proxy_url},
        ],
        "aws": {"max_attempts": 2, "connect_timeout": "1s", "read_timeout": "1s"},
        "sync": {"deadline": "5s"},
    }
    config.update(sections)
    exporter = make_exporter(config)
    return exporter, Scraped(exporter)


def reason(registry, labels):
    """The target's down reason as exposed, from a single collect (one scrape)."""
    return registry.state("aws_backup_restore_exporter_target_down_reason", "reason", **labels)


def jobs_of(scrape, name):
    return next(s for s in scrape.snapshots if s.target.name == name).jobs


def test_throttling_is_retried_counted_and_never_fails_the_scrape(make_exporter, proxy):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.inject(THROTTLED, THROTTLED)
    exporter, registry = two_targets(make_exporter, proxy.url, aws={"max_attempts": 4})
    scrape = exporter.scrape()
    assert job in jobs_of(scrape, "bad")
    assert registry.get_sample_value("aws_backup_restore_exporter_target_up", BAD) == 1
    assert (
        registry.get_sample_value(
            "aws_backup_restore_exporter_api_requests_total",
            {"target": "bad", "operation": "ListRestoreJobs", "outcome": "throttled"},
        )
        == 2
    )


@pytest.mark.parametrize(
    ("fault", "expected_reason"),
    [
        (THROTTLED, "throttled"),
        (aws_error(429, "TooManyRequestsException"), "throttled"),
        (aws_error(503, "ServiceUnavailableException"), "unavailable"),
        (aws_error(500, "DependencyFailureException"), "unavailable"),
        (aws_error(403, "AccessDeniedException", "not authorized"), "auth"),
        (
            aws_error(400, "ExpiredTokenException", "The security token included has expired"),
            "auth",
        ),
        (Fault(status=502, body=b"<html>Bad Gateway</html>"), "unavailable"),
        (Fault(status=200, body=b'{"RestoreJobs": [{"RestoreJobId": "x"'), "other"),
        (Fault(status=200, body=b"not json at all"), "other"),
        (HANG, "timeout"),
    ],
    ids=[
        "throttled",
        "429",
        "503",
        "dependency",
        "denied",
        "expired",
        "html-502",
        "truncated",
        "non-json",
        "read-timeout",
    ],
)
def test_a_failing_target_is_reported_while_the_other_is_served(
    make_exporter, proxy, fault, expected_reason, caplog
):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = fault
    exporter, registry = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.WARNING, logger="exporter"):
        started = time.monotonic()
        scrape = exporter.scrape()
        elapsed = time.monotonic() - started
    assert elapsed < 5 + 1  # within the deadline (plus scheduling slack)
    assert job in jobs_of(scrape, "good")
    assert jobs_of(scrape, "bad") == {}
    health = {h.name: h for h in scrape.health}
    assert health["good"].up
    assert not health["bad"].up
    assert health["bad"].down_reason == expected_reason
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "target bad" in warnings[0]
    assert f"reason={expected_reason}" in warnings[0]
    assert reason(registry, BAD) == expected_reason


def test_connection_refused_is_unavailable(make_exporter):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    exporter, registry = two_targets(make_exporter, f"http://127.0.0.1:{port}")
    assert reason(registry, BAD) == "unavailable"
    assert reason(registry, GOOD) is None
    assert exporter.scrape().health[0].up


def test_repeated_failures_log_once_and_recovery_is_automatic(make_exporter, proxy, caplog):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.default = aws_error(503, "ServiceUnavailableException")
    exporter, registry = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(3):
            exporter.scrape()
        proxy.default = None  # the fault clears
        scrape = exporter.scrape()
    messages = [r.getMessage() for r in caplog.records if "target bad" in r.getMessage()]
    assert len([m for m in messages if "sync failed" in m]) == 1
    assert any("recovered" in m for m in messages)
    assert job in jobs_of(scrape, "bad")
    assert registry.get_sample_value("aws_backup_restore_exporter_target_up", BAD) == 1


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
