"""Errors as AWS sends them for each service the fake serves, and which HTTP status each carries.

The status of an error the service's model defines comes from the model: its
``error.httpStatusCode`` trait when it has one (none of AWS Backup's do today; every one of the
Account API's does: 403 AccessDeniedException, 400 ValidationException, 429
TooManyRequestsException, 500 InternalServerException), else 500 for a ``fault`` (a server-side
error: ServiceUnavailableException, DependencyFailureException) and 400 for every other one.
That is what AWS Backup's API reference gives for each of them (400 for ResourceNotFound-,
InvalidParameterValue-, MissingParameterValue-, InvalidRequest- and LimitExceededException).
Errors common to all AWS services are not in the models; their codes and statuses are those of
the API reference's "Common Errors" page (``COMMON_ERRORS``). So the same code can carry two
statuses: AccessDeniedException is a common error (400) for AWS Backup but a modelled one (403)
for the Account API; the status is settled when the response is made, for its service.

On the wire (rest-json): the code in the ``x-amzn-ErrorType`` header, and a JSON body with the
body members of the error's shape: AWS Backup's ``Code``, ``Message``, ``Type`` (and ``Context``,
left out), all strings, plus, for an error that names the resource in its shape
(AlreadyExistsException's ``Arn`` and ``CreatorRequestId``), those; the Account API's
``message`` (and ValidationException's ``reason`` and ``fieldList``). An error the model does
not define takes the members every error shape of its service has (``common_error_members``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exporter.demo.fake_backup.model import (
    SERVICE,
    common_error_members,
    declared_errors,
    shape_traits,
    structure,
)

# AWS Backup API reference, "Common Errors": codes AWS sends for every service, with their status.
COMMON_ERRORS: dict[str, int] = {
    "AccessDeniedException": 400,
    "IncompleteSignature": 400,
    "InternalFailure": 500,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "MissingAuthenticationToken": 403,
    "NotAuthorized": 400,
    "OptInRequired": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "ValidationError": 400,
}


def error_status(code: str, service: str = SERVICE) -> int:
    """The HTTP status AWS sends with an error code (see the module docstring)."""
    traits = shape_traits(code, service)
    if traits.get("exception"):
        error = traits.get("error") or {}
        if "httpStatusCode" in error:
            return int(error["httpStatusCode"])
        return 500 if traits.get("fault") else 400
    return COMMON_ERRORS.get(code, 400)


def _body_members(code: str, service: str) -> tuple[str, ...]:
    if shape_traits(code, service).get("exception"):
        members = structure(code, service).members.items()
        return tuple(name for name, member in members if not member.serialization.get("location"))
    return common_error_members(service)


class ApiError(Exception):
    """One error response. ``status`` defaults to the one AWS sends with ``code`` (for the
    request's service: ``status_in``); ``members`` are further members of the error's shape
    (``Arn``, ``CreatorRequestId``; ``reason``, ``fieldList``)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        members: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.given_status = status
        self.members = dict(members or {})

    @property
    def status(self) -> int:
        """The status of this error from AWS Backup."""
        return self.status_in(SERVICE)

    def status_in(self, service: str) -> int:
        return error_status(self.code, service) if self.given_status is None else self.given_status

    def body(self, service: str = SERVICE) -> bytes:
        kind = "Service" if self.status_in(service) >= 500 else "User"
        known = {"code": self.code, "message": self.message, "type": kind}
        document: dict[str, Any] = {}
        for name in _body_members(self.code, service):
            if name.lower() in known:
                document[name] = known[name.lower()]
        return json.dumps({**document, **self.members}).encode()


_PREFERENCES = {
    "missing": ("MissingParameterValueException", "InvalidParameterValueException"),
    "type": ("InvalidRequestException", "InvalidParameterValueException"),
    "value": ("InvalidParameterValueException",),
}


def input_error(
    operation: str, kind: str, message: str, service: str = SERVICE, field: str | None = None
) -> ApiError:
    """The error an operation declares for bad input of one ``kind``.

    ``missing``: MissingParameterValueException. ``type`` (a value of the wrong type, or that
    does not parse): InvalidRequestException where the operation declares it (the model's own
    example: "a parameter is of the wrong type"), else InvalidParameterValueException. ``value``
    (out of range, not matching a pattern, not in an enum): InvalidParameterValueException. An
    operation that declares none of these but ValidationException (the Account API's) gets that,
    with reason ``fieldValidationFailed`` and ``field`` (the member's path) in ``fieldList``; one
    that declares none of them the common ValidationError.
    """
    declared = declared_errors(operation, service)
    code = next((code for code in _PREFERENCES[kind] if code in declared), None)
    if code is not None:
        return ApiError(code, message)
    if "ValidationException" in declared:
        members: dict[str, Any] = {"reason": "fieldValidationFailed"}
        if field:
            members["fieldList"] = [{"name": field, "message": message}]
        return ApiError("ValidationException", message, members=members)
    return ApiError("ValidationError", message)
