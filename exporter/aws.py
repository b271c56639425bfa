"""Talking to AWS Backup: one client per target, its credentials, its rate limits, its accounting.

Credentials come from the default boto3 chain (environment, IRSA's web identity token, EKS Pod
Identity, instance profile...), optionally through a role assumed with STS for cross-account
targets; botocore refreshes both by itself. Retries, timeouts and the retry mode are set
explicitly so that behaviour never depends on a stray ``~/.aws/config``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config as BotocoreConfig
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from exporter import __version__
from exporter.config import AwsClientConfig, RateLimitConfig, TargetConfig
from exporter.ratelimit import RequestLimiter

if TYPE_CHECKING:
    from botocore.config import _RetryDict

log = logging.getLogger(__name__)

LIST_OPERATION = "ListRestoreJobs"
DESCRIBE_OPERATION = "DescribeRestoreJob"
MAX_RESULTS = 1000  # the model's maximum for ListRestoreJobs

# The reasons a target or a request can fail with: a small, fixed set, fit for a label.
REASONS = ("auth", "throttled", "unavailable", "timeout", "not_found", "invalid", "other")
TARGET_DOWN_REASONS = ("auth", "throttled", "unavailable", "timeout", "invalid", "other")

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "AuthFailure",
        "UnauthorizedOperation",
        "RequestExpired",
        "InvalidToken",
        "RegionDisabledException",
        "IDPCommunicationError",
        "InvalidIdentityToken",
    }
)
_THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "DependencyFailureException",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "ServiceException",
    }
)
_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
_INVALID_CODES = frozenset(
    {
        "InvalidParameterValueException",
        "MissingParameterValueException",
        "InvalidRequestException",
        "ValidationException",
        "SerializationException",
    }
)


def classify_error_code(code: str, status: int | None = None) -> str:
    """The reason for an AWS error code (and HTTP status, for codes we do not know)."""
    for reason, codes in (
        ("auth", _AUTH_CODES),
        ("throttled", _THROTTLE_CODES),
        ("unavailable", _UNAVAILABLE_CODES),
        ("not_found", _NOT_FOUND_CODES),
        ("invalid", _INVALID_CODES),
    ):
        if code in codes:
            return reason
    if status == 429:
        return "throttled"
    if status is not None and status >= 500:
        return "unavailable"
    if status in (401, 403):
        return "auth"
    return "other"


def classify_error(error: BaseException) -> str:
    """Map any exception from boto3 to one of REASONS."""
    if isinstance(error, ClientError):
        meta = error.response.get("ResponseMetadata", {})
        return classify_error_code(
            str(error.response.get("Error", {}).get("Code", "")), meta.get("HTTPStatusCode")
        )
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(error, (EndpointConnectionError, ConnectionClosedError, ConnectionError)):
        return "unavailable"
    if isinstance(
        error,
        (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, ProfileNotFound),
    ):
        return "auth"
    if isinstance(error, (ParamValidationError, NoRegionError)):
        return "invalid"
    return "other"


_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})


def is_expired_session(error: BaseException) -> bool:
    """AWS refused the session's credentials as expired."""
    return isinstance(error, ClientError) and (
        str(error.response.get("Error", {}).get("Code", "")) in _EXPIRED_CODES
    )


def describe_error(error: BaseException) -> str:
    """A one-line description of an AWS error for the log, never containing credentials."""
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'Error')}: {detail.get('Message', '')}".strip()
    if isinstance(error, BotoCoreError):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}: {error}"


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


class _AssumedRoleProvider(CredentialProvider):
    """Credentials of a role assumed from the default chain's; botocore refreshes them."""

    METHOD = "assume-role-exporter"
    CANONICAL_NAME = "AssumeRoleExporter"

    def __init__(self, fetcher: AssumeRoleCredentialFetcher) -> None:
        self._fetcher = fetcher

    def load(self) -> Credentials:
        return DeferredRefreshableCredentials(
            refresh_using=self._fetcher.fetch_credentials, method=self.METHOD
        )


def make_session(target: TargetConfig, sts_endpoint_url: str | None = None) -> boto3.Session:
    """A boto3 session for the target: default chain, optional profile, optional assumed role."""
    core = botocore.session.Session(profile=target.profile)
    core.set_config_variable("region", target.region)
    if target.role_arn:
        source = boto3.Session(
            botocore_session=botocore.session.Session(profile=target.profile),
            region_name=target.region,
        )
        source_credentials = source.get_credentials()
        if source_credentials is None:
            raise NoCredentialsError()
        extra: dict[str, Any] = {"RoleSessionName": target.role_session_name}
        if target.external_id:
            extra["ExternalId"] = target.external_id

        def create_sts_client(service: str, **kwargs: Any) -> Any:
            # The regional STS endpoint: it works in opt-in regions and keeps traffic local.
            assert service == "sts"
            kwargs.setdefault("region_name", target.region)
            if sts_endpoint_url:
                kwargs["endpoint_url"] = sts_endpoint_url
            return source.client("sts", **kwargs)

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create_sts_client,
            source_credentials=source_credentials,
            role_arn=target.role_arn,
            extra_args=extra,
        )
        resolver = core.get_component("credential_provider")
        resolver.insert_before("env", _AssumedRoleProvider(fetcher))
    return boto3.Session(botocore_session=core, region_name=target.region)


def make_client(
    target: TargetConfig,
    aws: AwsClientConfig,
    rate_limit: RateLimitConfig,
    stats: ApiStats,
    limiter: RequestLimiter,
) -> Any:
    """The target's AWS Backup client: explicit retries and timeouts, every attempt rate-limited
    and counted.

    Both hooks sit on botocore's per-attempt events, so retries after throttling count against
    the limiter and show in the request counter exactly as AWS counts them against the quota.
    """
    session = make_session(target, sts_endpoint_url=target.sts_endpoint_url)
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
    client = session.client("backup", config=config, endpoint_url=target.endpoint_url)

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
            if (parsed_response or {}).get(_MALFORMED):
                outcome = "other"
            elif 200 <= status < 300:
                outcome = "success"
            else:
                code = str(((parsed_response or {}).get("Error") or {}).get("Code", ""))
                outcome = classify_error_code(code, status)
        stats.record(operation, outcome)

    def wait_for_allowance(event_name: str, **_: Any) -> None:
        limiter.acquire(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-send.backup.*", wait_for_allowance)
    client.meta.events.register("before-parse.backup.*", _mark_malformed_body)
    client.meta.events.register("response-received.backup.*", count_attempt)
    return client


class BackupApi:
    """The two read calls the exporter makes, on a client created at first use.

    Creating the client lazily keeps start-up free of AWS calls and lets a target whose
    credentials cannot be found show up as down (reason ``auth``) instead of stopping the
    exporter.
    """

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def reset(self) -> None:
        """Drop the client, and with it its session: the next call builds both anew.

        For a session AWS ended before the expiry it announced (revoked, clock skew): botocore
        would keep presenting it until 15 minutes before that expiry.
        """
        with self._lock:
            self._client = None

    def list_restore_jobs(self, **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Yield the pages of ListRestoreJobs for these filters (the model's By* names)."""
        paginator = self.client.get_paginator("list_restore_jobs")
        for page in paginator.paginate(**filters, PaginationConfig={"PageSize": MAX_RESULTS}):
            _check_parsed(page, LIST_OPERATION)
            yield list(page.get("RestoreJobs") or [])

    def describe_restore_job(self, restore_job_id: str) -> dict[str, Any]:
        response: dict[str, Any] = self.client.describe_restore_job(RestoreJobId=restore_job_id)
        _check_parsed(response, DESCRIBE_OPERATION)
        response.pop("ResponseMetadata", None)
        return response


class MalformedResponseError(Exception):
    """A 2xx response whose body was not the JSON AWS sends (truncated, HTML, garbage)."""


_MALFORMED = "_ExporterMalformedBody"


def _mark_malformed_body(
    response_dict: Mapping[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's before-parse hook: flag a 2xx body that is not JSON.

    botocore's rest-json parser does not raise on such a body: it returns an empty result as if
    the call had succeeded, so a truncated ListRestoreJobs page would read as "no jobs" and hide
    data. The flag rides into the parsed response, where the attempt counter and BackupApi see it.
    """
    status = int(response_dict.get("status_code", 0))
    body = response_dict.get("body") or b""
    if 200 <= status < 300 and body:
        try:
            json.loads(body)
        except ValueError:
            customized_response_dict[_MALFORMED] = True


def _check_parsed(response: Mapping[str, Any], operation: str) -> None:
    if response.get(_MALFORMED):
        raise MalformedResponseError(f"{operation}: the response body is not valid JSON")


def make_limiter(rate_limit: RateLimitConfig) -> RequestLimiter:
    return RequestLimiter(
        {
            LIST_OPERATION: rate_limit.list_per_second,
            DESCRIBE_OPERATION: rate_limit.describe_per_second,
        },
        total=rate_limit.total_per_second,
    )
