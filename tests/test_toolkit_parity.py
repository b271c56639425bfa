"""exporter-toolkit's own web config cases, written again as our fixtures
(tests/fixtures/webconfig/toolkit/expectations.yaml): each file is accepted or refused as
exporter-toolkit does, unless docs/web-config.md's table of differences says why not; and
web/handler_test.go's requests, allowed and rejected as there."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from exporter.webauth import BcryptBudget, secure_app
from exporter.webconfig import WebConfigError, load_web_config
from tests.tls_certs import with_cert_files

FOLDER = Path(__file__).parent / "fixtures" / "webconfig" / "toolkit"
EXPECTED = yaml.safe_load((FOLDER / "expectations.yaml").read_text())
DOCS = (Path(__file__).parent.parent / "docs" / "web-config.md").read_text()
DIFFERENCES = DOCS.split("## Differences from exporter-toolkit", 1)[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return with_cert_files(tmp_path_factory.mktemp("toolkit"), FOLDER)


def outcome(path: Path) -> str:
    try:
        load_web_config(path)
    except WebConfigError:
        return "refuse"
    return "accept"


def test_every_fixture_has_an_expectation():
    assert {path.name for path in FOLDER.glob("*.yml")} == set(EXPECTED)


@pytest.mark.parametrize(("fixture", "expected"), sorted(EXPECTED.items()))
def test_accepted_or_refused_as_exporter_toolkit_does_or_documented(workdir, fixture, expected):
    ours = outcome(workdir / fixture)
    difference = expected.get("difference")
    if difference is None:
        assert ours == expected["toolkit"], f"exporter-toolkit: {expected['case']}"
    else:
        assert ours != expected["toolkit"], f"{fixture} now behaves as in Go: drop the difference"
        assert difference in DIFFERENCES, f"docs/web-config.md does not explain: {difference}"


def test_a_missing_file_is_refused_as_in_exporter_toolkit(tmp_path):
    """TestYAMLFiles: path to config yml invalid."""
    assert outcome(tmp_path / "somefile") == "refuse"


# -- web/handler_test.go: the requests allowed and rejected once a file is loaded -----------


def answer(app, user=None, password=None):
    """Status and headers of a GET / through the secured app, as a WSGI server would call it."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
    started = []
    b"".join(app(environ, lambda status, headers, *_: started.append((status, headers))))
    status, headers = started[0]
    return int(status.split()[0]), dict(headers)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello World!"]


@pytest.fixture
def users_app(workdir):
    """users-without-tls.good.yml (exporter-toolkit's web_config_users_noTLS.good.yml)."""
    web = load_web_config(workdir / "users-without-tls.good.yml")
    return secure_app(hello, web, BcryptBudget(100.0)), web


def test_basic_auth_cache_under_concurrent_right_and_wrong_logins(users_app):
    """TestBasicAuthCache: 150 right and 150 wrong logins at once, each answered as it should."""
    app, _ = users_app
    assert answer(app, "alice", "alice-password")[0] == 200
    assert answer(app, "alice", "alice-password1")[0] == 401
    with ThreadPoolExecutor(32) as pool:
        right = [pool.submit(answer, app, "alice", "alice-password") for _ in range(150)]
        wrong = [pool.submit(answer, app, "alice", "alice-password1") for _ in range(150)]
        assert {f.result()[0] for f in right} == {200}
        assert {f.result()[0] for f in wrong} == {401}


def test_the_dummy_password_of_unknown_users_lets_no_one_in(users_app):
    """TestBasicAuthWithFakepassword: an unknown user, with a cold cache and again."""
    app, _ = users_app
    assert answer(app, "fakeuser", "fakepassword")[0] == 401
    assert answer(app, "fakeuser", "fakepassword")[0] == 401


def test_the_cache_cannot_be_poisoned_through_the_user_name(users_app):
    """TestByPassBasicAuthVuln (CVE-2022-46146): a user name that carries a hash, then the
    real user with a password that carries one."""
    app, web = users_app
    hashed = web.basic_auth_users["alice"]
    assert answer(app, "alice" + hashed, "fakepassword")[0] == 401
    assert answer(app, "alice", hashed + "fakepassword")[0] == 401


def test_configured_headers_are_added(workdir):
    """TestHTTPHeaders, on headers.good.yml."""
    app = secure_app(hello, load_web_config(workdir / "headers.good.yml"))
    status, headers = answer(app)
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Frame-Options"] == "sameorigin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-XSS-Protection"] == "1; mode=block"
