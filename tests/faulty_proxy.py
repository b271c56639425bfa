"""A local HTTP proxy in front of moto that injects AWS faults on the wire.

botocore sees real HTTP responses (status, x-amzn-ErrorType, JSON or broken bodies, hangs), so
its real retry, timeout and error-parsing code runs, which Stubber would bypass.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """One response to give instead of forwarding. ``hang`` holds the request until close."""

    status: int = 500
    code: str = ""
    body: bytes | None = None
    hang: bool = False


def aws_error(status: int, code: str, message: str = "injected") -> Fault:
    body = json.dumps({"message": message, "Message": message}).encode()
    return Fault(status=status, code=code, body=body)


THROTTLED = aws_error(400, "ThrottlingException", "Rate exceeded")
HANG = Fault(hang=True)


class FaultyProxy:
    """Answers with queued faults first, then with ``default`` (None: forward to upstream)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.queue: deque[Fault] = deque()
        self.default: Fault | None = None
        self.requests = 0
        self._closing = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.handle(self)

            do_PUT = do_POST = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.queue.extend(faults)

    def _next(self) -> Fault | None:
        with self._lock:
            self.requests += 1
            return self.queue.popleft() if self.queue else self.default

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        fault = self._next()
        if fault is None:
            self._forward(request, body)
        elif fault.hang:
            self._closing.wait(30)
            request.close_connection = True
        else:
            payload = fault.body if fault.body is not None else b""
            request.send_response(fault.status)
            if fault.code:
                request.send_header("x-amzn-ErrorType", fault.code)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in ("host", "connection")
        }
        connection.request(request.command, request.path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        request.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "server",
                "date",
            ):
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
        connection.close()

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
