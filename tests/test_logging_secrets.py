"""Logs never contain credentials: no access key ID, secret key or session token, whatever
fails and at whatever level, in either format.

The exporter's logging is set up as the CLI sets it up (``setup_logging``), at debug level, and
what it writes is captured. Credentials come from the environment and from an assumed role
(STS through a proxy that hands out known credentials). AWS then fails in the ways that echo
request details: a signature error whose message carries the canonical request (AWS's own
SignatureDoesNotMatch text includes the ``x-amz-security-token`` header), expired tokens, 500s.
"""

from __future__ import annotations

import base64
import io
import logging
import sys
import time

import pytest

from exporter.logs import setup_logging
from tests.conftest import ACCOUNT, put_job
from tests.faulty_proxy import Fault, FaultyProxy, assume_role_response, aws_error, send_fault

ENV_KEY_ID = "AKIAEXPORTERTEST0001"
ENV_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXPORTERKY"
ENV_TOKEN = "IQoJb3JpZ2luX2VjE" + base64.b64encode(b"environment session token " * 12).decode()
ROLE_KEY_ID = "ASIAEXPORTERROLE0001"
ROLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # what assume_role_response hands out
ROLE_TOKEN = f"FwoGZXIvYXdzEXAMPLESESSIONTOKEN{ROLE_KEY_ID}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BackupRestoreReader"
NOISY = ("botocore", "boto3", "urllib3", "werkzeug", "exporter")


class EchoProxy(FaultyProxy):
    """Answers every request with AWS's signature-mismatch error, whose message repeats the
    request's signed headers (the session token among them) as AWS really does."""

    def handle(self, request) -> None:
        with self._lock:
            self.requests += 1
        token = request.headers.get("X-Amz-Security-Token", "")
        authorization = request.headers.get("Authorization", "")
        message = (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.\n\n"
            "The Canonical String for this request should have been\n"
            f"'GET\n{request.path}\n\nhost:backup.us-east-1.amazonaws.com\n"
            f"x-amz-security-token:{token}\n\nhost;x-amz-date;x-amz-security-token'\n\n"
            f"Authorization: {authorization}"
        )
        send_fault(request, aws_error(403, "InvalidSignatureException", message))


@pytest.fixture
def captured(monkeypatch):
    """setup_logging as the CLI calls it, writing into a buffer; logging restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in NOISY})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", ENV_TOKEN)

    def setup(fmt="logfmt"):
        # here, not in the fixture: pytest puts its own sys.stderr back at each test phase
        buffer = io.StringIO()
        monkeypatch.setattr(sys, "stderr", buffer)
        setup_logging("debug", fmt)
        return buffer

    yield setup
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def proxies(backup):
    made = [EchoProxy(backup), FaultyProxy(backup), FaultyProxy(backup)]
    yield made
    for proxy in made:
        proxy.close()


SECRETS = (ENV_KEY_ID, ENV_SECRET, ENV_TOKEN, ROLE_KEY_ID, ROLE_SECRET, ROLE_TOKEN)


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text, f"{secret[:12]}... leaked into the log"
    # nor a recognisable piece of one (a token cut by a line wrap, a key ID in a URL)
    for secret in (ENV_TOKEN, ROLE_TOKEN):
        assert secret[:32] not in text


def run_failing_syncs(make_exporter, proxies):
    """Targets that fail in every way that echoes request details, with env and role creds."""
    echo, sts, flaky = proxies
    put_job(Status="FAILED", CreationDate=time.time() - 60)
    sts.default = assume_role_response(ROLE_KEY_ID, expires_in=3600)
    flaky.default = aws_error(
        400, "ExpiredTokenException", "The security token included in the request is expired"
    )
    exporter = make_exporter(
        {
            "targets": [
                {"name": "good", "region": "us-east-1"},
                {"name": "echo-env", "region": "us-east-1", "endpoint_url": echo.url},
                {
                    "name": "echo-role",
                    "region": "eu-west-1",
                    "endpoint_url": echo.url,
                    "role_arn": ROLE_ARN,
                    "sts_endpoint_url": sts.url,
                },
                {
                    "name": "expired-role",
                    "region": "us-west-2",
                    "endpoint_url": flaky.url,
                    "role_arn": ROLE_ARN,
                    "sts_endpoint_url": sts.url,
                },
            ],
            "aws": {"max_attempts": 2, "read_timeout": "1s"},
        }
    )
    scrape = exporter.scrape()
    flaky.default = Fault(status=500, body=b'{"message": "internal"}')
    exporter.scrape()
    flaky.default = None
    exporter.scrape()
    return scrape


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_failing_syncs_at_debug_level_log_no_credentials(make_exporter, proxies, captured, fmt):
    buffer = captured(fmt)
    scrape = run_failing_syncs(make_exporter, proxies)
    health = {h.name: h for h in scrape.health}
    assert health["good"].up
    assert health["echo-env"].down_reason == "auth"
    assert health["echo-role"].down_reason == "auth"
    assert proxies[0].requests >= 2  # both echo targets did reach the echoing endpoint
    text = buffer.getvalue()
    assert "InvalidSignatureException" in text  # the failures were logged, with AWS's message
    assert "ExpiredTokenException" in text
    assert "recovered" in text
    assert_no_secret(text)


def test_botocore_debug_output_would_leak_and_is_redacted_anyway(make_exporter, proxies, captured):
    """botocore logs signed headers at debug level. setup_logging keeps it at warning; should
    someone turn it up, the exporter's log handler still redacts what it would print."""
    buffer = captured()
    raw: list[str] = []

    class Raw(logging.Handler):
        def emit(self, record):
            raw.append(record.getMessage())

    logging.getLogger("botocore").setLevel(logging.DEBUG)
    spy = Raw(logging.DEBUG)
    logging.getLogger().addHandler(spy)
    try:
        run_failing_syncs(make_exporter, proxies)
    finally:
        logging.getLogger().removeHandler(spy)
    assert any(ENV_TOKEN in line for line in raw)  # the records really carried secrets
    assert any(ROLE_TOKEN in line or ROLE_SECRET in line for line in raw)
    assert any(ENV_KEY_ID in line for line in raw)
    text = buffer.getvalue()
    assert "botocore" in text  # botocore's debug lines were written, redacted
    assert_no_secret(text)


def test_setup_logging_keeps_botocore_quiet_at_debug_level(captured):
    captured()
    for name in ("botocore", "boto3", "urllib3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("exporter").isEnabledFor(logging.DEBUG)


@pytest.mark.parametrize(
    "line",
    [
        f"headers={{'X-Amz-Security-Token': b'{ENV_TOKEN}'}}",
        f"Credential={ENV_KEY_ID}/20260101/us-east-1/backup/aws4_request",
        f"<SecretAccessKey>{ROLE_SECRET}</SecretAccessKey><SessionToken>{ROLE_TOKEN}</SessionToken>",
        f'{{"AccessKeyId": "{ROLE_KEY_ID}", "SecretAccessKey": "{ROLE_SECRET}"}}',
        f"aws_secret_access_key = {ENV_SECRET}",
        f"x-amz-security-token:{ROLE_TOKEN}",
    ],
    ids=["header-repr", "credential-scope", "sts-xml", "json", "ini", "canonical-request"],
)
def test_credential_shapes_are_redacted_from_any_log_line(captured, line):
    buffer = captured()
    logging.getLogger("exporter.test").info("%s", line)
    text = buffer.getvalue()
    assert "exporter.test" in text
    assert "REDACTED" in text
    assert_no_secret(text)


def test_ordinary_lines_are_left_alone(captured):
    buffer = captured()
    message = (
        "target prod (us-east-1): full sync failed, reason=throttled: ThrottlingException: "
        "Rate exceeded for arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole"
    )
    logging.getLogger("exporter.test").warning("%s", message)
    assert message in buffer.getvalue()
