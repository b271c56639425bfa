"""HTTP: /metrics, /healthz and a landing page, as a WSGI app, and the server it runs on
(exporter.server).

/healthz answers without touching AWS, so liveness and readiness probes never depend on AWS
being reachable (an AWS outage must show in metrics, not restart the pod). Concurrent /metrics
requests for the same body (Content-Type and name[] filter) share one view and one render
(exporter.flights), and are served the same bytes, gzipped once.
"""

from __future__ import annotations

import html
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder

from exporter import __version__
from exporter.exposition import Body, render_scrape
from exporter.flights import Flights
from exporter.scheduler import Exporter
from exporter.server import HttpServer, Limits, PeerCheck, Site, bind
from exporter.store import ReloadStatus, Scrape

log = logging.getLogger(__name__)
LANDING_TARGETS = 200  # an organisation's thousand targets belong in /metrics, not on a page

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Response = tuple[str, list[tuple[str, str]], Iterable[bytes], int]  # status, headers, body, length
BodyKey = tuple[str, frozenset[str] | None]  # Content-Type, name[] filter
View = tuple[Scrape, list[Metric]]  # the scrape and the other collectors' families


class MetricsApp:
    """The exporter's WSGI application."""

    def __init__(
        self, exporter: Exporter, telemetry_path: str = "/metrics", extra_registry: Any = None
    ) -> None:
        self.exporter = exporter
        self.telemetry_path = telemetry_path
        self.extra_registry = extra_registry  # process/platform/gc collectors, when asked for
        self._cache = exporter.blocks  # the exporter's own, which background syncs pre-render
        # How the web config's last reload went, once reloading is on (cli.serve sets it).
        self.web_config_status: Callable[[], ReloadStatus] | None = None
        self.bodies: Flights[BodyKey, View, Body] = Flights()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        routes = {self.telemetry_path: self._metrics, "/healthz": self._healthz, "/": self._landing}
        handler = routes.get(path)
        if handler is None:
            return _plain(start_response, "404 Not Found", f"404 page not found: {path}\n")
        if method == "OPTIONS":
            start_response("200 OK", [("Allow", "OPTIONS, GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        if method not in ("GET", "HEAD"):
            start_response(
                "405 Method Not Allowed",
                [("Allow", "OPTIONS, GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
            )
            return [f"405 method not allowed: {method}\n".encode()]
        status, headers, body, length = handler(environ)
        headers.append(("Content-Length", str(length)))
        start_response(status, headers)
        return [b""] if method == "HEAD" else body

    def _metrics(self, environ: dict[str, Any]) -> Response:
        names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
        accept = environ.get("HTTP_ACCEPT")
        key = (choose_encoder(accept or "")[1], frozenset(names) if names else None)

        def render(view: View) -> Body:
            chunks, content_type = render_scrape(view[0], self._cache, accept, names, view[1])
            return Body(chunks, content_type)

        with self.exporter.scrapes_first.rendering():  # background syncs give way meanwhile
            body = self.bodies.run(key, self._view, render)
            pieces, length, encoding = body.encoded(environ.get("HTTP_ACCEPT_ENCODING"))
        return "200 OK", [("Content-Type", body.content_type), *encoding], pieces, length

    def _view(self) -> View:
        scrape = self.exporter.scrape()
        if self.web_config_status is not None:
            scrape = replace(scrape, web_config=self.web_config_status())
        extra = list(self.extra_registry.collect()) if self.extra_registry is not None else []
        return scrape, extra

    def _healthz(self, environ: dict[str, Any]) -> Response:
        del environ
        return "200 OK", [("Content-Type", "text/plain; charset=utf-8")], [b"ok\n"], 3

    def _landing(self, environ: dict[str, Any]) -> Response:
        del environ
        targets = [sync.target for sync in self.exporter.syncers]
        shown = (
            f"{len(targets)}"
            if len(targets) <= LANDING_TARGETS
            else (f"the first {LANDING_TARGETS} of {len(targets)}")
        )
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(t.name),
                html.escape(t.region),
                html.escape(t.role_arn or "-"),
                "on" if t.discovery.enabled else "off",
            )
            for t in targets[:LANDING_TARGETS]
        )
        page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>AWS Backup restore exporter</title></head>
<body><h1>AWS Backup restore exporter</h1>
<p>Version {html.escape(__version__)}</p>
<ul><li><a href="{html.escape(self.telemetry_path)}">Metrics</a></li>
<li><a href="/healthz">Health</a></li></ul>
<h2>Targets ({shown})</h2>
<table><tr><th>Name</th><th>Region</th><th>Role</th><th>Discovery</th></tr>{rows}</table>
</body></html>
"""
        body = page.encode()
        return "200 OK", [("Content-Type", "text/html; charset=utf-8")], [body], len(body)


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def parse_listen_address(address: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[v6]:port`` into a bindable (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected HOST:PORT such as :9798 or 127.0.0.1:9798, got {address!r}")
    host = host.strip("[]")
    return host, int(port_text)


def make_http_server(
    app: WsgiApp,
    address: str,
    ssl_context: ssl.SSLContext | None = None,
    peer_check: PeerCheck | None = None,
    limits: Limits | None = None,
) -> HttpServer:
    """The server on ``address`` (``:9798`` means every IPv4 interface, like Go's net/http; IPv6
    when the host is an IPv6 address); TLS with ``ssl_context``, ``peer_check`` then deciding on
    the client's certificate. Binds at once, so a port in use raises OSError here."""
    host, port = parse_listen_address(address)
    return HttpServer(
        bind(host or "0.0.0.0", port), Site(app, ssl_context, peer_check), limits or Limits()
    )


def serve_in_thread(server: HttpServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
