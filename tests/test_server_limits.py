"""What one client may cost the server, over real sockets: stalled and idle connections are
closed at their deadlines, a flood of them never locks out a scrape nor adds threads, odd
requests get a 4xx, and a shutdown lets the requests in flight finish."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from exporter.http import MetricsApp, make_http_server, serve_in_thread
from exporter.server import ACCEPT_BATCH, Limits
from tests.network import fetch
from tests.waiting import wait_until


def hello(environ, start_response):
    body = b"hello\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [body]


@pytest.fixture
def start():
    started = []

    def start(app=hello, **limits):
        server = make_http_server(app, "127.0.0.1:0", limits=Limits(**limits))
        thread = serve_in_thread(server)
        started.append((server, thread))
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def connect(server, timeout=10.0):
    return socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=timeout)


def closed_by_server(sock):
    """Wait (up to the socket's timeout) until the server hangs up; True when it did."""
    try:
        while sock.recv(4096):
            pass
        return True
    except (TimeoutError, ConnectionResetError):
        return False


def hung_up_on(sock):
    """True when the server closed the connection, cleanly or with a reset (as it does when it
    had not read what the client sent yet); False if it is still open after the timeout."""
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def exchange(server, raw: bytes) -> bytes:
    with connect(server) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_partial_request_is_closed_at_the_read_timeout(start):
    server, _ = start(read_timeout=0.3)
    with connect(server) as sock:
        sock.sendall(b"GET /metr")
        assert closed_by_server(sock)


def test_a_silent_connection_is_closed_at_the_read_timeout(start):
    server, _ = start(read_timeout=0.3)
    with connect(server) as sock:
        assert closed_by_server(sock)


def test_an_idle_kept_alive_connection_is_closed_at_the_idle_timeout(start):
    server, _ = start(idle_timeout=0.3)
    with connect(server) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        assert closed_by_server(sock)


def test_keep_alive_and_pipelining_answer_every_request_on_one_connection(start):
    server, _ = start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    for _ in range(3):
        connection.request("GET", "/x")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"hello\n")
    connection.close()
    raw = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert exchange(server, raw).count(b"HTTP/1.1 200 OK") == 2


def test_stalled_connections_past_the_bound_lock_out_no_one_and_add_no_threads(start):
    before = threading.active_count()
    server, url = start(max_connections=20, max_concurrent_requests=4, read_timeout=60)
    stalled = [connect(server) for _ in range(60)]
    try:
        for sock in stalled:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        for _ in range(5):
            assert fetch(url + "/healthz", timeout=10).status == 200
            wait_until(lambda: len(server._connections) == 19, what="the scrape's connection gone")
        # each newcomer at the bound made room by closing the one that had waited longest: the
        # 40 past it and the first scrape closed the oldest 41 stalled connections, in order
        # (the other scrapes found the room the first one left)
        for index, sock in enumerate(stalled[:41]):
            sock.settimeout(5)
            assert hung_up_on(sock), index
        # the loop's thread and at most 4 workers, however many connections
        assert threading.active_count() <= before + 1 + 4
        # the 19 newest still wait for their request, and are answered when it comes
        for sock in stalled[41:]:
            sock.sendall(b"\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    finally:
        for sock in stalled:
            sock.close()


def test_in_a_flood_a_complete_request_is_answered_and_stalled_newcomers_are_refused(start):
    server, _ = start(max_connections=20, read_timeout=60)
    entered, release = threading.Event(), threading.Event()
    # hold the loop, so that the connections below wait in the kernel's queue, as in a flood
    # that arrives faster than the loop accepts
    assert server._started.wait(10)
    server._loop.call_soon_threadsafe(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(10)
    stalled = [connect(server) for _ in range(3 * ACCEPT_BATCH)]
    try:
        for sock in stalled:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        with connect(server) as scrape:  # behind them all, with its whole request
            scrape.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            release.set()
            assert scrape.recv(4096).startswith(b"HTTP/1.1 200 OK")
        # the first batch was taken as usual (the oldest closed to make room); past it, with
        # more connections queued than a batch, a stalled newcomer was closed at once
        for index, sock in enumerate(stalled[ACCEPT_BATCH:]):
            sock.settimeout(5)
            assert hung_up_on(sock), index
        wait_until(lambda: len(server._connections) <= 20, what="at most the bound open")
    finally:
        release.set()
        for sock in stalled:
            sock.close()


def test_a_request_head_that_arrives_in_pieces_is_answered(start):
    server, _ = start(read_timeout=10)
    head = b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: piecemeal\r\n\r\n"
    for cut in (1, len(head) - 3, len(head) - 2, len(head) - 1):  # across the blank line too
        with connect(server) as sock:
            sock.sendall(head[:cut])
            # the server has read the first piece (so the second is read apart from it)
            wait_until(lambda: any(getattr(c, "data", b"") for c in server._connections))
            sock.sendall(head[cut:])
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 OK"), cut
            assert answer.endswith(b"hello\n"), cut


def test_at_the_bound_with_every_request_being_answered_a_newcomer_is_turned_away(start):
    entered, release = threading.Event(), threading.Event()

    def slow(environ, start_response):
        entered.set()
        release.wait(10)
        return hello(environ, start_response)

    server, url = start(app=slow, max_connections=2, max_concurrent_requests=2)
    answers = []
    clients = [threading.Thread(target=lambda: answers.append(fetch(url, timeout=20)))
               for _ in range(2)]  # fmt: skip
    for client in clients:
        client.start()
    wait_until(lambda: server.in_flight == 2, what="both requests being answered")
    try:
        with connect(server, timeout=5) as sock:  # nothing can be closed to make room for it
            assert closed_by_server(sock)
    finally:
        release.set()
        for client in clients:
            client.join(10)
    assert [a.status for a in answers] == [200, 200]  # the requests being answered were not
    wait_until(lambda: not server._connections, what="the answered connections closed")
    assert fetch(url + "/healthz", timeout=10).status == 200  # and there is room again


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /a HTTP/1.1\r\nX: " + b"y" * 20000 + b"\r\n\r\n", b"431"),
        (b"GET /a HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"NOT A REQUEST\r\n\r\n", b"400"),
        (b"GET /a HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"501"),
        (b"GET /a HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
        (b"GET /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
    ],
    ids=["huge-header", "no-colon", "not-http", "http2", "chunked", "huge-body", "bad-length"],
)
def test_requests_the_server_will_not_read_get_a_4xx_and_a_close(start, raw, status):
    server, _ = start()
    answer = exchange(server, raw)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert b"Connection: close" in answer


def test_an_http10_client_that_asks_for_keep_alive_is_told_it_has_it(start):
    server, _ = start()
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert b"Connection: keep-alive" in answer
    assert b"Connection: close" in exchange(server, b"GET /a HTTP/1.0\r\n\r\n")


def test_a_body_on_get_is_read_and_ignored(start):
    server, _ = start()
    raw = b"GET /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.0\r\n\r\n"
    assert exchange(server, raw).count(b"200 OK") == 2


def test_shutdown_lets_the_request_in_flight_finish_and_accepts_no_new_one(start):
    entered, release = threading.Event(), threading.Event()

    def slow(environ, start_response):
        entered.set()
        release.wait(10)
        return hello(environ, start_response)

    server, url = start(app=slow, shutdown_timeout=30)
    answers = []
    client = threading.Thread(target=lambda: answers.append(fetch(url + "/slow", timeout=20)))
    client.start()
    assert entered.wait(10)
    stopping = threading.Thread(target=server.shutdown)
    stopping.start()

    def refused():
        try:
            fetch(url + "/healthz", timeout=2)
        except OSError:
            return True
        return False

    wait_until(refused, timeout=10, what="the server to stop accepting")
    release.set()
    client.join(10)
    stopping.join(10)
    assert [a.status for a in answers] == [200]
    assert not stopping.is_alive()
    assert server.cut_off == 0


def test_shutdown_cuts_off_a_request_that_outlasts_the_shutdown_timeout(start):
    release = threading.Event()

    def stuck(environ, start_response):
        release.wait(30)
        return hello(environ, start_response)

    server, url = start(app=stuck, shutdown_timeout=0.2)

    def cut_off():
        with pytest.raises((OSError, http.client.HTTPException)):
            fetch(url, timeout=20)

    client = threading.Thread(target=cut_off)
    client.start()
    wait_until(lambda: server.in_flight == 1, timeout=10, what="the request to arrive")
    server.shutdown()
    assert server.cut_off == 1
    release.set()
    client.join(10)


def test_the_metrics_app_is_served_unchanged(start, make_exporter):
    _, url = start(app=MetricsApp(make_exporter()))
    status, headers, body = fetch(url + "/metrics?name[]=aws_backup_restore_exporter_build_info")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Server"] is None  # the version is not told to whoever opens the port
    assert body.count(b"aws_backup_restore_exporter_build_info{") == 1
