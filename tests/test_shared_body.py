"""Concurrent /metrics requests share one view and one render (exporter.flights), over the real
HTTP server against the fake AWS Backup; and the single-flight rules on their own."""

from __future__ import annotations

import gzip
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.flights import Flights, SharedFlightError
from exporter.http import MetricsApp, make_http_server, serve_in_thread
from tests.conftest import Gate, put_job, update_job
from tests.network import Response, fetch
from tests.waiting import wait_until

PLAIN: dict[str, str] = {}
GZIP = {"Accept-Encoding": "gzip"}
OPENMETRICS = {"Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"}


@pytest.fixture
def serve():
    """Serve an app on the real HTTP server; returns its base URL."""
    servers = []

    def start(app: MetricsApp) -> str:
        httpd = make_http_server(app, "127.0.0.1:0")
        serve_in_thread(httpd)
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def gated(exporter) -> Gate:
    """Hold the exporter's ListRestoreJobs requests (and so its scrape) until released."""
    gate = Gate()
    exporter.syncers[0].api.client.meta.events.register(
        "before-send.backup.ListRestoreJobs", gate.hook
    )
    return gate


def at_once(
    app: MetricsApp, gate: Gate, requests: list[tuple[str, str, dict[str, str]]]
) -> list[Response]:
    """Send ``requests`` (url, method, headers) together while the scrape is held at the gate,
    and release it once every one of them is waiting for the body."""
    answers: list[Response | None] = [None] * len(requests)

    def send(index: int) -> None:
        url, method, headers = requests[index]
        answers[index] = fetch(url, method=method, headers=headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    wait_until(lambda: gate.entered.is_set() and app.bodies.calls == len(requests), 10)
    gate.released.set()
    for thread in threads:
        thread.join(30)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def values(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def status(body: bytes, job: str) -> str:
    """The job's status in a body (the state set's member at 1)."""
    (current,) = (
        dict(labels)["status"]
        for (name, labels), v in values(body).items()
        if name == "aws_backup_restore_job_status" and ("restore_job_id", job) in labels and v
    )
    return current


def test_twenty_requests_at_once_are_answered_from_one_sync_and_one_render(
    make_exporter, backup_server, serve
):
    done = [put_job(Status="COMPLETED", CreationDate=time.time() - 60 * (i + 1)) for i in range(5)]
    # a running job's duration is rendered at each render: separate renders would differ
    running = put_job(Status="RUNNING", PercentDone="10.00%", CreationDate=time.time() - 30)
    exporter = make_exporter()
    gate = gated(exporter)
    app = MetricsApp(exporter)
    url = serve(app) + "/metrics"
    answers = at_once(app, gate, [(url, "GET", GZIP if i % 2 else PLAIN) for i in range(20)])

    assert app.bodies.flights == 1
    assert {answer.status for answer in answers} == {200}
    plain = {answer.body for answer in answers[0::2]}
    zipped = {answer.body for answer in answers[1::2]}
    assert len(plain) == 1  # byte for byte the same body
    assert len(zipped) == 1  # compressed once
    assert {a.headers.get("Content-Encoding") for a in answers[0::2]} == {None}
    assert {a.headers["Content-Encoding"] for a in answers[1::2]} == {"gzip"}
    for answer in answers:
        assert int(answer.headers["Content-Length"]) == len(answer.body)
    (body,) = plain
    assert gzip.decompress(zipped.pop()) == body
    for job in [*done, running]:
        assert f'restore_job_id="{job}"'.encode() in body
    seen = values(body)
    syncs = {
        dict(labels)["kind"]: v
        for (name, labels), v in seen.items()
        if name.endswith("_syncs_total")
    }
    assert syncs == {"full": 1, "restore_testing": 1}  # one sync for the twenty
    requests = sum(v for (name, _), v in seen.items() if name.endswith("_api_requests_total"))
    assert requests == backup_server.requests()  # the exporter's own count is still right


def test_head_gzip_filters_and_formats_each_get_the_body_they_asked_for(make_exporter, serve):
    put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    exporter = make_exporter()
    gate = gated(exporter)
    app = MetricsApp(exporter)
    url = serve(app) + "/metrics"
    only_up = url + "?name[]=aws_backup_restore_exporter_target_up"
    requests = [
        (url, "GET", PLAIN),
        (url, "HEAD", PLAIN),
        (url, "GET", GZIP),
        (url, "HEAD", GZIP),
        (only_up, "GET", PLAIN),
        (only_up, "GET", PLAIN),
        (url, "GET", OPENMETRICS),
    ]
    get, head, get_gzip, head_gzip, up, up_again, openmetrics = at_once(app, gate, requests)

    assert app.bodies.flights == 3  # one per body: all, the filtered one, OpenMetrics
    assert head.body == b""
    assert head.headers["Content-Length"] == str(len(get.body))
    assert head_gzip.headers["Content-Encoding"] == "gzip"
    assert head_gzip.headers["Content-Length"] == str(len(get_gzip.body))
    assert gzip.decompress(get_gzip.body) == get.body
    assert up.body == up_again.body
    assert {name for name, _ in values(up.body)} == {"aws_backup_restore_exporter_target_up"}
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(openmetrics.body).endswith(b"# EOF\n")
    assert get.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_a_request_after_the_data_changed_gets_the_new_data(make_exporter, serve):
    job = put_job(Status="RUNNING", PercentDone="10.00%", CreationDate=time.time() - 60)
    app = MetricsApp(make_exporter())
    url = serve(app) + "/metrics"
    first = fetch(url).body
    update_job(job, Status="COMPLETED", PercentDone="100.00%", CompletionDate=time.time())
    second = fetch(url).body
    assert status(first, job) == "RUNNING"
    assert status(second, job) == "COMPLETED"
    assert app.bodies.flights == 2


def test_data_reused_under_min_interval_is_still_viewed_anew(make_exporter, clock, serve):
    """sync.min_interval shares the AWS data between scrapes, never a body: a later request
    gets a view of its own moment (here: the data's age), not the last body."""
    put_job(Status="COMPLETED", CreationDate=clock.now - 60)
    config = {"targets": [{"name": "main", "region": "us-east-1"}], "sync": {"min_interval": "1h"}}
    app = MetricsApp(make_exporter(config, clock=clock))
    url = serve(app) + "/metrics"
    age = ("aws_backup_restore_exporter_target_data_age_seconds",)
    ages = []
    for _ in range(2):
        seen = values(fetch(url).body)
        ages += [v for (name, _), v in seen.items() if (name,) == age]
        clock.advance(30)
    assert ages == [0, 30]
    assert app.bodies.flights == 2


# -- the single-flight rules, without HTTP ----------------------------------------------------


def run_in_thread(flights: Flights, results: dict, name: str, view, render) -> threading.Thread:
    def call() -> None:
        try:
            results[name] = flights.run("key", view, render)
        except Exception as error:
            results[name] = error

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_calls_while_the_view_is_taken_share_one_result():
    flights: Flights = Flights()
    entered, release = threading.Event(), threading.Event()
    renders = []

    def view():
        entered.set()
        assert release.wait(10)
        return "view"

    def render(view):
        renders.append(view)
        return [view]

    results: dict = {}
    threads = [run_in_thread(flights, results, "0", view, render)]
    assert entered.wait(10)
    threads += [run_in_thread(flights, results, str(i), view, render) for i in range(1, 10)]
    wait_until(lambda: flights.calls == 10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert renders == ["view"]
    assert len({id(result) for result in results.values()}) == 1  # the very same object
    assert flights.flights == 1


def test_a_call_during_a_render_waits_for_it_then_takes_a_new_view():
    """Never a view taken before the call arrived, and one render at a time."""
    flights: Flights = Flights()
    events: list[str] = []
    rendering, finish = threading.Event(), threading.Event()

    def slow_render(view):
        events.append(f"render {view}")
        rendering.set()
        assert finish.wait(10)
        events.append(f"rendered {view}")
        return view

    def second_view():
        events.append("view 2")
        return 2

    results: dict = {}
    first = run_in_thread(flights, results, "first", lambda: 1, slow_render)
    assert rendering.wait(10)
    second = run_in_thread(flights, results, "second", second_view, lambda view: view)
    wait_until(lambda: flights.calls == 2)
    finish.set()
    first.join(10)
    second.join(10)
    assert results == {"first": 1, "second": 2}
    assert events == ["render 1", "rendered 1", "view 2"]
    assert flights.flights == 2


def test_a_failed_flight_fails_its_calls_and_not_the_next_one():
    flights: Flights = Flights()
    entered, release = threading.Event(), threading.Event()

    def failing_view():
        entered.set()
        assert release.wait(10)
        raise ValueError("no view")

    results: dict = {}
    threads = [run_in_thread(flights, results, "leader", failing_view, lambda v: v)]
    assert entered.wait(10)
    threads.append(run_in_thread(flights, results, "joined", failing_view, lambda v: v))
    wait_until(lambda: flights.calls == 2)
    release.set()
    for thread in threads:
        thread.join(10)
    assert isinstance(results["leader"], ValueError)
    assert isinstance(results["joined"], SharedFlightError)
    assert isinstance(results["joined"].__cause__, ValueError)
    assert flights.run("key", lambda: "fine", lambda v: v) == "fine"
