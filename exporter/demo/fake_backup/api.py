"""One API request in, one response out, with no HTTP server in sight.

route (model) -> caller (SigV4 header) -> input (parsed by location, checked against the model)
-> handler -> output (encoded by the model). Every failure on the way is an ``ApiError`` and
leaves as the error response AWS would send. The HTTP server (``server``) adds what is not the
API's: latency, injected faults, counting and logging.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from exporter.demo.fake_backup import routes, sigv4
from exporter.demo.fake_backup.constraints import Violation, check
from exporter.demo.fake_backup.documented import beyond_model
from exporter.demo.fake_backup.encode import Raw, header_values, to_json
from exporter.demo.fake_backup.errors import ApiError, input_error
from exporter.demo.fake_backup.model import operation
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


Routed = tuple[str, dict[str, str]] | None


def error_response(error: ApiError, operation_name: str | None = None) -> HttpResponse:
    headers = {"x-amzn-ErrorType": error.code, **_common_headers()}
    return HttpResponse(error.status, error.body(), operation_name, error.code, headers)


def _common_headers() -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}


class BackupApi:
    """Serves the operations it has handlers for; answers every other request as AWS would."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        accounts: sigv4.AccountResolver | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.accounts = accounts or sigv4.fixed_account()

    def route(self, request: HttpRequest) -> Routed:
        return routes.find(request.method, request.path, request.query)

    def handle(self, request: HttpRequest, routed: Routed = None) -> HttpResponse:
        """The response to ``request``; ``routed`` is ``route(request)`` when already known."""
        routed = routed or self.route(request)
        name = routed[0] if routed else None
        try:
            caller = sigv4.caller(request.headers, self.accounts)
            if routed is None:
                raise ApiError("InvalidAction", f"No operation at {request.method} {request.path}")
            handler = self.handlers.get(routed[0])
            if handler is None:
                raise ApiError("InvalidAction", f"{routed[0]} is not implemented by this fake")
            params = self._input(routed[0], routed[1], request)
            return self._output(routed[0], handler(Call(routed[0], params, caller)))
        except ApiError as error:
            return error_response(error, name)

    def _input(self, name: str, labels: dict[str, str], request: HttpRequest) -> dict[str, Any]:
        model = operation(name)
        try:
            params = parse_input(model, labels, request.query, request.headers, request.body)
            if model.input_shape is not None:
                check(model.input_shape, beyond_model(name, params), model.input_shape.name)
        except Violation as violation:
            raise input_error(name, violation.kind, str(violation)) from None
        return params

    def _output(self, name: str, output: Output) -> HttpResponse:
        model = operation(name)
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
        return HttpResponse(status, b"" if status == 204 else body.encode(), name, None, headers)
