"""Basic auth with bcrypt hashes, and the configured response headers, as WSGI middleware.

bcrypt is slow on purpose (a cost of 10 is ~70 ms of CPU), far too slow to run on every scrape.
So a successful (user, password) pair is remembered as an HMAC of the password under a random
key made at start-up, compared in constant time; the password itself is never kept. Only
successes are remembered, one per user, so the cache cannot be grown by guessing.

bcrypt work is bounded in time, not only in concurrency: every check that runs bcrypt (a wrong
password, an unknown user, a right password not yet remembered) spends CPU seconds from a shared
budget (``BcryptBudget``, 0.5 CPU seconds per second by default) and, once it is spent, is
answered 429 without running bcrypt at all. So however many failing logins arrive, bcrypt costs
at most that share of the machine, and a scrape whose password is remembered (no bcrypt) answers
at once throughout. The price: while a flood lasts, a right password that is not remembered yet
(the first scrape after a start or a reload) may be answered 429 too, and succeeds on a later try.

Timing does not tell an attacker which user names exist: an unknown user is checked against a
dummy hash of the cost most configured users share (the lowest of them on a tie), and the result
is only read after the work; a user whose cost differs from the others' can be told apart, so
give every user the same cost (htpasswd does). A throttled answer costs the same for every name.

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
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Literal

import bcrypt

from exporter.webconfig import WebConfig

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

OPEN_PATHS = frozenset({"/healthz"})
REALM = "aws-backup-restore-exporter"
_BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; htpasswd and Go's bcrypt hashed no more
_BCRYPT_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DEFAULT_BCRYPT_BUDGET = 0.5  # CPU seconds of bcrypt per second

Outcome = Literal["ok", "denied", "throttled"]


class BcryptBudget:
    """A token bucket of CPU seconds for bcrypt: ``rate`` per second, at most ``burst`` saved.

    A check may start while any credit is left and is charged what it really cost afterwards,
    so the credit can go below zero by one check; on average bcrypt never uses more than
    ``rate`` CPU seconds per second, whatever the cost of the hashes.
    """

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, 2 * rate)
        self._clock = clock
        self._credit = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.throttled = 0  # checks refused for want of credit

    def take(self) -> bool:
        """True when a check may run now."""
        with self._lock:
            now = self._clock()
            self._credit = min(self.burst, self._credit + (now - self._last) * self.rate)
            self._last = now
            if self._credit > 0:
                return True
            self.throttled += 1
            return False

    def spend(self, seconds: float) -> None:
        with self._lock:
            self._credit -= seconds


class BasicAuth:
    """Checks ``Authorization: Basic`` credentials against bcrypt hashes."""

    def __init__(
        self,
        users: Mapping[str, str],
        concurrency: int | None = None,
        budget: BcryptBudget | None = None,
    ) -> None:
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency or os.cpu_count() or 1)
        self.budget = budget or BcryptBudget(DEFAULT_BCRYPT_BUDGET)
        self._dummy = _dummy_hash(_usual_cost(self._users.values()))
        self.bcrypt_checks = 0  # for tests: how often bcrypt really ran

    def check(self, authorization: str | None) -> bool:
        """True when the header carries a configured user and that user's password."""
        return self.outcome(authorization) == "ok"

    def outcome(self, authorization: str | None) -> Outcome:
        credentials = _parse_basic(authorization)
        if credentials is None:
            return "denied"
        return self.authenticate(*credentials)

    def verify(self, user: str, password: bytes) -> bool:
        return self.authenticate(user, password) == "ok"

    def authenticate(self, user: str, password: bytes) -> Outcome:
        password = password[:_BCRYPT_MAX_BYTES]
        digest = hmac.new(self._key, password, hashlib.sha256).digest()
        hashed = self._users.get(user)
        if hashed is not None:
            with self._lock:
                remembered = self._verified.get(user)
            if remembered is not None and hmac.compare_digest(remembered, digest):
                return "ok"
        if not self.budget.take():
            return "throttled"
        with self._slots:
            self.bcrypt_checks += 1
            started = time.thread_time()
            ok = _checkpw(password, hashed if hashed is not None else self._dummy)
            self.budget.spend(time.thread_time() - started)
        if ok and hashed is not None:
            with self._lock:
                self._verified[user] = digest
            return "ok"
        return "denied"


def _usual_cost(hashes: Iterable[bytes]) -> int:
    """The cost most hashes share, the lowest of them on a tie (4 when there are none)."""
    counts = Counter(int(h.split(b"$")[2]) for h in hashes)
    if not counts:
        return 4
    most = max(counts.values())
    return min(cost for cost, count in counts.items() if count == most)


def _dummy_hash(cost: int) -> bytes:
    """A hash of that cost that no password matches, made without paying for a bcrypt run."""
    tail = bytes(_BCRYPT_ALPHABET[b % 64] for b in secrets.token_bytes(31))
    return bcrypt.gensalt(rounds=cost) + tail


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
        if self.auth is None or path in self.open_paths:
            return self.app(environ, with_headers)
        outcome = self.auth.outcome(environ.get("HTTP_AUTHORIZATION"))
        if outcome == "ok":
            return self.app(environ, with_headers)
        log.debug("basic auth %s for %s from %s", outcome, path, environ.get("REMOTE_ADDR", "?"))
        if outcome == "throttled":
            body = b"429 Too Many Requests: too many failed logins, try again later\n"
            headers = [("Retry-After", "1")]
            status = "429 Too Many Requests"
        else:
            body = b"401 Unauthorized\n"
            headers = [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')]
            status = "401 Unauthorized"
        headers += [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        with_headers(status, headers)
        return [body]


def secure_app(app: WsgiApp, web: WebConfig, budget: BcryptBudget | None = None) -> WsgiApp:
    """``app`` behind the web config's basic auth and headers (unchanged when it has neither);
    ``budget`` is shared by every app built from a reloaded config."""
    if not web.basic_auth_users and not web.headers:
        return app
    auth = BasicAuth(web.basic_auth_users, budget=budget) if web.basic_auth_users else None
    return WebSecurityApp(app, auth, web.headers)
