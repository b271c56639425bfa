"""AWS errors as a small, fixed set of reasons, fit for a label and for a log line.

Every failure a target can meet (an error code from AWS, a timeout, a refused connection, missing
credentials) maps to one reason, so ``..._target_down_reason`` and ``..._api_requests_total``
have bounded cardinality, and a log line never carries credentials.
"""

from __future__ import annotations

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

# Why a target is down; a request can also fail as "not_found" (a job ID AWS does not know).
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
    """Map any exception from boto3 to a reason (TARGET_DOWN_REASONS or "not_found")."""
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
