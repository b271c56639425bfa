"""The web config and its certificate files, re-read when they change, without a restart.

Every ``interval`` (10 s by default) the web config file and the files it names (certificate,
key, client CA) are read and hashed; when anything changed, the whole config is loaded again
exactly as at start-up. A good one is swapped in at once: new connections shake hands with the
new certificate and new requests meet the new users and headers (connections already open keep
the certificate they shook hands with). A broken one (a half-written renewal, a key that does not
match) is refused with one error log line naming the key, and the last good config stays served;
the next change is tried again. Files are compared by content, so Kubernetes' symlink swaps of a
mounted Secret and cert-manager's in-place writes are seen alike.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from exporter.server import Site, WsgiApp
from exporter.store import ReloadStatus
from exporter.webauth import BcryptBudget, secure_app
from exporter.webconfig import WebConfig, WebConfigError, load_web_config

log = logging.getLogger(__name__)


def site_for(app: WsgiApp, web: WebConfig, budget: BcryptBudget | None) -> Site:
    """What the server serves for one web config."""
    return Site(secure_app(app, web, budget), web.ssl_context, web.peer_check())


def _files(path: Path, web: WebConfig) -> tuple[Path, ...]:
    tls = web.tls
    if tls is None:
        return (path,)
    named = (tls.cert_file, tls.key_file, tls.client_ca_file)
    return (path, *(file for file in named if file is not None))


def _fingerprint(files: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError as error:
            digest.update(f"unreadable: {error.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


class WebReloader:
    """Holds the web config of the moment; ``check()`` swaps in a changed one via ``apply``."""

    def __init__(
        self,
        path: str | Path,
        web: WebConfig,
        apply: Callable[[WebConfig], None],
    ) -> None:
        self.path = Path(path)
        self.current = web
        self._apply = apply
        self._files = _files(self.path, web)
        self._seen = _fingerprint(self._files)
        self.reloads = 0
        self.failures = 0
        self._status = ReloadStatus(True, time.time())

    @property
    def last_reload_successful(self) -> bool:
        return self._status.successful

    def status(self) -> ReloadStatus:
        return self._status

    def check(self) -> bool:
        """Reload if anything changed; True when a new config was swapped in."""
        # the files the current config names, and the config file itself (which may now
        # name others: the fingerprint after a load covers those)
        seen = _fingerprint(self._files)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            web = load_web_config(self.path)
        except WebConfigError as error:
            self.failures += 1
            self._status = ReloadStatus(False, self._status.last_success_timestamp)
            log.error("web config reload failed, still serving the last good one: %s", error)
            return False
        self._files = _files(self.path, web)
        self._seen = _fingerprint(self._files)
        self._apply(web)
        self.current = web
        self.reloads += 1
        self._status = ReloadStatus(True, time.time())
        tls = "off" if web.tls is None else f"on, client auth {web.tls.client_auth_type}"
        log.info(
            "web config reloaded: TLS %s, basic auth users: %d", tls, len(web.basic_auth_users)
        )
        return True

    def run(self, interval: float, stop: threading.Event) -> threading.Thread:
        """Check every ``interval`` seconds in a thread of its own until ``stop`` is set."""

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.check()
                except Exception:  # a reload must never end the reloading
                    log.exception("web config reload failed")

        thread = threading.Thread(target=loop, name="web-config-reload", daemon=True)
        thread.start()
        return thread
