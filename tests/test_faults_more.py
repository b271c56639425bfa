"""More AWS faults on the wire, beyond tests/test_faults.py: an assumed-role session that expires,
a role that cannot be assumed, plain 500s, connections reset before and in the middle of a
response, throttling storms that last several scrapes, and automatic recovery from every fault.

For each: the scrape answers within the deadline, the other target is intact, the fault shows in
the health metrics and in one log line, and the target comes back by itself once the fault clears.
"""

from __future__ import annotations

import datetime
import logging
import re
import socket
import struct
import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from exporter.metrics import health_families
from tests.conftest import ACCOUNT, put_job, wait_until
from tests.faulty_proxy import HANG, THROTTLED, Fault, FaultyProxy, aws_error

DEADLINE = 5.0
SLACK = 1.5  # scheduling on a busy 2-core machine
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BackupRestoreReader"
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")


class WireProxy(FaultyProxy):
    """FaultyProxy plus two faults it cannot give: a connection reset (before or in the middle of
    a response), and AWS refusing the requests signed with given access keys as expired."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.resets = 0  # reset this many of the next connections (-1: every one)
        self.reset_mid_response = True
        self.expired_keys: set[str] = set()
        self.keys_seen: list[str | None] = []

    def handle(self, request) -> None:
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        key = match.group(1) if match else None
        with self._lock:
            self.keys_seen.append(key)
            reset = self.resets != 0
            if self.resets > 0:
                self.resets -= 1
        if reset:
            with self._lock:
                self.requests += 1
            self._reset(request)
        elif key in self.expired_keys:
            with self._lock:
                self.requests += 1
            send_fault(request, EXPIRED)
        else:
            super().handle(request)

    def _reset(self, request) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            request.rfile.read(length)
        if self.reset_mid_response:  # headers and the start of the body, then nothing
            request.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 4096\r\n\r\n{"RestoreJobs": [{"RestoreJobId": "cut-'
            )
        # SO_LINGER 0: close with a TCP RST, as a crashing load balancer does
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        request.connection.close()
        request.close_connection = True


def send_fault(request, fault: Fault) -> None:
    body = fault.body or b""
    request.send_response(fault.status)
    if fault.code:
        request.send_header("x-amzn-ErrorType", fault.code)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


EXPIRED = aws_error(
    400, "ExpiredTokenException", "The security token included in the request is expired"
)


def assume_role_response(access_key: str, expires_in: float) -> Fault:
    """An STS AssumeRole answer (query protocol, XML) with credentials expiring in so long."""
    expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in)
    body = f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>{access_key}</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>FwoGZXIvYXdzEXAMPLESESSIONTOKEN{access_key}</SessionToken>
      <Expiration>{expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLEROLEID:aws-backup-restore-exporter</AssumedRoleId>
      <Arn>arn:aws:sts::{ACCOUNT}:assumed-role/BackupRestoreReader/aws-backup-restore-exporter</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ResponseMetadata>
</AssumeRoleResponse>
"""
    return Fault(status=200, body=body.encode())


STS_ACCESS_DENIED = Fault(
    status=403,
    body=b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform:
  sts:AssumeRole</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000002</RequestId>
</ErrorResponse>
""",
)


@pytest.fixture
def proxy(moto):
    faulty = WireProxy(moto)
    yield faulty
    faulty.close()


@pytest.fixture
def sts(moto):
    """A proxy in front of moto's STS: counts AssumeRole calls, can answer them itself."""
    faulty = WireProxy(moto)
    yield faulty
    faulty.close()


def two_targets(make_exporter, proxy_url, bad=None, **sections):
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


def timed_scrape(exporter):
    started = time.monotonic()
    scrape = exporter.scrape()
    elapsed = time.monotonic() - started
    assert elapsed < exporter.config.sync.deadline_seconds + SLACK, elapsed
    return scrape


def snapshot(scrape, name):
    return next(s for s in scrape.snapshots if s.target.name == name)


def exposed_reason(scrape, target):
    """The target's down reason as /metrics shows it (the state set's 1), or None when up."""
    values = {}
    for family in health_families(scrape.health):
        for sample in family.samples:
            if sample.labels.get("target") != target:
                continue
            if family.name == "aws_backup_restore_exporter_target_down_reason":
                values[sample.labels["reason"]] = sample.value
            elif family.name == "aws_backup_restore_exporter_target_up":
                values["up"] = sample.value
    current = [reason for reason, value in values.items() if reason != "up" and value == 1]
    assert len(current) <= 1
    assert values["up"] == (0 if current else 1)
    return current[0] if current else None


def api_requests(scrape, target, outcome):
    health = next(h for h in scrape.health if h.name == target)
    return sum(count for (_, result), count in health.api_requests.items() if result == outcome)


def warnings_about(caplog, target):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and f"target {target}" in r.getMessage()
    ]


def assert_good_target_intact(scrape, job):
    good = snapshot(scrape, "good")
    assert good.up
    assert job in good.jobs
    assert exposed_reason(scrape, "good") is None


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
        scrape = timed_scrape(exporter)
        assert_good_target_intact(scrape, job)
        assert exposed_reason(scrape, "bad") == "auth"
        assert "ASIAOLDSESSION000001" in proxy.keys_seen
        assert api_requests(scrape, "bad", "auth") >= 1
        (warning,) = warnings_about(caplog, "bad")
        assert "reason=auth" in warning
        assert "ExpiredTokenException" in warning

        scrape = timed_scrape(exporter)  # nothing changed but time: the role is assumed anew
    assert sts.requests >= 2
    assert proxy.keys_seen[-1] not in (None, "ASIAOLDSESSION000001")
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert_good_target_intact(scrape, job)
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)
    assert len(warnings_about(caplog, "bad")) == 1


def test_a_session_aws_ends_early_is_re_assumed_at_the_next_sync(make_exporter, proxy, sts):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    sts.inject(assume_role_response("ASIAREVOKEDSESSION01", expires_in=3600))
    proxy.expired_keys.add("ASIAREVOKEDSESSION01")
    exporter = two_targets(
        make_exporter, proxy.url, bad={"role_arn": ROLE_ARN, "sts_endpoint_url": sts.url}
    )
    assert exposed_reason(timed_scrape(exporter), "bad") == "auth"
    scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs


def test_a_role_that_cannot_be_assumed_is_auth_and_recovers(make_exporter, proxy, sts, caplog):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    sts.default = STS_ACCESS_DENIED
    exporter = two_targets(
        make_exporter, proxy.url, bad={"role_arn": ROLE_ARN, "sts_endpoint_url": sts.url}
    )
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            scrape = timed_scrape(exporter)
            assert_good_target_intact(scrape, job)
            assert exposed_reason(scrape, "bad") == "auth"
            assert snapshot(scrape, "bad").jobs == {}
        assert proxy.requests == 0  # nothing was sent to AWS Backup without credentials
        sts.default = None  # the trust policy is fixed
        scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert len(warnings_about(caplog, "bad")) == 1
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)


# -- faults of the AWS Backup endpoint, each with its recovery -------------------------------

FAULTS = {
    "internal-server-error": (aws_error(500, "InternalServerError"), "unavailable"),
    "throttled": (THROTTLED, "throttled"),
    "429": (aws_error(429, "TooManyRequestsException"), "throttled"),
    "503": (aws_error(503, "ServiceUnavailableException"), "unavailable"),
    "dependency": (aws_error(500, "DependencyFailureException"), "unavailable"),
    "denied": (aws_error(403, "AccessDeniedException", "not authorized"), "auth"),
    "expired-token": (EXPIRED, "auth"),
    "html-502": (Fault(status=502, body=b"<html>Bad Gateway</html>"), "unavailable"),
    "truncated": (Fault(status=200, body=b'{"RestoreJobs": [{"RestoreJobId": "x"'), "other"),
    "non-json": (Fault(status=200, body=b"not json at all"), "other"),
    "read-timeout": (HANG, "timeout"),
    "reset-mid-response": ("reset-mid-response", "unavailable"),
    "reset-before-response": ("reset-before-response", "unavailable"),
}


def apply(proxy, fault):
    if fault == "reset-mid-response":
        proxy.resets, proxy.reset_mid_response = -1, True
    elif fault == "reset-before-response":
        proxy.resets, proxy.reset_mid_response = -1, False
    else:
        proxy.default = fault


def clear(proxy):
    proxy.resets = 0
    proxy.default = None


@pytest.mark.parametrize(("fault", "expected_reason"), FAULTS.values(), ids=list(FAULTS))
def test_every_fault_is_reported_once_and_recovers_by_itself(
    make_exporter, proxy, fault, expected_reason, caplog
):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    apply(proxy, fault)
    exporter = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            scrape = timed_scrape(exporter)
            assert_good_target_intact(scrape, job)
            assert exposed_reason(scrape, "bad") == expected_reason
            assert snapshot(scrape, "bad").jobs == {}
        (warning,) = warnings_about(caplog, "bad")  # once, not once per scrape
        assert f"reason={expected_reason}" in warning
        clear(proxy)  # the fault clears
        scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert_good_target_intact(scrape, job)
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)


@pytest.mark.parametrize(
    "fault",
    [aws_error(500, "InternalServerError"), "reset-mid-response", "reset-before-response"],
    ids=["internal-server-error", "reset-mid-response", "reset-before-response"],
)
def test_server_errors_and_resets_are_retried_before_the_target_is_down(
    make_exporter, proxy, fault
):
    put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    apply(proxy, fault)
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 3})
    scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") == "unavailable"
    assert api_requests(scrape, "bad", "unavailable") >= 3  # one failed call = three attempts


def test_a_reset_that_clears_before_the_retries_run_out_costs_nothing(make_exporter, proxy):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    proxy.resets = 1
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 3})
    scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert api_requests(scrape, "bad", "unavailable") == 1


def test_connection_refused_recovers_when_the_endpoint_comes_back(make_exporter, proxy, caplog):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    port = proxy.server.server_address[1]
    handler = proxy.server.RequestHandlerClass
    proxy.server.shutdown()  # nothing listens on the port any more: connections are refused
    proxy.server.server_close()
    exporter = two_targets(make_exporter, proxy.url)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(2):
            scrape = timed_scrape(exporter)
            assert_good_target_intact(scrape, job)
            assert exposed_reason(scrape, "bad") == "unavailable"
        (warning,) = warnings_about(caplog, "bad")
        assert "EndpointConnectionError" in warning
        proxy.server = ThreadingHTTPServer(("127.0.0.1", port), handler)  # the endpoint is back
        proxy.server.daemon_threads = True
        threading.Thread(target=proxy.server.serve_forever, args=(0.05,), daemon=True).start()
        scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)


# -- throttling storms -----------------------------------------------------------------------


def test_a_throttling_storm_over_several_scrapes_never_fails_the_scrape(
    make_exporter, proxy, caplog
):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = THROTTLED  # every request, every attempt, for four scrapes
    exporter = two_targets(make_exporter, proxy.url, aws={"max_attempts": 3})
    throttled = 0
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(4):
            scrape = timed_scrape(exporter)
            assert_good_target_intact(scrape, job)
            assert exposed_reason(scrape, "bad") == "throttled"
            assert api_requests(scrape, "bad", "throttled") >= throttled + 3  # retried, counted
            throttled = api_requests(scrape, "bad", "throttled")
        assert len(warnings_about(caplog, "bad")) == 1
        proxy.default = None
        scrape = timed_scrape(exporter)
    assert exposed_reason(scrape, "bad") is None
    assert job in snapshot(scrape, "bad").jobs
    assert any("target bad (us-east-1): recovered" in m for m in caplog.messages)


def test_a_storm_whose_retries_outlast_the_deadline_still_answers_in_time(make_exporter, proxy):
    """Backoff after throttling can take longer than a scrape may: the scrape answers at the
    deadline with what it has, and the sync goes on in the background."""
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    proxy.default = THROTTLED
    exporter = two_targets(
        make_exporter, proxy.url, aws={"max_attempts": 4}, sync={"deadline": "1s"}
    )
    for _ in range(3):
        scrape = timed_scrape(exporter)  # within 1 s (+ slack), whatever the retries do
        assert_good_target_intact(scrape, job)
        assert exposed_reason(scrape, "bad") in ("throttled", "timeout")
        assert snapshot(scrape, "bad").jobs == {}
    proxy.default = None

    def recovered():
        scrape = exporter.scrape()
        return exposed_reason(scrape, "bad") is None and job in snapshot(scrape, "bad").jobs

    wait_until(recovered, timeout=30, what="the bad target to recover after the storm")
