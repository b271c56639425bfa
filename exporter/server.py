"""The HTTP server: one event loop reads requests, a fixed pool of threads answers them.

A connection costs a thread only while its request is being answered. Until its first request
head has arrived in full, a plain-HTTP connection waits in the room (exporter.waitroom): a socket
and a few bytes, with no task, stream or timer of its own, so that a flood of connections costs
the loop an accept, a read and a close each and the kernel's accept queue stays short for the
scrape behind them. Once its head is complete it is served by an asyncio stream, as a TLS
connection is from its accept (its handshake bounded by ``read_timeout`` too) and a kept-alive
one between requests (``idle_timeout``). So a client that sends half a request and stalls holds
no thread, and is closed at its deadline. The number of open connections is bounded
(``max_connections``): past it, the connection that has waited longest for its request is closed
to make room, so a flood of stalled connections cannot lock Prometheus out; connections whose
request is complete or being answered are the last to go, and those being answered never. While
connections arrive faster than the loop accepts them (more than a batch in the kernel's queue),
a plain newcomer past the bound is served only if its whole request head came with it, and is
closed at once otherwise: half the work of making room, so the flood is taken faster and the
scrape queued behind it waits less. Threads: the loop's, plus ``max_concurrent_requests``
workers, never more.

What is served can change while it runs (``site``): each new connection shakes hands with the
TLS context of the moment and each request goes to the app of the moment, which is how a renewed
certificate or a changed web config takes effect without a restart (exporter.reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from exporter.httpwire import BadRequestError, Request, error_bytes, parse_head
from exporter.waitroom import Waiter, WaitingRoom, complete_head
from exporter.wsgicall import WsgiApp as WsgiApp  # re-exported: reload.py names it here
from exporter.wsgicall import peer, respond

log = logging.getLogger(__name__)

ACCEPT_BATCH = 64  # connections taken per turn of the loop

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
    """A connection served by an asyncio stream: TLS from its accept, plain HTTP from the
    moment its first request head is complete, and every kept-alive connection."""

    __slots__ = ("busy", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # a request is being answered: never closed to make room

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class HttpServer:
    """Serves ``site`` on a bound socket; ``serve_forever`` runs the loop, ``shutdown`` ends it."""

    def __init__(self, sock: socket.socket, site: Site, limits: Limits | None = None) -> None:
        self.socket = sock
        self.site = site
        self.limits = limits = limits or Limits()
        self.server_address: tuple[Any, ...] = sock.getsockname()
        self._pool = ThreadPoolExecutor(limits.max_concurrent_requests, "http-worker")
        # every open connection, in order of last wait start: the waiters in the room, and the
        # connections served by a stream
        self._connections: dict[Waiter | _Connection, None] = {}
        self._room: WaitingRoom | None = None
        self._resume: asyncio.TimerHandle | None = None
        self._flood = False  # the last accept left connections in the kernel's queue
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
        self._loop = loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._room = WaitingRoom(
            loop,
            self.limits.read_timeout,
            self.limits.max_header_bytes,
            on_head=self._on_head,
            on_gone=self._on_gone,
        )
        self.socket.setblocking(False)
        loop.add_reader(self.socket.fileno(), self._accept)
        self._started.set()
        await self._stop.wait()
        self._stop_accepting()
        self._room.close_all()
        for connection in list(self._connections):
            if not connection.busy:
                self._close(connection)
        await self._drain()

    def _stop_accepting(self) -> None:
        """No new connections: the kernel refuses them from now on, as it did before start."""
        if self._resume is not None:
            self._resume.cancel()
        if self._loop is not None and self.socket.fileno() >= 0:
            self._loop.remove_reader(self.socket.fileno())
        self.socket.close()

    async def _drain(self) -> None:
        deadline = self._loop.time() + self.limits.shutdown_timeout if self._loop else 0.0
        while self._connections and self._loop is not None and self._loop.time() < deadline:
            for connection in list(self._connections):
                if not connection.busy:
                    self._close(connection)
            await asyncio.sleep(0.02)
        self.cut_off = self.in_flight
        for connection in list(self._connections):
            self._close(connection)
        tasks = [c.task for c in self._connections if isinstance(c, _Connection) and c.task]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- connections ----------------------------------------------------------------------------

    def _accept(self) -> None:
        """Take up to a batch of new connections, then let the loop turn: the requests of
        connections already open are served between batches. A plain connection waits in the
        room, a TLS one gets its stream. While the kernel holds more connections than a batch
        (a flood), one past the bound is served only if its whole request head came with it
        and is closed at once otherwise, for an accept, a read and a close: the flood is
        taken at that rate, and a scrape waiting behind it reaches the server sooner."""
        flood, self._flood = self._flood, True  # unless the kernel's queue empties below
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _ = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                self._flood = False
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:  # out of file descriptors, or of memory
                self._pause_accepting(error)
                return
            site = self.site
            plain = site.ssl_context is None
            if flood and plain and len(self._connections) >= self.limits.max_connections:
                self._admit_if_complete(sock)
            elif not self._make_room():
                sock.close()
            elif plain and self._room is not None:
                self._connections[self._room.add(sock)] = None
            else:
                self._serve_stream(sock, b"", site)

    def _admit_if_complete(self, sock: socket.socket) -> None:
        head = complete_head(sock)
        if head is None or not self._make_room():
            sock.close()
        else:
            self._serve_stream(sock, head, Site(self.site.app))

    def _pause_accepting(self, error: OSError) -> None:
        log.error("cannot accept connections (%s): trying again in a second", error)
        assert self._loop is not None
        fd = self.socket.fileno()
        self._loop.remove_reader(fd)
        self._resume = self._loop.call_later(1.0, self._loop.add_reader, fd, self._accept)

    def _on_head(self, waiter: Waiter) -> None:
        """A waiter's request head is complete: serve it as the newest connection, last in
        line to be closed for room."""
        self._connections.pop(waiter, None)
        self._serve_stream(waiter.sock, waiter.data, Site(self.site.app))

    def _on_gone(self, waiter: Waiter) -> None:
        self._connections.pop(waiter, None)

    def _serve_stream(self, sock: socket.socket, data: bytes, site: Site) -> None:
        connection = _Connection()
        self._connections[connection] = None
        assert self._loop is not None
        task = self._loop.create_task(self._stream(connection, sock, data, site))
        connection.task = task

        def done(_: object) -> None:  # also when cancelled before it ran at all
            self._connections.pop(connection, None)
            sock.close()

        task.add_done_callback(done)

    async def _stream(
        self, connection: _Connection, sock: socket.socket, data: bytes, site: Site
    ) -> None:
        """Serve ``sock`` (whose first ``data`` was read already) with ``site``'s TLS."""
        reader = asyncio.StreamReader(limit=self.limits.max_header_bytes)
        if data:
            reader.feed_data(data)
        protocol = asyncio.StreamReaderProtocol(reader)
        writer = None
        try:
            assert self._loop is not None
            tls = site.ssl_context
            timeout = self.limits.read_timeout if tls is not None else None
            transport, _ = await self._loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=tls, ssl_handshake_timeout=timeout
            )
            writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
            await self._converse(connection, reader, writer, site)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):  # timeouts are OSErrors
            pass  # the client went away, was too slow, or spoke no TLS: nothing to answer
        except asyncio.CancelledError:
            pass  # closed to make room, or at shutdown
        finally:
            if writer is not None:
                writer.transport.abort()

    def _close(self, connection: Waiter | _Connection) -> None:
        self._connections.pop(connection, None)
        if isinstance(connection, Waiter):
            if self._room is not None:
                self._room.close(connection)
        else:
            connection.close()

    def _make_room(self) -> bool:
        """At the bound, close the connection that has waited longest for its request; False
        when every connection has a request being answered (the newcomer is turned away)."""
        if len(self._connections) < self.limits.max_connections:
            return True
        for connection in self._connections:
            if not connection.busy:
                self._close(connection)
                return True
        return False

    async def _converse(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        site: Site,
    ) -> None:
        timeout = self.limits.read_timeout
        peer_check = site.peer_check if site.ssl_context is not None else None
        if peer_check is not None and not peer_check(writer.get_extra_info("ssl_object")):
            log.debug("client certificate of %s not allowed", peer(writer)[0])  # after handshake
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
        """Answer one request with the app of the moment; False when the connection must close."""
        self.in_flight += 1
        try:
            return await respond(
                self.site.app, request, body, writer, https, self._pool, self.limits.write_timeout
            )
        finally:
            self.in_flight -= 1

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.limits.write_timeout)


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
