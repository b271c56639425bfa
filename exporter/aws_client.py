"""The AWS Backup client of a target: credentials, retries, timeouts, rate limit, accounting.

Credentials come from the default boto3 chain (environment, IRSA's web identity token, EKS Pod
Identity, instance profile...), optionally through a role assumed with STS for cross-account
targets; botocore refreshes both by itself, and targets of one identity share a session
(aws_sessions.py). Retries, timeouts and the retry mode are set explicitly so that behaviour
never depends on a stray ``~/.aws/config``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.config import Config as BotocoreConfig

from exporter import __version__
from exporter.aws_errors import classify_error, classify_error_code
from exporter.aws_sessions import AwsSessions, Identity
from exporter.config import AwsClientConfig, RateLimitConfig, TargetConfig
from exporter.ratelimit import RequestLimiter
from exporter.response_parser import MALFORMED

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from mypy_boto3_backup import BackupClient
else:
    BackupClient = Any

__all__ = ["BackupClient"]  # the client's type, for the modules that hold one

LIST_OPERATION = "ListRestoreJobs"
DESCRIBE_OPERATION = "DescribeRestoreJob"


class ApiStats:
    """Counts of every HTTP request sent to AWS, by operation and outcome (per attempt)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, operation: str, outcome: str) -> None:
        with self._lock:
            self._counts[(operation, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def identity_of(target: TargetConfig) -> Identity:
    """Whose credentials a target's client signs with."""
    return Identity(
        profile=target.profile,
        role_arn=target.role_arn,
        external_id=target.external_id,
        role_session_name=target.role_session_name,
        sts_region=target.sts_region or target.region,
        sts_endpoint_url=target.sts_endpoint_url,
    )


def make_client(
    target: TargetConfig,
    aws: AwsClientConfig,
    rate_limit: RateLimitConfig,
    stats: ApiStats,
    limiter: RequestLimiter,
    sessions: AwsSessions,
    give_way: Callable[[], object] | None = None,
) -> BackupClient:
    """The target's AWS Backup client: explicit retries and timeouts, every attempt rate-limited
    and counted. Both hooks sit on botocore's per-attempt events, so retries after throttling
    count against the limiter and show in the request counter exactly as AWS counts them
    against the quota; ``give_way`` holds each attempt while a scrape renders (priority.py)."""
    session = sessions.session(identity_of(target))
    # total_max_attempts counts the first try, as documented; botocore's max_attempts would
    # count retries only and send one request more than configured.
    retries: _RetryDict = {"mode": aws.retry_mode, "total_max_attempts": aws.max_attempts}
    config = BotocoreConfig(
        region_name=target.region,
        retries=retries,
        connect_timeout=aws.connect_timeout_seconds,
        read_timeout=aws.read_timeout_seconds,
        max_pool_connections=rate_limit.describe_concurrency + rate_limit.list_concurrency,
        user_agent_extra=f"aws-backup-restore-exporter/{__version__}",
    )
    client: BackupClient = session.create_client(  # type: ignore[assignment]
        "backup", region_name=target.region, config=config, endpoint_url=target.endpoint_url
    )

    def count_attempt(
        event_name: str,
        exception: BaseException | None = None,
        response_dict: Mapping[str, Any] | None = None,
        parsed_response: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if exception is not None:
            outcome = classify_error(exception)
        else:
            status = int((response_dict or {}).get("status_code", 0))
            if (parsed_response or {}).get(MALFORMED):
                outcome = "other"
            elif 200 <= status < 300:
                outcome = "success"
            else:
                code = str(((parsed_response or {}).get("Error") or {}).get("Code", ""))
                outcome = classify_error_code(code, status)
        stats.record(operation, outcome)

    def wait_for_allowance(event_name: str, **_: Any) -> None:
        if give_way is not None:
            give_way()
        limiter.acquire(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-send.backup.*", wait_for_allowance)
    client.meta.events.register("response-received.backup.*", count_attempt)
    return client


class MalformedResponseError(Exception):
    """A 2xx response whose body was not the JSON AWS sends (truncated, HTML, garbage)."""


def check_parsed(response: Mapping[str, Any], operation: str) -> None:
    """Raise MalformedResponseError for a response its parser flagged (response_parser.py)."""
    if response.get(MALFORMED):
        raise MalformedResponseError(f"{operation}: the response body is not valid JSON")


def make_limiter(rate_limit: RateLimitConfig) -> RequestLimiter:
    return RequestLimiter(
        {
            LIST_OPERATION: rate_limit.list_per_second,
            DESCRIBE_OPERATION: rate_limit.describe_per_second,
            "DescribeProtectedResource": rate_limit.protected_resource_per_second,
        },
        total=rate_limit.total_per_second,
    )
