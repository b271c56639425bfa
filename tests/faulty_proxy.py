"""A local HTTP proxy in front of moto that injects AWS faults on the wire.

botocore sees real HTTP responses (status, x-amzn-ErrorType, JSON or broken bodies, hangs,
connections reset before or in the middle of a response, refused connections), so its real
retry, timeout and error-parsing code runs, which Stubber would bypass. In front of moto's STS it
hands out assumed-role sessions the test knows, and it can refuse the requests signed with a
given access key as AWS refuses an expired session.
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """One response to give instead of forwarding. ``hang`` holds the request and never
    answers it; ``hold`` holds it, then answers (or, with ``then_forward``, forwards it). Either
    is held until ``release()`` or close.
    ``reset`` resets the connection instead: "before-response" or "mid-response"."""

    status: int = 500
    code: str = ""
    body: bytes | None = None
    hang: bool = False
    hold: bool = False
    then_forward: bool = False
    reset: str = ""


def aws_error(status: int, code: str, message: str = "injected") -> Fault:
    body = json.dumps({"message": message, "Message": message}).encode()
    return Fault(status=status, code=code, body=body)


THROTTLED = aws_error(400, "ThrottlingException", "Rate exceeded")
EXPIRED = aws_error(
    400, "ExpiredTokenException", "The security token included in the request is expired"
)
HANG = Fault(hang=True)
RESET_MID_RESPONSE = Fault(reset="mid-response")  # headers and part of the body, then a reset
RESET_BEFORE_RESPONSE = Fault(reset="before-response")
STS_ACCESS_DENIED = Fault(
    status=403,
    body=b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform:
  sts:AssumeRole</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000002</RequestId>
</ErrorResponse>
""",
)


# Every kind of fault of the AWS Backup endpoint, by name: tests/test_faults.py and
# bench/faults.py go through them all.
FAULTS = {
    "internal-server-error": aws_error(500, "InternalServerError"),
    "throttled": THROTTLED,
    "429": aws_error(429, "TooManyRequestsException"),
    "503": aws_error(503, "ServiceUnavailableException"),
    "dependency": aws_error(500, "DependencyFailureException"),
    "denied": aws_error(403, "AccessDeniedException", "not authorized"),
    "expired": aws_error(400, "ExpiredTokenException", "The security token included has expired"),
    "expired-token": EXPIRED,
    "html-502": Fault(status=502, body=b"<html>Bad Gateway</html>"),
    "truncated": Fault(status=200, body=b'{"RestoreJobs": [{"RestoreJobId": "x"'),
    "non-json": Fault(status=200, body=b"not json at all"),
    "read-timeout": HANG,
    "reset-mid-response": RESET_MID_RESPONSE,
    "reset-before-response": RESET_BEFORE_RESPONSE,
}


def assume_role_response(
    access_key: str, expires_in: float, account: str = "123456789012"
) -> Fault:
    """An STS AssumeRole answer (query protocol, XML) with credentials expiring in so long, for
    a role of ``account`` (moto's default account)."""
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
      <Arn>arn:aws:sts::{account}:assumed-role/BackupRestoreReader/aws-backup-restore-exporter</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ResponseMetadata>
</AssumeRoleResponse>
"""
    return Fault(status=200, body=body.encode())


def send_fault(request: BaseHTTPRequestHandler, fault: Fault) -> None:
    """Answer a request with the fault's status, error type and body."""
    payload = fault.body or b""
    request.send_response(fault.status)
    if fault.code:
        request.send_header("x-amzn-ErrorType", fault.code)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)


_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
_HOP_BY_HOP = ("content-length", "connection", "transfer-encoding", "server", "date")


class FaultyProxy:
    """Answers with queued faults first, then with ``default`` (None: forward to upstream).

    Before either, a request signed with an access key in ``expired_keys`` is refused as
    expired; after the queue, ``refuse_when`` may choose a fault by the request's body.
    ``refuse_connections()`` stops listening on the port until ``accept_connections()``.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.queue: deque[Fault] = deque()
        self.default: Fault | None = None
        self.requests = 0
        self.holding = 0  # requests held by a hang or hold fault right now
        self.expired_keys: set[str] = set()
        self.keys_seen: list[str | None] = []
        # a fault chosen by the request body (None: carry on), e.g. AssumeRole of one role
        self.refuse_when: Callable[[bytes], Fault | None] | None = None
        self._released = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.handle(self)

            do_PUT = do_POST = do_GET  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._handler = Handler
        self.server = self._listen(0)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        server.daemon_threads = True
        # a short poll interval: shutdown() then takes 50 ms, not 500
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.queue.extend(faults)

    def release(self) -> None:
        """Let every held request go, and any held later, until close."""
        self._released.set()

    def refuse_connections(self) -> None:
        """Nothing listens on the port any more: connections are refused."""
        self.server.shutdown()
        self.server.server_close()

    def accept_connections(self) -> None:
        """Listen on the same port again (the endpoint is back)."""
        self.server = self._listen(self.port)

    def _next(self, key: str | None) -> Fault | None:
        with self._lock:
            self.requests += 1
            self.keys_seen.append(key)
            if key in self.expired_keys:
                return EXPIRED
            return self.queue.popleft() if self.queue else self.default

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        fault = self._next(match.group(1) if match else None)
        if fault is None and self.refuse_when is not None:
            fault = self.refuse_when(body)
        if fault is None:
            self._forward(request, body)
        elif fault.reset:
            self._reset(request, mid_response=fault.reset == "mid-response")
        else:
            if fault.hang or fault.hold:
                self._hold()
            if fault.hang:
                request.close_connection = True
            elif fault.then_forward:
                self._forward(request, body)
            else:
                send_fault(request, fault)

    def _hold(self) -> None:
        with self._lock:
            self.holding += 1
        try:
            self._released.wait(30)
        finally:
            with self._lock:
                self.holding -= 1

    def _reset(self, request: BaseHTTPRequestHandler, mid_response: bool) -> None:
        if mid_response:  # headers and the start of the body, then nothing
            request.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 4096\r\n\r\n{"RestoreJobs": [{"RestoreJobId": "cut-'
            )
        # SO_LINGER 0: close with a TCP RST, as a crashing load balancer does
        connection = request.connection
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
        request.close_connection = True

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
            if key.lower() not in _HOP_BY_HOP:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
        connection.close()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
