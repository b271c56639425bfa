"""HTTP/1.1 on the wire, pure: a request head into a WSGI environ, a WSGI answer into bytes.

Kept apart from the server's event loop so that every rule about hostile input (too long, not
HTTP, a body we will not read) is one small function, and the loop only moves bytes.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

_METHOD = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_HEADER_NAME = _METHOD
_VERSION = re.compile(rb"^HTTP/[0-9]\.[0-9]$")
_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1")


class BadRequestError(Exception):
    """The request cannot be answered normally: answer ``status`` and close the connection."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Request:
    """A parsed request head: what the environ is built from, and whether to keep the line."""

    method: str
    target: bytes
    version: bytes
    headers: tuple[tuple[str, str], ...]
    content_length: int

    @property
    def keep_alive(self) -> bool:
        connection = ",".join(v for k, v in self.headers if k == "connection").lower()
        if self.version == b"HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def parse_head(head: bytes, max_body: int) -> Request:
    """The request line and headers (without the final blank line). Raises BadRequestError."""
    lines = head.split(b"\r\n") if b"\r\n" in head else head.split(b"\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _METHOD.match(parts[0]) or not parts[1]:
        raise BadRequestError("400 Bad Request", "malformed request line")
    method, target, version = parts
    if not _VERSION.match(version):
        raise BadRequestError("400 Bad Request", "not an HTTP version")
    if version not in _VERSIONS:
        raise BadRequestError("505 HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _HEADER_NAME.match(name):
            raise BadRequestError("400 Bad Request", "malformed header line")
        if any(c in value for c in b"\0\r\n"):
            raise BadRequestError("400 Bad Request", "control character in a header")
        headers.append((name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")))
    return Request(
        method.decode("ascii"), target, version, tuple(headers), _length(headers, max_body)
    )


def _length(headers: list[tuple[str, str]], max_body: int) -> int:
    if any(name == "transfer-encoding" for name, _ in headers):
        raise BadRequestError("501 Not Implemented", "Transfer-Encoding is not supported")
    lengths = {value for name, value in headers if name == "content-length"}
    if not lengths:
        return 0
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise BadRequestError("400 Bad Request", "bad Content-Length")
    length = int(next(iter(lengths)))
    if length > max_body:
        raise BadRequestError("413 Content Too Large", "request body too large")
    return length


def environ(
    request: Request, body: bytes, peer: tuple[str, int], local: tuple[str, int], https: bool
) -> dict[str, Any]:
    """The WSGI environ of one request (PEP 3333)."""
    path, _, query = request.target.partition(b"?")
    if path.startswith(b"http://") or path.startswith(b"https://"):  # absolute form
        path = b"/" + path.split(b"/", 3)[-1] if path.count(b"/") >= 3 else b"/"
    env: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": local[0],
        "SERVER_PORT": str(local[1]),
        "SERVER_PROTOCOL": request.version.decode("ascii"),
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": str(peer[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if https else "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if https:
        env["HTTPS"] = "on"
    for name, value in request.headers:
        if "_" in name:
            continue  # X_Forwarded would pass for X-Forwarded (as wsgiref drops them too)
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        env[key] = env[key] + "," + value if key in env else value
    return env


def response_head(
    status: str,
    headers: Iterable[tuple[str, str]],
    length: int,
    close: bool,
    http10: bool = False,
) -> bytes:
    """Status line and headers (Content-Length ``length`` when the app gave none). No Server
    header, as Go's net/http sends none: the version is for /metrics' build info, not for
    anyone who can open the port."""
    fixed = [(k, v) for k, v in headers if k.lower() not in ("connection", "date", "server")]
    if not any(k.lower() == "content-length" for k, _ in fixed):
        fixed.append(("Content-Length", str(length)))
    fixed.append(("Date", formatdate(usegmt=True)))
    if close:
        fixed.append(("Connection", "close"))
    elif http10:  # an HTTP/1.0 client asked to keep the connection: it must hear that we do
        fixed.append(("Connection", "keep-alive"))
    lines = [f"HTTP/1.1 {status}\r\n"] + [f"{k}: {v}\r\n" for k, v in fixed] + ["\r\n"]
    return "".join(lines).encode("latin-1")


def response_bytes(
    status: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    head_only: bool,
    close: bool,
    http10: bool = False,
) -> bytes:
    """A whole answer: head and body."""
    head = response_head(status, headers, len(body), close, http10)
    return head + (b"" if head_only else body)


def error_bytes(status: str, reason: str) -> bytes:
    """A plain-text error answer that closes the connection."""
    body = f"{status}: {reason}\n".encode()
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    return response_bytes(status, headers, body, head_only=False, close=True)
