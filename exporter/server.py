"""The HTTP server: one event loop reads requests, a fixed pool of threads answers them.

A connection costs a thread only while its request is being answered. Until its request head
has arrived in full (and its TLS handshake is done), a connection is a few kilobytes in the
event loop, with a deadline (``read_timeout``; ``idle_timeout`` between kept-alive requests).
So a client that sends half a request and stalls holds no thread, and is closed at its
deadline. The number of open connections is bounded (``max_connections``): past it, the
connection that has waited longest for its request is closed to make room, so a flood of stalled
connections cannot lock Prometheus out; connections whose request is being answered are never
closed for room. Threads: the loop's, plus ``max_concurrent_requests`` workers, never more.

What is served can change while it runs (``site``): each new connection shakes hands with the
TLS context of the moment and each request goes to the app of the moment, which is how a renewed
certificate or a changed web config takes effect without a restart (exporter.reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from exporter.httpwire import (
    BadRequestError,
    Request,
    environ,
    error_bytes,
    parse_head,
    response_head,
)

log = logging.getLogger(__name__)

_ACCEPT_BATCH = 64

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
PeerCheck = Callable[[Any], bool]  # the ssl.SSLObject of a finished handshake -> allowed


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server; every default is documented in SECURITY.md."""

    read_timeout: float = 10.0  # TLS handshake and a whole request head, from the connection
    idle_timeout: float = 60.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 60.0  # a client taking its answer
    max_connections: int = 1024
    max_concurrent_requests: int = 64  # worker threads, started as needed
    shutdown_timeout: float = 15.0  # in-flight requests may finish within this after SIGTERM
    max_header_bytes: int = 16384
    max_body_bytes: int = 65536  # read and ignored: nothing here takes a body


@dataclass(frozen=True)
class Site:
    """What is served at a moment: the app, the TLS context and the client certificate check."""

    app: WsgiApp
    ssl_context: ssl.SSLContext | None = None
    peer_check: PeerCheck | None = None


class _Connection:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task = task
        self.busy = False  # a request is being answered: never closed to make room


class HttpServer:
    """Serves ``site`` on a bound socket; ``serve_forever`` runs the loop, ``shutdown`` ends it."""

    def __init__(self, sock: socket.socket, site: Site, limits: Limits | None = None) -> None:
        self.socket = sock
        self.site = site
        self.limits = limits = limits or Limits()
        self.server_address: tuple[Any, ...] = sock.getsockname()
        self._pool = ThreadPoolExecutor(limits.max_concurrent_requests, "http-worker")
        self._connections: dict[_Connection, None] = {}  # in order of last wait start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._done = threading.Event()
        self.in_flight = 0
        self.cut_off = 0  # requests still running when the shutdown timeout ran out

    # -- life cycle ---------------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()``; then stop accepting, let requests finish, close."""
        del poll_interval  # accepted for socketserver's signature
        try:
            asyncio.run(self._serve())
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._started.set()  # so that shutdown() never waits for a loop that failed to start
            self._done.set()

    def shutdown(self) -> None:
        """Ask the loop to stop (from any thread) and wait until it has."""
        self._started.wait()
        if self._loop is not None and self._stop is not None and not self._done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        self._done.wait()

    def server_close(self) -> None:
        self.socket.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._on_connect,
            sock=self.socket,
            limit=self.limits.max_header_bytes,
            backlog=_ACCEPT_BATCH,
        )
        # asyncio listens again with the backlog it accepts per turn of the loop: keep that
        # small, so a flood of connections is taken in turns with the requests being answered,
        # and the kernel's queue large, so the flood waits there instead of losing SYNs
        self.socket.listen(socket.SOMAXCONN)
        self._started.set()
        await self._stop.wait()
        server.close()  # no new connections; the listening socket stays ours to close
        for connection in list(self._connections):
            if not connection.busy:
                connection.task.cancel()
        await self._drain()

    async def _drain(self) -> None:
        deadline = self._loop.time() + self.limits.shutdown_timeout if self._loop else 0.0
        while self._connections and self._loop is not None and self._loop.time() < deadline:
            for connection in list(self._connections):
                if not connection.busy:
                    connection.task.cancel()
            await asyncio.sleep(0.02)
        self.cut_off = self.in_flight
        for connection in list(self._connections):
            connection.task.cancel()
        if self._connections:
            await asyncio.gather(*(c.task for c in self._connections), return_exceptions=True)

    # -- connections ----------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = _Connection(task)
        if not self._make_room():
            writer.transport.abort()
            return
        self._connections[connection] = None
        try:
            await self._converse(connection, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):  # timeouts are OSErrors
            pass  # the client went away, was too slow, or spoke no TLS: nothing to answer
        except asyncio.CancelledError:
            pass  # closed to make room, or at shutdown
        finally:
            self._connections.pop(connection, None)
            writer.transport.abort()

    def _make_room(self) -> bool:
        """At the bound, close the connection that has waited longest for its request; False
        when every connection has a request being answered (the newcomer is turned away)."""
        if len(self._connections) < self.limits.max_connections:
            return True
        for connection in self._connections:
            if not connection.busy:
                del self._connections[connection]
                connection.task.cancel()
                return True
        return False

    async def _converse(
        self, connection: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        timeout = self.limits.read_timeout
        site = self.site
        if site.ssl_context is not None:
            await writer.start_tls(site.ssl_context, ssl_handshake_timeout=timeout)
            ssl_object = writer.get_extra_info("ssl_object")
            if site.peer_check is not None and not site.peer_check(ssl_object):
                log.debug("client certificate of %s not allowed", _peer(writer)[0])
                return
        https = site.ssl_context is not None
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
                request = parse_head(head[:-4], self.limits.max_body_bytes)
                body = await asyncio.wait_for(reader.readexactly(request.content_length), timeout)
            except asyncio.LimitOverrunError:
                await self._send(writer, error_bytes("431 Request Header Fields Too Large", "long"))
                return
            except BadRequestError as error:
                await self._send(writer, error_bytes(error.status, str(error)))
                return
            connection.busy = True
            keep = await self._answer(request, body, writer, https)
            connection.busy = False
            if not keep or self._stop is None or self._stop.is_set():
                return
            self._connections.pop(connection, None)  # to the end: the newest waiter
            self._connections[connection] = None
            timeout = self.limits.idle_timeout

    async def _answer(
        self, request: Request, body: bytes, writer: asyncio.StreamWriter, https: bool
    ) -> bool:
        """Answer one request; False when the connection must close. A body whose length the
        app declared is streamed piece by piece as the app yields it (the /metrics body is
        never copied whole), each piece pulled on a worker, never on the loop."""
        env = environ(request, body, _peer(writer), _local(writer), https)
        keep = request.keep_alive
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        answer = None
        try:
            answer = await loop.run_in_executor(self._pool, _call, self.site.app, env)
            log.debug("%s %s %s: %s", env["REMOTE_ADDR"], request.method, env["PATH_INFO"],
                      answer.status)  # fmt: skip
            http10 = request.version == b"HTTP/1.0"
            head = response_head(answer.status, answer.headers, answer.length, not keep, http10)
            piece = None
            if request.method != "HEAD":  # the head goes out with the first piece, not alone
                piece = await loop.run_in_executor(self._pool, _next, answer.body)
            writer.write(head + (piece or b""))
            while piece is not None:
                await asyncio.wait_for(writer.drain(), self.limits.write_timeout)
                piece = await loop.run_in_executor(self._pool, _next, answer.body)
                if piece is not None:
                    writer.write(piece)
            await asyncio.wait_for(writer.drain(), self.limits.write_timeout)
        except _BodyError:
            return False  # the head is out: all that is left is to close the connection
        finally:
            self.in_flight -= 1
            if answer is not None:
                await loop.run_in_executor(self._pool, answer.close)
        return keep

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.limits.write_timeout)


class _BodyError(Exception):
    """The app failed while its body was being sent."""


@dataclass
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: Iterator[bytes]
    length: int
    close: Callable[[], None] = lambda: None


def _next(body: Iterator[bytes]) -> bytes | None:
    """The next non-empty piece of a body, None at its end; _BodyError if the app fails."""
    try:
        for piece in body:
            if piece:
                return piece
    except Exception as error:
        log.exception("error while sending a body")
        raise _BodyError from error
    return None


def _call(app: WsgiApp, env: dict[str, Any]) -> _Answer:
    """Run the WSGI app in a worker thread. A body whose Content-Length the app gave stays an
    iterator, to be streamed; any other is joined here (small: errors, pages). Never raises."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        started[:] = [(status, headers)]

    try:
        result = app(env, start_response)
        body = iter(result)
        first = b"" if started else next(body, b"")  # a generator app starts on its first piece
        status, headers = started[0]
        close = getattr(result, "close", None) or (lambda: None)
        declared = [v for k, v in headers if k.lower() == "content-length"]
        if declared:
            pieces = itertools.chain([first], body)
            return _Answer(status, headers, pieces, int(declared[0]), close)
        try:
            data = first + b"".join(body)
        finally:
            close()
        return _Answer(status, headers, iter([data]), len(data))
    except Exception:
        log.exception("error answering %s %s", env.get("REQUEST_METHOD"), env.get("PATH_INFO"))
        data = b"500 error\n"
        return _Answer("500 Internal Server Error", [("Content-Type", "text/plain")],
                       iter([data]), len(data))  # fmt: skip


def _peer(writer: asyncio.StreamWriter) -> tuple[str, int]:
    peer = writer.get_extra_info("peername") or ("?", 0)
    return str(peer[0]), int(peer[1])


def _local(writer: asyncio.StreamWriter) -> tuple[str, int]:
    local = writer.get_extra_info("sockname") or ("", 0)
    return str(local[0]), int(local[1])


def bind(host: str, port: int, backlog: int = socket.SOMAXCONN) -> socket.socket:
    """A listening TCP socket; IPv6 when ``host`` is an IPv6 address. The backlog is the
    system's maximum, as Go's net/http listens: a burst of connections waits there instead of
    having its SYNs dropped (and retried a second later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
