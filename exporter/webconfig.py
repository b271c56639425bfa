"""``--web.config.file``: the Prometheus exporter-toolkit web configuration, for our HTTP server.

The same YAML file that node_exporter and every official exporter read: ``tls_server_config``
(certificate and key, client certificates checked against a CA, TLS versions and cipher suites),
``http_server_config.headers`` (a fixed set of security headers) and ``basic_auth_users``
(user name to bcrypt hash). It is read into typed, validated objects and every TLS file is
loaded with it, so that a bad file stops start-up with one line naming the key
(``tls_server_config.client_ca_file: cannot read '/etc/ca.pem': No such file or directory``)
instead of failing the first scrape; exporter.reload loads it again the same way when its files
change, and keeps the last good one when they are broken.

Differences from exporter-toolkit, each refused with a clear error rather than ignored, so that a
security setting never silently does nothing:

- ``client_auth_type`` ``RequestClientCert`` and ``RequireAnyClientCert`` (ask for a client
  certificate without verifying it) cannot be expressed with Python's ssl module;
  ``VerifyClientCertIfGiven`` and ``RequireAndVerifyClientCert`` need a client CA.
- inline ``cert`` and ``key`` (the ssl module loads them from files), ``curve_preferences`` and
  ``rate_limit`` are not supported; inline ``client_ca`` is.
- the file is re-read when it changes (exporter.reload), not on every new connection.

Basic auth and the headers are applied by exporter.webauth; TLS by exporter.http.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from exporter.sections import Section, read_yaml_file, type_name

CLIENT_AUTH_TYPES = ("NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
_UNVERIFIED_CLIENT_AUTH_TYPES = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's names of the cipher suites it considers secure (crypto/tls CipherSuites()) -> OpenSSL's.
# The TLS 1.3 suites are not configurable, in Go as in OpenSSL's cipher list: accepted, no effect.
CIPHER_SUITES: Mapping[str, str | None] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}
# The headers exporter-toolkit lets a user set, with the values it accepts (None: any).
HEADERS: Mapping[str, tuple[str, ...] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
# $2a$/$2b$/$2y$, a two-digit cost, 22 characters of salt and 31 of hash (bcrypt's base64).
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_BCRYPT_HELP = "generate one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"


class WebConfigError(ValueError):
    """A web configuration problem; the message starts with the offending key."""


@dataclass(frozen=True)
class TlsConfig:
    """``tls_server_config``, with file paths made absolute."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    client_ca: str | None = None  # inline PEM
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True

    @property
    def verifies_clients(self) -> bool:
        return self.client_auth_type != "NoClientCert"


@dataclass(frozen=True)
class WebConfig:
    """What the HTTP server needs: a TLS context, the basic-auth users, the extra headers."""

    tls: TlsConfig | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)  # user -> bcrypt hash
    headers: tuple[tuple[str, str], ...] = ()
    http2: bool = True  # accepted for compatibility; the server speaks HTTP/1.1 only
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    def peer_check(self) -> Callable[[Any], bool] | None:
        """A check of the client's certificate after the handshake (client_allowed_sans)."""
        if self.tls is None or not self.tls.client_allowed_sans:
            return None
        return _SanCheck(self.tls.client_allowed_sans)


class _Reader(Section):
    error = WebConfigError
    root_name = "web config"


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise WebConfigError(f"{path}: expected a string, got {type_name(value)} {value!r}")
    return value


def _boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise WebConfigError(f"{path}: expected true or false, got {type_name(value)} {value!r}")
    return value


def _string_list(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise WebConfigError(f"{path}: expected a list, got {type_name(value)}")
    return tuple(_string(f"{path}[{index}]", item) for index, item in enumerate(value))


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def convert(path: str, value: Any) -> str:
        if value not in choices:
            raise WebConfigError(f"{path}: {value!r} is not one of {', '.join(choices)}")
        return str(value)

    return convert


def _file(base: Path) -> Callable[[str, Any], Path]:
    """A file path, relative to the web config file's folder (as exporter-toolkit reads it)."""

    def convert(path: str, value: Any) -> Path:
        name = _string(path, value)
        if not name.strip():
            raise WebConfigError(f"{path}: empty file name")
        return base / name

    return convert


def _read_tls(section: _Reader, base: Path) -> TlsConfig | None:
    section.refuse("cert", "inline certificates are not supported, use cert_file")
    section.refuse("key", "inline keys are not supported, use key_file")
    section.refuse("curve_preferences", "not supported by this exporter (OpenSSL's defaults apply)")
    cert_file = section.get("cert_file", _file(base))
    key_file = section.get("key_file", _file(base))
    client_auth_type = section.get("client_auth_type", _string, "NoClientCert")
    if client_auth_type in _UNVERIFIED_CLIENT_AUTH_TYPES:
        raise WebConfigError(
            f"{section.key_path('client_auth_type')}: {client_auth_type} is not supported (a "
            "client certificate that is not verified proves nothing); use "
            "RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file"
        )
    _choice(CLIENT_AUTH_TYPES)(section.key_path("client_auth_type"), client_auth_type)
    tls = TlsConfig(
        # both are checked below, once the section is known not to be empty
        cert_file=cast(Path, cert_file),
        key_file=cast(Path, key_file),
        client_auth_type=client_auth_type,
        client_ca_file=section.get("client_ca_file", _file(base)),
        client_ca=section.get("client_ca", _string),
        client_allowed_sans=section.get("client_allowed_sans", _string_list, ()),
        min_version=section.get("min_version", _choice(tuple(TLS_VERSIONS)), "TLS12"),
        max_version=section.get("max_version", _choice(tuple(TLS_VERSIONS)), "TLS13"),
        cipher_suites=section.get("cipher_suites", _string_list, ()),
        prefer_server_cipher_suites=section.get("prefer_server_cipher_suites", _boolean, True),
    )
    section.finish()
    if not section.data:
        return None  # an empty tls_server_config: plain HTTP, as in exporter-toolkit
    for key, value in (("cert_file", cert_file), ("key_file", key_file)):
        if value is None:
            raise WebConfigError(f"{section.key_path(key)}: required when tls_server_config is set")
    _check_tls(section, tls)
    return tls


def _check_tls(section: _Reader, tls: TlsConfig) -> None:
    """The rules that concern several keys together."""
    has_ca = tls.client_ca_file is not None or tls.client_ca is not None
    if tls.client_ca_file is not None and tls.client_ca is not None:
        raise WebConfigError(f"{section.key_path('client_ca')}: set client_ca or client_ca_file")
    if has_ca and not tls.verifies_clients:
        key = "client_ca_file" if tls.client_ca_file is not None else "client_ca"
        raise WebConfigError(
            f"{section.key_path(key)}: a client CA is set but client_auth_type is NoClientCert, "
            "so client certificates would not be checked"
        )
    if tls.verifies_clients and not has_ca:
        raise WebConfigError(
            f"{section.key_path('client_ca_file')}: required by client_auth_type "
            f"{tls.client_auth_type}"
        )
    if tls.client_allowed_sans and tls.client_auth_type != "RequireAndVerifyClientCert":
        raise WebConfigError(
            f"{section.key_path('client_allowed_sans')}: needs client_auth_type "
            "RequireAndVerifyClientCert (otherwise a client can connect without a certificate)"
        )
    if TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version]:
        raise WebConfigError(
            f"{section.key_path('min_version')}: {tls.min_version} is above max_version "
            f"{tls.max_version}"
        )
    for index, name in enumerate(tls.cipher_suites):
        if name not in CIPHER_SUITES:
            raise WebConfigError(
                f"{section.key_path('cipher_suites')}[{index}]: {name!r} is not a supported "
                f"cipher suite (one of {', '.join(CIPHER_SUITES)})"
            )


def _read_headers(section: _Reader) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    canonical = {name.lower(): name for name in HEADERS}
    for key in section.data:
        section.used.add(key)
        path = section.key_path(key)
        name = canonical.get(key.lower())
        if name is None:
            raise WebConfigError(
                f"{path}: this header can not be configured (one of {', '.join(HEADERS)})"
            )
        value = "" if section.data[key] is None else _string(path, section.data[key])
        if any(c in value for c in "\r\n\0"):
            raise WebConfigError(f"{path}: a header value must be one line")
        if not value.strip():
            continue  # blank means unset
        allowed = HEADERS[name]
        if allowed is not None and value.lower() not in allowed:
            raise WebConfigError(f"{path}: {value!r} is not one of {', '.join(allowed)}")
        headers.append((name, value))
    return tuple(headers)


def _read_users(section: _Reader) -> dict[str, str]:
    users: dict[str, str] = {}
    for user in section.data:
        section.used.add(user)
        path = section.key_path(user)
        if not user or ":" in user or any(ord(c) < 32 for c in user):
            raise WebConfigError(
                f"{path}: not a usable user name (empty, or with ':' or control characters)"
            )
        value = section.data[user]
        if not isinstance(value, str):
            raise WebConfigError(f"{path}: expected a bcrypt hash, got {type_name(value)}")
        match = _BCRYPT_HASH.match(value)
        if match is None:
            raise WebConfigError(f"{path}: not a bcrypt hash ({_BCRYPT_HELP})")
        if not 4 <= int(match.group(1)) <= 31:
            raise WebConfigError(f"{path}: bcrypt cost {match.group(1)} is outside 4..31")
        users[user] = value
    return users


def parse_web_config(data: Any, base_dir: Path | str = ".") -> WebConfig:
    """Validate a parsed web config document; load its TLS files. Raises WebConfigError."""
    if data is None:
        return WebConfig()  # an empty file: plain HTTP, no authentication
    base = Path(base_dir)
    root = _Reader("", data)
    root.refuse("rate_limit", "not supported by this exporter")
    tls = _read_tls(root.section("tls_server_config"), base)
    http = root.section("http_server_config")
    http2 = http.get("http2", _boolean, True)
    headers = _read_headers(http.section("headers"))
    http.finish()
    users = _read_users(root.section("basic_auth_users"))
    root.finish()
    context = None if tls is None else build_ssl_context(tls)
    return WebConfig(tls, users, headers, http2, context)


def load_web_config(path: str | Path) -> WebConfig:
    """Read, validate and load a web config file; every problem raises WebConfigError."""
    data = read_yaml_file(path, WebConfigError, "web config file")
    return parse_web_config(data, Path(path).resolve().parent)


def _ssl_detail(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason == "KEY_VALUES_MISMATCH":
        return "the key does not belong to cert_file's certificate"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(error)) or type(error).__name__


def _read_error(path: str, file: Path, error: BaseException) -> WebConfigError:
    if isinstance(error, ssl.SSLError):
        return WebConfigError(f"{path}: {str(file)!r} could not be loaded: {_ssl_detail(error)}")
    if isinstance(error, OSError):
        return WebConfigError(f"{path}: cannot read {str(file)!r}: {error.strerror or error}")
    return WebConfigError(f"{path}: {str(file)!r}: {error}")


def build_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """The server's TLS context; a file that cannot be loaded raises WebConfigError naming it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    names = [CIPHER_SUITES[name] for name in tls.cipher_suites]
    tls12 = [name for name in names if name is not None]
    if tls12:
        context.set_ciphers(":".join(tls12))
    # The certificate first, alone, so that a bad certificate and a bad key are told apart.
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=str(tls.cert_file))
    except ssl.SSLError as error:
        raise WebConfigError(
            f"tls_server_config.cert_file: {str(tls.cert_file)!r} is not a PEM certificate: "
            f"{_ssl_detail(error)}"
        ) from None
    except (OSError, ValueError) as error:
        raise _read_error("tls_server_config.cert_file", tls.cert_file, error) from None
    try:
        context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    except (OSError, ValueError) as error:
        raise _read_error("tls_server_config.key_file", tls.key_file, error) from None
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(tls.client_ca_file))
        except (OSError, ValueError) as error:
            raise _read_error(
                "tls_server_config.client_ca_file", tls.client_ca_file, error
            ) from None
    elif tls.client_ca is not None:
        try:
            context.load_verify_locations(cadata=tls.client_ca)
        except (OSError, ValueError) as error:
            raise WebConfigError(
                f"tls_server_config.client_ca: not a PEM CA certificate: {_ssl_detail(error)}"
            ) from None
    context.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[tls.client_auth_type]
    return context


class _SanCheck:
    """client_allowed_sans: the verified client certificate must name one of these (DNS name,
    IP address, e-mail or URI, exact match) in its Subject Alternative Name."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self._names = frozenset(allowed)
        self._addresses = frozenset(_ip(name) for name in allowed) - {None}

    def __call__(self, sock: ssl.SSLObject | ssl.SSLSocket) -> bool:
        certificate: Mapping[str, Any] = sock.getpeercert() or {}
        names: tuple[tuple[str, str], ...] = certificate.get("subjectAltName", ())
        for kind, value in names:
            if kind == "IP Address":
                if _ip(str(value).strip()) in self._addresses:
                    return True
            elif value in self._names:
                return True
        return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
