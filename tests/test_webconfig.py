"""The web config file (--web.config.file): every supported key read as written, every invalid
file refused at start-up with one line naming the key."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import yaml

from exporter.webconfig import WebConfigError, load_web_config, parse_web_config
from tests.processes import run_exporter
from tests.tls_certs import with_cert_files

FIXTURES = Path(__file__).parent / "fixtures" / "webconfig"
CONFIG_FIXTURES = Path(__file__).parent / "fixtures" / "config"

INVALID = yaml.safe_load((FIXTURES / "invalid-errors.yaml").read_text())  # fixture -> error


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The fixtures copied next to freshly made certificates (the fixtures name them relatively)."""
    folder = with_cert_files(tmp_path_factory.mktemp("webconfig"), FIXTURES)
    (folder / "invalid").mkdir()
    with_cert_files(folder / "invalid", FIXTURES / "invalid")
    return folder


def test_every_invalid_fixture_has_an_expectation():
    on_disk = {path.name for path in (FIXTURES / "invalid").glob("*.yml")}
    assert on_disk == set(INVALID)


@pytest.mark.parametrize(("fixture", "expected"), sorted(INVALID.items()))
def test_invalid_web_config_is_rejected_naming_the_key(workdir, fixture, expected):
    with pytest.raises(WebConfigError) as caught:
        load_web_config(workdir / "invalid" / fixture)
    message = str(caught.value)
    assert "\n" not in message  # one line, fit for a log
    assert message.startswith(expected), message


def test_a_yaml_syntax_error_names_the_file_and_line(workdir):
    with pytest.raises(WebConfigError, match=r"invalid YAML at line 2"):
        load_web_config(workdir / "invalid" / "not-yaml.yml")


def test_a_missing_file_names_the_file(tmp_path):
    with pytest.raises(WebConfigError, match=r"nope\.yml"):
        load_web_config(tmp_path / "nope.yml")


def test_full_web_config_is_read_as_written(workdir):
    web = load_web_config(workdir / "valid-full.yml")
    assert web.tls is not None
    assert web.tls.cert_file == workdir / "server.crt"  # relative to the file's folder
    assert web.tls.key_file == workdir / "server.key"
    assert web.tls.client_auth_type == "RequireAndVerifyClientCert"
    assert web.tls.client_ca_file == workdir / "ca.crt"
    assert web.tls.client_allowed_sans == ("prometheus.monitoring.svc",)
    assert (web.tls.min_version, web.tls.max_version) == ("TLS12", "TLS13")
    assert web.tls.cipher_suites == (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    )
    assert web.http2 is False
    assert web.headers == (  # a blank header means unset
        ("X-Frame-Options", "deny"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'"),
        ("Strict-Transport-Security", "max-age=31536000"),
    )
    assert set(web.basic_auth_users) == {"alice", "bob"}
    assert web.basic_auth_users["alice"].startswith("$2b$04$")
    context = web.ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"}
    assert web.peer_check() is not None


def test_an_empty_file_means_plain_http_without_auth(workdir):
    web = load_web_config(workdir / "valid-empty.yml")
    assert web.tls is None
    assert web.ssl_context is None
    assert web.basic_auth_users == {}
    assert web.headers == ()
    assert web.peer_check() is None


def test_tls_without_client_certificates(workdir):
    web = load_web_config(workdir / "valid-tls-only.yml")
    assert web.ssl_context is not None
    assert web.ssl_context.verify_mode == ssl.CERT_NONE
    assert web.basic_auth_users == {}


def test_basic_auth_without_tls(workdir):
    web = load_web_config(workdir / "valid-auth-only.yml")
    assert web.tls is None
    assert list(web.basic_auth_users) == ["alice"]


def test_verify_if_given_is_optional_client_auth_with_an_inline_ca(workdir):
    ca = (workdir / "ca.crt").read_text()
    web = parse_web_config(
        {
            "tls_server_config": {
                "cert_file": "server.crt",
                "key_file": "server.key",
                "client_auth_type": "VerifyClientCertIfGiven",
                "client_ca": ca,
            }
        },
        workdir,
    )
    assert web.ssl_context is not None
    assert web.ssl_context.verify_mode == ssl.CERT_OPTIONAL
    assert web.ssl_context.cert_store_stats()["x509_ca"] == 1


def test_header_names_are_matched_without_regard_to_case():
    web = parse_web_config({"http_server_config": {"headers": {"x-frame-options": "SAMEORIGIN"}}})
    assert web.headers == (("X-Frame-Options", "SAMEORIGIN"),)


def test_an_empty_tls_section_means_plain_http():
    assert parse_web_config({"tls_server_config": None}).tls is None
    assert parse_web_config({"tls_server_config": {}}).tls is None


def test_cli_refuses_to_start_with_an_invalid_web_config_naming_the_key(workdir):
    result = run_exporter(
        "--config.file",
        str(CONFIG_FIXTURES / "valid-full.yaml"),
        "--web.config.file",
        str(workdir / "invalid" / "verify-without-ca.yml"),
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "aws-backup-restore-exporter: invalid web configuration: tls_server_config.client_ca_file:"
    )


def test_cli_reads_the_web_config_file_from_the_environment(workdir):
    env = {
        **os.environ,
        "AWS_BACKUP_RESTORE_EXPORTER_WEB_CONFIG_FILE": str(workdir / "invalid" / "rate-limit.yml"),
    }
    result = run_exporter("--config.file", str(CONFIG_FIXTURES / "valid-full.yaml"), env=env)
    assert result.returncode == 1
    assert "invalid web configuration: rate_limit:" in result.stderr


def test_config_check_validates_the_web_config_too(workdir):
    result = run_exporter(
        "--config.check",
        "--config.file",
        str(CONFIG_FIXTURES / "valid-full.yaml"),
        "--web.config.file",
        str(workdir / "valid-full.yml"),
    )
    assert result.returncode == 0, result.stderr
    assert (
        "web configuration OK: TLS on, client auth RequireAndVerifyClientCert, "
        "basic auth users: 2" in result.stdout
    )
