"""The web config and its certificates reloaded while serving: a renewed certificate reaches new
connections, a broken renewal keeps the last good one and says so, users change without a
restart."""

from __future__ import annotations

import logging
import socket
import ssl
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.http import make_http_server
from exporter.reload import WebReloader, site_for
from exporter.webconfig import load_web_config
from tests.network import fetch
from tests.processes import ExporterProcess
from tests.test_tls_auth import USERS, basic
from tests.tls_certs import renew_server_cert, write_cert_files
from tests.waiting import wait_until

WEB = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]


@pytest.fixture
def served(tmp_path):
    """A TLS server on a web config file in tmp_path, with its reloader (checked by hand)."""
    certs = write_cert_files(tmp_path)
    path = tmp_path / "web.yml"
    path.write_text(WEB)
    web = load_web_config(path)
    site = site_for(hello, web, None)
    server = make_http_server(site.app, "127.0.0.1:0", site.ssl_context, site.peer_check)

    def apply(new):
        server.site = site_for(hello, new, None)

    reloader = WebReloader(path, web, apply)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield certs, path, server, reloader
    server.shutdown()
    server.server_close()


def served_name(certs, port):
    """The common name of the certificate a new connection is shown."""
    context = ssl.create_default_context(cafile=str(certs.path("ca.crt")))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        subject = dict(item[0] for item in tls.getpeercert()["subject"])
    return subject["commonName"]


def test_a_renewed_certificate_is_served_to_new_connections(served):
    certs, _, server, reloader = served
    port = server.server_address[1]
    assert served_name(certs, port) == "localhost"
    assert not reloader.check()  # nothing changed
    renew_server_cert(certs, "renewed")
    assert reloader.check()
    assert served_name(certs, port) == "renewed"
    assert reloader.last_reload_successful


def test_a_broken_renewal_keeps_the_last_good_certificate_and_says_so_once(served, caplog):
    certs, _, server, reloader = served
    port = server.server_address[1]
    certs.path("server.key").write_bytes(certs.path("other.key").read_bytes())  # half-renewed
    with caplog.at_level(logging.INFO, logger="exporter.reload"):
        assert not reloader.check()
        assert not reloader.check()  # the same broken files: not tried (nor logged) again
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "still serving the last good one" in errors[0]
    assert "tls_server_config.key_file" in errors[0]
    assert not reloader.last_reload_successful
    assert served_name(certs, port) == "localhost"
    renew_server_cert(certs, "fixed")  # the renewal completes
    assert reloader.check()
    assert reloader.last_reload_successful
    assert served_name(certs, port) == "fixed"


def test_users_and_headers_change_without_a_restart(served):
    certs, path, server, reloader = served
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    context = ssl.create_default_context(cafile=str(certs.path("ca.crt")))
    assert fetch(url, context=context).status == 200
    path.write_text(
        WEB + f"basic_auth_users:\n  alice: '{USERS['alice']}'\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
    assert reloader.check()
    assert fetch(url, context=context).status == 401
    status, headers, _ = fetch(
        url, context=context, headers={"Authorization": basic("alice", "alice-password")}
    )
    assert (status, headers["X-Frame-Options"]) == (200, "deny")


def reload_successful(url, context):
    """..._web_config_last_reload_successful as /metrics shows it."""
    status, _, body = fetch(url + "/metrics", context=context)
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "aws_backup_restore_exporter_web_config_last_reload_successful":
                return sample.value
    return None


def test_the_command_line_picks_up_a_renewed_certificate_and_reports_a_broken_one(backup, tmp_path):
    certs = write_cert_files(tmp_path / "tls")
    web = certs.path("web.yml")
    web.write_text(WEB)
    config = tmp_path / "config.yaml"
    config.write_text(f"targets:\n  - name: t\n    region: us-east-1\n    endpoint_url: {backup}\n")
    flags = ("--config.file", str(config), "--web.config.file", str(web))
    context = ssl.create_default_context(cafile=str(certs.path("ca.crt")))
    reload = ("--web.config.reload-interval", "100ms")
    with ExporterProcess(*flags, *reload, logs=tmp_path, scheme="https") as exporter:
        exporter.wait_for_http(exporter.url + "/healthz", context=context)
        assert served_name(certs, exporter.port) == "localhost"
        renew_server_cert(certs, "renewed")
        wait_until(lambda: served_name(certs, exporter.port) == "renewed", timeout=20)
        assert reload_successful(exporter.url, context) == 1
        certs.path("server.key").write_bytes(certs.path("other.key").read_bytes())  # half-renewed
        wait_until(lambda: reload_successful(exporter.url, context) == 0, timeout=20)
        assert served_name(certs, exporter.port) == "renewed"  # the last good one, still
    assert exporter.stop() == 0
    assert "web config reloaded: TLS on" in exporter.stderr()
