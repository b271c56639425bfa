"""Basic auth with bcrypt hashes, and the configured response headers, as WSGI middleware.

bcrypt is slow on purpose (a cost of 10 is ~70 ms of CPU), far too slow to run on every scrape.
So a successful (user, password) pair is remembered as an HMAC of the password under a random
key made at start-up, compared in constant time; the password itself is never kept. Only
successes are remembered, one per user, so the cache cannot be grown by guessing.

Timing does not tell an attacker which user names exist: an unknown user is checked against a
dummy hash of the same cost as the configured ones, and the result is only read after the work.
At most one bcrypt check per CPU runs at a time, so a flood of wrong passwords queues behind
itself instead of starving scrapes (which, once their password is remembered, skip bcrypt).

``/healthz`` stays open without credentials: liveness and readiness probes (kubelet) cannot send
them, and it reveals nothing but ``ok``. Everything else, the landing page and 404s included,
needs credentials when basic_auth_users is set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import bcrypt

from exporter.webconfig import WebConfig

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

OPEN_PATHS = frozenset({"/healthz"})
REALM = "aws-backup-restore-exporter"
_BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; htpasswd and Go's bcrypt hashed no more


class BasicAuth:
    """Checks ``Authorization: Basic`` credentials against bcrypt hashes."""

    def __init__(self, users: Mapping[str, str], concurrency: int | None = None) -> None:
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency or os.cpu_count() or 1)
        # Unknown users cost the same as known ones: the highest configured cost (give every
        # user the same cost, as htpasswd does by default, and no user name can be told apart).
        cost = max((int(h.split(b"$")[2]) for h in self._users.values()), default=4)
        self._dummy = bcrypt.hashpw(secrets.token_hex(16).encode(), bcrypt.gensalt(rounds=cost))
        self.bcrypt_checks = 0  # for tests: how often bcrypt really ran

    def check(self, authorization: str | None) -> bool:
        """True when the header carries a configured user and that user's password."""
        credentials = _parse_basic(authorization)
        if credentials is None:
            return False
        return self.verify(*credentials)

    def verify(self, user: str, password: bytes) -> bool:
        password = password[:_BCRYPT_MAX_BYTES]
        digest = hmac.new(self._key, password, hashlib.sha256).digest()
        hashed = self._users.get(user)
        if hashed is not None:
            with self._lock:
                remembered = self._verified.get(user)
            if remembered is not None and hmac.compare_digest(remembered, digest):
                return True
        with self._slots:
            self.bcrypt_checks += 1
            ok = _checkpw(password, hashed if hashed is not None else self._dummy)
        if ok and hashed is not None:
            with self._lock:
                self._verified[user] = digest
            return True
        return False


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:  # a hash the library refuses: nobody gets in with it
        return False


def _parse_basic(authorization: str | None) -> tuple[str, bytes] | None:
    """(user, password) from an ``Authorization: Basic ...`` header; None if not such a header."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # WSGI hands headers over as latin-1 text; the base64 alphabet is plain ASCII.
        decoded = base64.b64decode(encoded.strip().encode("latin-1"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user.decode("utf-8", errors="replace"), password


class WebSecurityApp:
    """WSGI middleware: basic auth on every path but ``open_paths``, headers on every response."""

    def __init__(
        self,
        app: WsgiApp,
        auth: BasicAuth | None,
        headers: Iterable[tuple[str, str]] = (),
        open_paths: Collection[str] = OPEN_PATHS,
    ) -> None:
        self.app = app
        self.auth = auth
        self.headers = list(headers)
        self.open_paths = open_paths

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        extra = self.headers

        def with_headers(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            return start_response(status, [*headers, *extra], *args)

        path = environ.get("PATH_INFO", "/") or "/"
        if (
            self.auth is not None
            and path not in self.open_paths
            and not self.auth.check(environ.get("HTTP_AUTHORIZATION"))
        ):
            log.debug("basic auth failed for %s from %s", path, environ.get("REMOTE_ADDR", "?"))
            body = b"401 Unauthorized\n"
            with_headers(
                "401 Unauthorized",
                [
                    ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return self.app(environ, with_headers)


def secure_app(app: WsgiApp, web: WebConfig) -> WsgiApp:
    """``app`` behind the web config's basic auth and headers (unchanged when it has neither)."""
    if not web.basic_auth_users and not web.headers:
        return app
    auth = BasicAuth(web.basic_auth_users) if web.basic_auth_users else None
    return WebSecurityApp(app, auth, web.headers)
