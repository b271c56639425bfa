"""One API request in, one response out, with no HTTP server in sight.

service (the SigV4 credential scope) -> route (that service's model) -> caller (SigV4 header)
-> input (parsed by location, checked against the model) -> handler -> output (encoded by the
model). One API serves AWS Backup and any further rest-json service it has handlers for (the
Account API's ListRegions): the same URL answers both, as the exporter's ``backup_endpoint_url``
and ``account_endpoint_url``. A request with no readable scope, or scoped to a service not
served, is routed as AWS Backup's, and refused by the SigV4 check. Every failure on the way is
an ``ApiError`` and leaves as the error response AWS would send. The HTTP server (``server``)
adds what is not the API's: latency, injected faults, counting and logging.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from exporter.demo.fake_backup import routes, sigv4
from exporter.demo.fake_backup.constraints import Violation, check
from exporter.demo.fake_backup.documented import beyond_model
from exporter.demo.fake_backup.encode import Raw, header_values, to_json
from exporter.demo.fake_backup.errors import ApiError, input_error
from exporter.demo.fake_backup.model import SERVICE, operation
from exporter.demo.fake_backup.operations import Call, Handler, Output
from exporter.demo.fake_backup.params import parse_input

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # as sent: labels still percent-encoded
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> HttpRequest:
        """From a request line's method and target (path and query string)."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(method.upper(), parts.path or "/", query, lowered, body)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    operation: str | None = None
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    service: str = SERVICE


class Match(NamedTuple):
    """A request's operation, its URI labels and its service."""

    operation: str
    labels: dict[str, str]
    service: str = SERVICE


Routed = Match | None
Services = Mapping[str, Mapping[str, Handler]]  # service -> operation -> handler


def error_response(
    error: ApiError, operation_name: str | None = None, service: str = SERVICE
) -> HttpResponse:
    headers = {"x-amzn-ErrorType": error.code, **_common_headers()}
    return HttpResponse(
        error.status_in(service), error.body(service), operation_name, error.code, headers, service
    )


def _common_headers() -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}


def _field(path: str, input_shape: str) -> str | None:
    """The member a violation is about, without the input shape's name (None: the whole input)."""
    if path == input_shape:
        return None
    return path.removeprefix(f"{input_shape}.")


class BackupApi:
    """Serves the operations it has handlers for: AWS Backup's ``handlers``, and those of every
    other service in ``services``; answers every other request as AWS would."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        accounts: sigv4.AccountResolver | None = None,
        services: Services | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.services: dict[str, dict[str, Handler]] = {SERVICE: self.handlers}
        self.services.update({name: dict(ops) for name, ops in (services or {}).items()})
        self.accounts = accounts or sigv4.fixed_account()

    def service_of(self, request: HttpRequest) -> str:
        """The service a request is for: its credential scope's, AWS Backup if not served."""
        service = sigv4.scoped_service(request.headers)
        return service if service in self.services else SERVICE

    def route(self, request: HttpRequest) -> Routed:
        service = self.service_of(request)
        found = routes.find(request.method, request.path, request.query, service=service)
        return None if found is None else Match(found[0], found[1], service)

    def handle(self, request: HttpRequest, routed: Routed = None) -> HttpResponse:
        """The response to ``request``; ``routed`` is ``route(request)`` when already known."""
        routed = routed or self.route(request)
        name = routed.operation if routed else None
        service = routed.service if routed else self.service_of(request)
        try:
            caller = sigv4.caller(request.headers, self.accounts, tuple(self.services))
            if routed is None:
                raise ApiError("InvalidAction", f"No operation at {request.method} {request.path}")
            handler = self.services[service].get(routed.operation)
            if handler is None:
                raise ApiError("InvalidAction", f"{name} is not implemented by this fake")
            params = self._input(routed, request)
            return self._output(routed, handler(Call(routed.operation, params, caller)))
        except ApiError as error:
            return error_response(error, name, service)

    def _input(self, routed: Match, request: HttpRequest) -> dict[str, Any]:
        model = operation(routed.operation, routed.service)
        try:
            params = parse_input(model, routed.labels, request.query, request.headers, request.body)
            if model.input_shape is not None:
                check(
                    model.input_shape,
                    beyond_model(routed.operation, params),
                    model.input_shape.name,
                )
        except Violation as violation:
            field = _field(violation.path, model.input_shape.name if model.input_shape else "")
            raise input_error(
                routed.operation, violation.kind, str(violation), routed.service, field
            ) from None
        return params

    def _output(self, routed: Match, output: Output) -> HttpResponse:
        model = operation(routed.operation, routed.service)
        status = int(model.http.get("responseCode", 200))
        headers = _common_headers()
        shape = model.output_shape
        if isinstance(output, Raw):
            body = str(output)
        elif shape is None:
            body = "{}"
        else:
            headers.update(header_values(shape, output))
            body = to_json(shape, output)
        content = b"" if status == 204 else body.encode()
        return HttpResponse(status, content, routed.operation, None, headers, routed.service)
