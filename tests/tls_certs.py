"""Certificates made on the spot for TLS tests: a CA, a server certificate for 127.0.0.1 and
localhost, a client certificate the CA signed, and one from a CA nobody trusts."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def issue(
    ca: Issued,
    common_name: str,
    *,
    server: bool,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    uris: tuple[str, ...] = (),
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.UniformResourceIdentifier(uri) for uri in uris]
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


@dataclass(frozen=True)
class CertFiles:
    """PEM files in one folder, by the names the web config fixtures use."""

    folder: Path
    ca: Issued
    client: Issued
    untrusted_client: Issued

    def path(self, name: str) -> Path:
        return self.folder / name


def write_cert_files(folder: Path) -> CertFiles:
    """ca.crt, server.crt/.key, client.crt/.key (signed by ca), untrusted.crt/.key (signed by
    another CA with the same name), other.key (matches no certificate), garbage.pem."""
    ca = make_ca("exporter test CA")
    impostor_ca = make_ca("exporter test CA")  # same name, other key: must not be trusted
    server = issue(ca, "localhost", server=True, dns=("localhost",), ips=("127.0.0.1", "::1"))
    client = issue(
        ca,
        "prometheus",
        server=False,
        dns=("prometheus.monitoring.svc",),
        uris=("spiffe://cluster.local/ns/monitoring/sa/prometheus",),
    )
    untrusted = issue(impostor_ca, "prometheus", server=False, dns=("prometheus.monitoring.svc",))
    other = issue(ca, "other", server=True, dns=("other",))
    files = {
        "ca.crt": ca.cert_pem(),
        "server.crt": server.cert_pem(),
        "server.key": server.key_pem(),
        "client.crt": client.cert_pem(),
        "client.key": client.key_pem(),
        "untrusted.crt": untrusted.cert_pem(),
        "untrusted.key": untrusted.key_pem(),
        "other.key": other.key_pem(),
        "garbage.pem": b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return CertFiles(folder, ca, client, untrusted)


def renew_server_cert(files: CertFiles, common_name: str) -> None:
    """A new server certificate and key from the same CA, written over server.crt/.key in place
    (as cert-manager renews a Secret)."""
    renewed = issue(files.ca, common_name, server=True, dns=("localhost",), ips=("127.0.0.1",))
    files.path("server.key").write_bytes(renewed.key_pem())
    files.path("server.crt").write_bytes(renewed.cert_pem())


def with_cert_files(folder: Path, fixtures: Path) -> Path:
    """``folder`` with fresh certificates and a copy of every ``*.yml`` fixture of ``fixtures``
    (web-config fixtures name their certificate files relatively)."""
    write_cert_files(folder)
    for fixture in fixtures.glob("*.yml"):
        (folder / fixture.name).write_bytes(fixture.read_bytes())
    return folder
