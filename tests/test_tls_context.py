"""The exporter's AWS clients verify HTTPS endpoints exactly as botocore does, sharing one TLS
context per CA bundle, loaded once (tls_context.py).

The fake AWS Backup serves HTTPS with a certificate from a CA of the test's own; the clients'
bundle is the one botocore verifies against by default (certifi's) plus that CA, or that one
alone, which must not trust it. Every request goes over the wire through botocore's own
connection pool.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.httpsession import where as default_ca_bundle

import exporter.tls_context as tls_context
from exporter.aws_sessions import AwsSessions, Identity
from exporter.demo.fake_backup import FakeBackup, generate_jobs
from tests.tls_certs import issue, make_ca

CLIENTS = 6


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca("fake AWS Backup CA")
    files = {
        "trusting.pem": Path(default_ca_bundle()).read_bytes() + ca.cert_pem(),
        "certifi-only.pem": Path(default_ca_bundle()).read_bytes(),
    }
    for name, cert in (
        ("server", issue(ca, "127.0.0.1", server=True, ips=("127.0.0.1",))),
        ("elsewhere", issue(ca, "other.example", server=True, dns=("other.example",))),
    ):
        files[f"{name}.pem"] = cert.cert_pem() + cert.key_pem()
    paths = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths[name] = folder / name
    return paths


def serve(pki: dict[str, Path], certificate: str) -> FakeBackup:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki[certificate])
    fake = FakeBackup()
    fake.store.load("123456789012", "eu-west-1", generate_jobs(3, seed=7))
    fake.start(tls=context)
    return fake


def clients(bundle: Path, url: str, count: int = CLIENTS) -> list[Any]:
    sessions = AwsSessions()
    return [
        sessions.session(Identity(role_session_name=f"s{index}")).create_client(
            "backup", region_name="eu-west-1", endpoint_url=url, verify=str(bundle)
        )
        for index in range(count)
    ]


def test_clients_verify_against_their_bundle_loaded_once(pki):
    fake = serve(pki, "server.pem")
    try:
        before = tls_context.loads
        made = clients(pki["trusting.pem"], fake.url)
        for client in made:
            for _ in range(2):  # a kept-alive connection, then a new one
                assert len(client.list_restore_jobs()["RestoreJobs"]) == 3
                client.close()
        assert fake.connections() == 2 * CLIENTS  # every request a connection of its own
        assert tls_context.loads == before + 1  # one load of the bundle for all of them
    finally:
        fake.stop()


def test_a_ca_the_bundle_does_not_hold_is_refused(pki):
    """A second bundle gets a context of its own: what one bundle trusts, the other does not."""
    fake = serve(pki, "server.pem")
    try:
        (trusting,) = clients(pki["trusting.pem"], fake.url, 1)
        assert trusting.list_restore_jobs()["RestoreJobs"]
        for client in clients(pki["certifi-only.pem"], fake.url, 2):
            with pytest.raises(botocore.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
                client.list_restore_jobs()
    finally:
        fake.stop()


def test_a_certificate_for_another_host_is_refused(pki):
    fake = serve(pki, "elsewhere.pem")
    try:
        for client in clients(pki["trusting.pem"], fake.url, 2):
            with pytest.raises(botocore.exceptions.SSLError, match=re.escape("127.0.0.1")):
                client.list_restore_jobs()
    finally:
        fake.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_client_that_does_not_verify_keeps_its_own_context(pki):
    """verify=False is botocore's: no CA, no check, and the shared contexts stay verifying."""
    fake = serve(pki, "elsewhere.pem")
    try:
        client = (
            AwsSessions()
            .session(Identity())
            .create_client("backup", region_name="eu-west-1", endpoint_url=fake.url, verify=False)
        )
        assert len(client.list_restore_jobs()["RestoreJobs"]) == 3
        (verifying,) = clients(pki["trusting.pem"], fake.url, 1)
        with pytest.raises(botocore.exceptions.SSLError):
            verifying.list_restore_jobs()
    finally:
        fake.stop()
