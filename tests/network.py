"""Loopback networking for tests: a free local port, and an HTTP(S) request whose error
statuses come back as answers rather than exceptions."""

from __future__ import annotations

import gzip
import io
import socket
import ssl
import urllib.error
import urllib.request
from email.message import Message
from typing import NamedTuple


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def inflate(body: bytes) -> bytes:
    """A gzip body inflated as Prometheus' reader does it: one pass over every member.

    The body of a large scrape is thousands of gzip members (blocks.py). ``gzip.decompress``
    copies the rest of the input after each member, so it takes quadratic time on them: 50 s
    for 1,000 targets' body, which is the client's cost, not the exporter's. ``GzipFile``
    streams through them.
    """
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
        return stream.read()


class Response(NamedTuple):
    status: int
    headers: Message  # looked up without regard to case, as HTTP wants
    body: bytes


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    timeout: float = 30,
) -> Response:
    """One request; a 4xx or 5xx is an answer like any other. Connection and TLS failures raise
    (OSError, http.client.HTTPException)."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())
