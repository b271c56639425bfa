"""TLS, client certificates and basic auth on the real HTTP server, with real clients.

Certificates are made for each test module (tests/tls_certs.py): a CA, a server certificate for
127.0.0.1, a client certificate that CA signed and one signed by an impostor CA of the same name.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from exporter.http import MetricsApp, make_http_server
from exporter.server import Limits
from exporter.webauth import BasicAuth, BcryptBudget, WebSecurityApp, secure_app
from exporter.webconfig import parse_web_config
from tests.conftest import put_job
from tests.network import fetch
from tests.processes import ExporterProcess
from tests.tls_certs import write_cert_files

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
USERS = {  # bcrypt cost 4: fast tests (production hashes use 10 or more)
    "alice": "$2b$04$f.KrevX/DflKt23j8kNQq.ZjNWABdAbWgpjCzC8qh7DWWgBxC3NDi",
    "bob": "$2b$04$ubTHoJAB7/5WZBqICNVH6Op8Aec21Z4kf7HA8rBa2a5Yv5b3M0bQe",
}
TLS = {"cert_file": "server.crt", "key_file": "server.key"}
MUTUAL = {**TLS, "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "ca.crt"}
HEADERS = {"X-Frame-Options": "deny", "X-Content-Type-Options": "nosniff"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return write_cert_files(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def serve(make_exporter, certs):
    """Start the exporter's real HTTP server with a web config (as a dict); yield a starter."""
    started = []

    def start(web_config, exporter=None, limits=None, budget=None):
        web = parse_web_config(web_config, certs.folder)
        exporter = exporter or make_exporter()
        app = secure_app(MetricsApp(exporter), web, budget)
        httpd = make_http_server(app, "127.0.0.1:0", web.ssl_context, web.peer_check(), limits)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        scheme = "https" if web.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{httpd.server_address[1]}", httpd, app

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def client_context(certs, cert=None, minimum=None, maximum=None):
    """A client that trusts the test CA, optionally with a client certificate."""
    context = ssl.create_default_context(cafile=str(certs.path("ca.crt")))
    if cert is not None:
        context.load_cert_chain(certs.path(f"{cert}.crt"), certs.path(f"{cert}.key"))
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    return context


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def get(url, context=None, authorization=None, method="GET"):
    """One request with the client's 10 s timeout, with basic auth when given."""
    headers = {"Authorization": authorization} if authorization else {}
    return fetch(url, method=method, headers=headers, context=context, timeout=10)


def refused(url, context=None, authorization=None):
    """The request must fail at the TLS or connection level, never get an HTTP answer."""
    with pytest.raises((OSError, http.client.HTTPException)):
        get(url, context, authorization)


# -- TLS -----------------------------------------------------------------------------------


def test_metrics_are_served_over_tls_with_a_verified_server_certificate(serve, certs):
    job = put_job(Status="FAILED", CreationDate=time.time() - 60)
    url, _, _ = serve({"tls_server_config": TLS})
    status, headers, body = get(url + "/metrics", client_context(certs))
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert f'restore_job_id="{job}"'.encode() in body


def test_a_client_that_does_not_trust_the_ca_refuses_the_server(serve):
    url, _, _ = serve({"tls_server_config": TLS})
    with pytest.raises(urllib.error.URLError) as caught:
        get(url + "/metrics", ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_to_the_tls_port_gets_no_answer(serve, certs):
    url, _, _ = serve({"tls_server_config": TLS})
    refused(url.replace("https://", "http://") + "/metrics")
    assert get(url + "/healthz", client_context(certs))[0] == 200  # still serving


def test_min_version_is_enforced(serve, certs):
    url, _, _ = serve({"tls_server_config": {**TLS, "min_version": "TLS13"}})
    refused(url + "/healthz", client_context(certs, maximum=ssl.TLSVersion.TLSv1_2))
    assert get(url + "/healthz", client_context(certs))[0] == 200


def test_max_version_is_enforced(serve, certs):
    url, _, _ = serve({"tls_server_config": {**TLS, "max_version": "TLS12"}})
    refused(url + "/healthz", client_context(certs, minimum=ssl.TLSVersion.TLSv1_3))
    assert get(url + "/healthz", client_context(certs, maximum=ssl.TLSVersion.TLSv1_2))[0] == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_client_certificate_required_refuses_no_and_untrusted_certificates(serve, certs, version):
    url, _, _ = serve({"tls_server_config": MUTUAL})
    refused(url + "/metrics", client_context(certs, maximum=version))
    refused(url + "/metrics", client_context(certs, "untrusted", maximum=version))
    status, _, body = get(url + "/metrics", client_context(certs, "client", maximum=version))
    assert status == 200
    assert b"aws_backup_restore_exporter_build_info" in body


def test_healthz_needs_the_client_certificate_too(serve, certs):
    """Client certificates are checked in the handshake, before any path is known."""
    url, _, _ = serve({"tls_server_config": MUTUAL})
    refused(url + "/healthz", client_context(certs))


def test_verify_if_given_accepts_no_certificate_but_refuses_an_untrusted_one(serve, certs):
    url, _, _ = serve(
        {"tls_server_config": {**MUTUAL, "client_auth_type": "VerifyClientCertIfGiven"}}
    )
    assert get(url + "/healthz", client_context(certs))[0] == 200
    refused(url + "/healthz", client_context(certs, "untrusted"))
    assert get(url + "/healthz", client_context(certs, "client"))[0] == 200


@pytest.mark.parametrize(
    ("allowed", "accepted"),
    [
        (["prometheus.monitoring.svc"], True),
        (["spiffe://cluster.local/ns/monitoring/sa/prometheus"], True),
        (["grafana.monitoring.svc", "10.0.0.1"], False),
    ],
    ids=["dns", "uri", "other"],
)
def test_client_allowed_sans_admits_only_the_listed_names(serve, certs, allowed, accepted):
    url, _, _ = serve({"tls_server_config": {**MUTUAL, "client_allowed_sans": allowed}})
    context = client_context(certs, "client")
    if accepted:
        assert get(url + "/healthz", context)[0] == 200
    else:
        refused(url + "/healthz", context)


def test_a_silent_client_holds_up_no_one_and_is_dropped(serve, certs):
    """The handshake happens in the event loop with the read timeout, holding no thread."""
    url, httpd, _ = serve({"tls_server_config": TLS}, limits=Limits(read_timeout=1.0))
    silent = socket.create_connection(("127.0.0.1", httpd.server_address[1]), timeout=10)
    try:
        assert get(url + "/healthz", client_context(certs))[0] == 200  # 10 s client timeout
        assert silent.recv(1) == b""  # the server hung up on it after the handshake timeout
    finally:
        silent.close()


# -- basic auth ----------------------------------------------------------------------------


@pytest.fixture
def auth_server(serve, certs):
    url, _, app = serve(
        {
            "tls_server_config": TLS,
            "basic_auth_users": USERS,
            "http_server_config": {"headers": HEADERS},
        }
    )
    assert isinstance(app, WebSecurityApp)
    return url, client_context(certs), app.auth


def test_the_right_password_gets_the_metrics(auth_server):
    url, context, _ = auth_server
    status, headers, body = get(url + "/metrics", context, basic("alice", "alice-password"))
    assert status == 200
    assert b"aws_backup_restore_exporter_build_info" in body
    assert headers["X-Frame-Options"] == "deny"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "authorization",
    [
        basic("alice", "wrong-password"),
        basic("alice", "bob-password"),  # another user's password
        basic("mallory", "alice-password"),  # unknown user
        basic("alice", ""),
        None,
        "Bearer alice-password",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"alice-without-colon").decode(),
    ],
    ids=["wrong", "other-user", "unknown-user", "empty", "none", "bearer", "garbage", "no-colon"],
)
def test_anything_but_the_right_password_gets_401(auth_server, authorization):
    url, context, _ = auth_server
    status, headers, body = get(url + "/metrics", context, authorization)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Basic realm="')
    assert headers["X-Frame-Options"] == "deny"  # configured headers on every response
    assert b"aws_backup" not in body


def test_healthz_is_open_without_credentials_for_probes(auth_server):
    url, context, _ = auth_server
    status, headers, body = get(url + "/healthz", context)
    assert (status, body) == (200, b"ok\n")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert get(url + "/healthz", context, method="HEAD")[0] == 200


@pytest.mark.parametrize("path", ["/", "/nope", "/healthz/", "/metrics?name[]=x"])
def test_every_other_path_needs_credentials(auth_server, path):
    """The landing page shows role ARNs; a 404 would tell which paths exist."""
    url, context, _ = auth_server
    assert get(url + path, context)[0] == 401


def test_a_verified_password_is_remembered_and_a_wrong_one_never_is(auth_server):
    url, context, auth = auth_server
    before = auth.bcrypt_checks
    for _ in range(3):
        assert get(url + "/healthz?", context, basic("alice", "alice-password"))[0] == 200
        assert get(url + "/metrics", context, basic("alice", "alice-password"))[0] == 200
    assert auth.bcrypt_checks == before + 1  # /healthz checks nothing; bcrypt ran once
    for _ in range(2):
        assert get(url + "/metrics", context, basic("alice", "guess"))[0] == 401
    assert auth.bcrypt_checks == before + 3  # every wrong guess pays the full bcrypt cost
    assert get(url + "/metrics", context, basic("alice", "alice-password"))[0] == 200
    assert auth.bcrypt_checks == before + 3


def test_an_unknown_user_costs_a_bcrypt_check_of_the_configured_cost():
    """So that response times do not tell which user names exist."""
    auth = BasicAuth({"alice": USERS["alice"].replace("$04$", "$05$", 1)})
    assert not auth.verify("mallory", b"alice-password")
    assert auth.bcrypt_checks == 1
    assert auth._dummy.startswith(b"$2b$05$")


def test_an_unknown_user_is_checked_at_the_cost_most_users_share_and_costs_nothing_to_set_up(
    monkeypatch,
):
    """A single cost-18 user must not make every unknown name cost 20 s of CPU, and building
    the dummy hash must not run bcrypt (a cost-31 hash would take days)."""
    import bcrypt

    def no_hashing(*args):
        raise AssertionError("bcrypt ran to make the dummy hash")

    monkeypatch.setattr(bcrypt, "hashpw", no_hashing)
    cost = {4: USERS["alice"], 18: USERS["alice"].replace("$04$", "$18$", 1)}
    auth = BasicAuth({"alice": cost[4], "bob": cost[4], "carol": cost[18]})
    assert auth._dummy.startswith(b"$2b$04$")
    assert BasicAuth({"alice": cost[18], "bob": cost[4]})._dummy.startswith(b"$2b$04$")  # tie
    assert len(BasicAuth({"alice": cost[4]})._dummy) == 60


def test_the_bcrypt_budget_refills_at_its_rate_and_may_be_overdrawn_by_one_check():
    now = [0.0]
    budget = BcryptBudget(rate=0.5, burst=1.0, clock=lambda: now[0])
    assert budget.take()
    budget.spend(1.5)  # a check dearer than the credit left: credit -0.5
    assert not budget.take()
    now[0] = 1.0  # half a second of credit back per second: 0 is still none
    assert not budget.take()
    now[0] = 1.2
    assert budget.take()
    now[0] = 100.0
    assert budget.take()  # long idle: the credit saved is capped at the burst (1.0)
    budget.spend(0.9)
    assert budget.take()
    budget.spend(0.2)
    assert not budget.take()
    assert budget.throttled == 3


def test_a_login_flood_gets_429_without_bcrypt_while_a_remembered_password_gets_in(serve, certs):
    budget = BcryptBudget(rate=1.0, clock=lambda: 0.0)  # a frozen clock: no credit comes back
    url, _, app = serve({"tls_server_config": TLS, "basic_auth_users": USERS}, budget=budget)
    context = client_context(certs)
    assert get(url + "/metrics", context, basic("alice", "alice-password"))[0] == 200
    budget.spend(1000.0)  # as if the flood had already spent it all
    checks = app.auth.bcrypt_checks
    for authorization in [basic("alice", "guess"), basic("mallory", "x"), basic("bob", "y")] * 5:
        status, headers, _ = get(url + "/metrics", context, authorization)
        assert status == 429
        assert headers["Retry-After"] == "1"
    assert app.auth.bcrypt_checks == checks  # not one bcrypt run for them
    assert get(url + "/metrics", context, basic("alice", "alice-password"))[0] == 200
    # the price: a right password not remembered yet waits for the flood to end
    assert get(url + "/metrics", context, basic("bob", "bob-password"))[0] == 429
    assert get(url + "/metrics", context)[0] == 401  # no credentials: no bcrypt, plain 401
    assert get(url + "/healthz", context)[0] == 200


def test_a_password_is_checked_on_its_first_72_bytes_like_htpasswd_hashed_it():
    import bcrypt

    long_password = b"p" * 72
    auth = BasicAuth({"alice": bcrypt.hashpw(long_password, bcrypt.gensalt(4)).decode()})
    assert auth.verify("alice", long_password + b"anything after byte 72")
    assert not auth.verify("alice", b"p" * 71)


def test_basic_auth_without_tls_works_too(serve):
    url, _, _ = serve({"basic_auth_users": USERS})
    assert url.startswith("http://")
    assert get(url + "/metrics", None, basic("bob", "bob-password"))[0] == 200
    assert get(url + "/metrics")[0] == 401


# -- the program as users start it -----------------------------------------------------------


def test_the_command_line_serves_tls_and_basic_auth_from_a_web_config_file(backup, certs, tmp_path):
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"targets:\n  - name: cli\n    region: us-east-1\n    endpoint_url: {backup}\n"
    )
    web = certs.folder / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  alice: '{USERS['alice']}'\n"
    )
    flags = ("--config.file", str(config), "--web.config.file", str(web))
    context = client_context(certs)
    with ExporterProcess(*flags, logs=tmp_path, scheme="https") as exporter:
        url = exporter.url
        exporter.wait_for_http(url + "/healthz", context=context)
        assert get(url + "/metrics", context)[0] == 401
        status, _, body = get(url + "/metrics", context, basic("alice", "alice-password"))
        assert status == 200
        assert f'restore_job_id="{job}"'.encode() in body
    assert exporter.stop() == 0
    stderr = exporter.stderr()
    assert "TLS on (TLS12 to TLS13)" in stderr
    assert "basic auth on for 1 user(s)" in stderr
