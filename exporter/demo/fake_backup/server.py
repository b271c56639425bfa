"""The fake AWS Backup on 127.0.0.1: the API over HTTP, plus what benchmarks and tests need.

``FakeBackup`` holds one ``RestoreJobStore`` (restore jobs, and beside them restore testing plans
and selections and protected resources) and one ``AccountRegistry`` (the Account API's Region
statuses and organisation, ``accounts``), and serves both through ``BackupApi`` from a threaded
HTTP/1.1 server (keep-alive, as botocore's connection pool expects): a request scoped to ``backup``
is AWS Backup's, one scoped to ``account`` the Account API's, so its URL is both services'
endpoint. Around each API request: a latency (slept in the request's own thread, so concurrent
requests overlap as they do against AWS), injected errors (``fail_next``), counters per operation
and a request log (``accounting``), and an optional ``on_response`` hook that sees every response
before it is sent (the conformance tests walk them). A handler bug answers 500 InternalFailure and
is logged; it never kills the server thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.demo.fake_backup.account_operations import AccountOperations
from exporter.demo.fake_backup.accounting import Accounting, LoggedRequest
from exporter.demo.fake_backup.accounts import AccountRegistry
from exporter.demo.fake_backup.api import BackupApi, HttpRequest, HttpResponse, error_response
from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.generator import DEFAULT_REGION, JobChurn
from exporter.demo.fake_backup.operations import Handler, RestoreJobOperations
from exporter.demo.fake_backup.sigv4 import DEFAULT_ACCOUNT_ID, AccountResolver, fixed_account
from exporter.demo.fake_backup.store import RestoreJobStore
from exporter.demo.fake_backup.summary_operations import RestoreJobSummaryOperations
from exporter.demo.fake_backup.testing_operations import RestoreTestingOperations

log = logging.getLogger(__name__)
ResponseHook = Callable[[HttpRequest, HttpResponse], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = HttpRequest.parse(self.command, self.path, dict(self.headers.items()), body)
        response = self.server.fake.respond(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # quiet: benchmarks print their own figures, tests their own failures


class _Server(ThreadingHTTPServer):
    """Keeps its open connections, so that stopping closes kept-alive ones too: a client must
    see the endpoint go away, as it would see a real one."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], fake: FakeBackup, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.tls = tls
        self.connections_accepted = 0
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.connections_accepted += 1
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:  # the handshake in the connection's own thread, not accept()'s
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return  # a client that gave up or did not trust us: nothing to answer
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # closed by the client meanwhile
                connection.shutdown(socket.SHUT_RDWR)


class FakeBackup:
    """A fake AWS Backup and Account API endpoint (see the module docstring). ``accounts`` maps
    an access key ID to its account (default: every key is 123456789012); ``handlers`` adds AWS
    Backup operations; ``management_account`` is the organisation's management account, which
    may name member accounts in ListRegions (default: none, no organisation). The attribute
    ``accounts`` is the ``AccountRegistry`` (``fake.accounts.set_region(...)``); the resolver is
    ``fake.api.accounts``."""

    def __init__(
        self,
        latency: float = 0.0,
        store: RestoreJobStore | None = None,
        accounts: AccountResolver | None = None,
        handlers: Mapping[str, Handler] | None = None,
        log_size: int = 10_000,
        on_response: ResponseHook | None = None,
        management_account: str | None = None,
    ) -> None:
        self.latency = latency
        self.store = store if store is not None else RestoreJobStore()
        self.summaries = RestoreJobSummaryOperations(self.store)  # who is an administrator
        operations = (
            RestoreJobOperations(self.store).handlers()
            | RestoreTestingOperations(self.store).handlers()
            | self.summaries.handlers()
            | dict(handlers or {})
        )
        self.accounts = AccountRegistry(management_account)
        self.api = BackupApi(
            operations,
            accounts or fixed_account(),
            {"account": AccountOperations(self.accounts).handlers()},
        )
        self.accounting = Accounting(log_size)
        self.on_response = on_response
        self.churn = JobChurn(self.store)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- serving ---------------------------------------------------------------------------

    def respond(self, request: HttpRequest) -> HttpResponse:
        """One request, with latency, injected faults, counting and the hook."""
        started = time.monotonic()
        routed = self.api.route(request)
        operation = routed.operation if routed else None
        service = routed.service if routed else self.api.service_of(request)
        failure = self.accounting.arrived(operation)
        try:
            response = (
                error_response(failure, operation, service)
                if failure
                else self.api.handle(request, routed)
            )
        except Exception:
            log.exception("fake AWS Backup: %s %s failed", request.method, request.path)
            internal = ApiError("InternalFailure", "internal error")
            response = error_response(internal, operation, service)
        query = {name: values[-1] for name, values in request.query.items()}
        self.accounting.answered(
            LoggedRequest(
                operation, request.method, request.path, query, response.status,
                response.error_code, service,
            )
        )  # fmt: skip
        if self.on_response is not None:
            self.on_response(request, response)
        remaining = self.latency - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        return response

    def start(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> str:
        """Serve in a daemon thread (``port=0``: a free one); returns the endpoint URL. With
        ``tls`` (a server-side context) it serves HTTPS, as AWS does."""
        if self._server is not None:
            raise RuntimeError("FakeBackup.start: already serving")
        self._server = _Server((host, port), self, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-backup", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving (safe to call twice); the jobs stay in the store."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeBackup.url: call start() first")
        host, port = self._server.server_address[:2]
        return f"{'https' if self._server.tls else 'http'}://{host!s}:{port}"

    def connections(self) -> int:
        """TCP connections accepted so far: with TLS, each one is a handshake."""
        return self._server.connections_accepted if self._server is not None else 0

    @contextlib.contextmanager
    def serving(self, port: int = 0) -> Iterator[str]:
        """``start()`` ... ``stop()`` around a block; yields the endpoint URL."""
        url = self.start(port=port)
        try:
            yield url
        finally:
            self.stop()

    # -- state, for benchmarks and tests ----------------------------------------------------

    def reset(self, jobs: Iterable[Mapping[str, Any]] = (), seed: int = 0) -> None:
        """Forget every job, restore testing plan and selection and protected resource of every
        account and region, every Region status and organisation change made since the start
        (``accounts``), the counters, log, queued failures and summary settings; then store
        ``jobs`` (in the default account and region). Each run starts the same."""
        self.store.clear()
        self.accounts.reset()
        self.accounting.reset()
        self.summaries.reset()
        self.churn.reset(seed)
        self.store.load(DEFAULT_ACCOUNT_ID, DEFAULT_REGION, jobs)

    def tick(self, now: float | None = None, new_jobs: int = 3) -> int:
        """Move the default region's jobs along (``generator.JobChurn.tick``)."""
        return self.churn.tick(now, new_jobs)

    def fail_next(
        self, count: int, code: str = "ThrottlingException", message: str = "Rate exceeded",
        status: int | None = None,
    ) -> None:  # fmt: skip
        self.accounting.fail_next(count, code, message, status)

    def requests(self, operation: str | None = None) -> int:
        return self.accounting.requests(operation)

    def counts(self) -> dict[str, int]:
        return self.accounting.counts()

    @property
    def log(self) -> deque[LoggedRequest]:
        """The most recent requests, oldest first."""
        return self.accounting.log
