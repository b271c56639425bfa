"""Errors as AWS Backup sends them, and which HTTP status each one carries.

The status of an error the model defines comes from the model: its ``error.httpStatusCode``
trait when it has one (none of AWS Backup's do today), else 500 for a ``fault`` (a server-side
error: ServiceUnavailableException, DependencyFailureException) and 400 for every other one.
That is what AWS Backup's API reference gives for each of them (400 for ResourceNotFound-,
InvalidParameterValue-, MissingParameterValue-, InvalidRequest- and LimitExceededException).
Errors common to all AWS services are not in the model; their codes and statuses are those of the
API reference's "Common Errors" page (``COMMON_ERRORS``).

On the wire (rest-json): the code in the ``x-amzn-ErrorType`` header, and a JSON body with the
members of the model's error shape (``Code``, ``Message``, ``Type``, ``Context``), all strings;
an error that names the resource in its shape (AlreadyExistsException's ``Arn`` and
``CreatorRequestId``) carries those too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from exporter.demo.fake_backup.model import declared_errors, shape_traits

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


def error_status(code: str) -> int:
    """The HTTP status AWS sends with an error code (see the module docstring)."""
    traits = shape_traits(code)
    if traits.get("exception"):
        error = traits.get("error") or {}
        if "httpStatusCode" in error:
            return int(error["httpStatusCode"])
        return 500 if traits.get("fault") else 400
    return COMMON_ERRORS.get(code, 400)


class ApiError(Exception):
    """One error response. ``status`` defaults to the one AWS sends with ``code``; ``members``
    are further string members of the error's shape (``Arn``, ``CreatorRequestId``)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        members: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = error_status(code) if status is None else status
        self.members = dict(members or {})

    def body(self) -> bytes:
        kind = "Service" if self.status >= 500 else "User"
        document = {"Code": self.code, "Message": self.message, "Type": kind, **self.members}
        return json.dumps(document).encode()


def input_error(operation: str, kind: str, message: str) -> ApiError:
    """The error an operation declares for bad input of one ``kind``.

    ``missing``: MissingParameterValueException. ``type`` (a value of the wrong type, or that
    does not parse): InvalidRequestException where the operation declares it (the model's own
    example: "a parameter is of the wrong type"), else InvalidParameterValueException. ``value``
    (out of range, not matching a pattern, not in an enum): InvalidParameterValueException. An
    operation that declares none of these gets the common ValidationError.
    """
    declared = declared_errors(operation)
    preferences = {
        "missing": ("MissingParameterValueException", "InvalidParameterValueException"),
        "type": ("InvalidRequestException", "InvalidParameterValueException"),
        "value": ("InvalidParameterValueException",),
    }[kind]
    code = next((code for code in preferences if code in declared), "ValidationError")
    return ApiError(code, message)
