"""A local AWS Backup endpoint for ``--demo``: the fake AWS Backup on loopback, with moving jobs,
restore testing plans and protected resources.

The exporter talks to it exactly as to AWS (boto3 over HTTP, ``endpoint_url`` = ``url``), so the
demo exercises the real code path. Everything runs in daemon threads of this process; nothing
but botocore is needed (no moto).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import botocore.session
from botocore.exceptions import BotoCoreError

from exporter.demo.fake_backup import FakeBackup, fixed_account
from exporter.demo.scenario import OLD_COMPLETED_JOB_ID, UNKNOWN_JOB_ID, DemoScenario

log = logging.getLogger(__name__)


def _credentials_configured() -> bool:
    """Whether boto3 would find credentials, without asking the instance metadata service or a
    container endpoint (each can stall for seconds where there is none)."""
    try:
        resolver = botocore.session.Session().get_component("credential_provider")
        for name in ("iam-role", "container-role"):
            resolver.remove(name)
        return resolver.load_credentials() is not None
    except BotoCoreError:  # half-set or broken credentials: boto3 could not sign either
        return False


class DemoEndpoint:
    """The fake AWS Backup, one ``DemoScenario`` per region on its store, and a ticker. Every
    access key is taken as ``account_id``'s, so the demo answers as whichever account it is
    given."""

    def __init__(
        self,
        regions: Sequence[str] = ("us-east-1", "eu-west-1"),
        account_id: str = "123456789012",
        tick_seconds: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.regions = tuple(regions)
        self.account_id = account_id
        self.tick_seconds = tick_seconds
        self.fake = FakeBackup(accounts=fixed_account(account_id))
        self.scenarios = {
            region: DemoScenario(account_id, region, store=self.fake.store)
            for region in self.regions
        }
        self._host, self._port = host, port
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The endpoint URL with the port really bound (``port=0`` picks a free one)."""
        return self.fake.url  # RuntimeError before start()

    def configured_job_ids(self, region: str) -> list[str]:
        """IDs the demo configuration lists under ``restore_job_ids``: an old COMPLETED job that
        discovery's 24 h window misses, and one that does not exist (a lookup error)."""
        if region not in self.scenarios:
            raise KeyError(f"the demo has no region {region!r}")
        return [OLD_COMPLETED_JOB_ID, UNKNOWN_JOB_ID]

    def start(self) -> None:
        """Serve, seed, tick. Fake credentials are set only when boto3 would find none, so the
        exporter's clients can sign requests; the fake checks no signature and the requests
        never leave loopback, so real credentials, if any, are left as they are."""
        if not _credentials_configured():
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self.fake.start(self._host, self._port)
        for scenario in self.scenarios.values():
            scenario.seed()
        self._stopping.clear()
        self._ticker = threading.Thread(target=self._tick_forever, name="demo-ticker", daemon=True)
        self._ticker.start()

    def _tick_forever(self) -> None:
        while not self._stopping.wait(self.tick_seconds):
            for scenario in self.scenarios.values():
                try:
                    scenario.tick()
                except Exception:  # a demo bug must not stop the other regions or later ticks
                    log.exception("demo tick failed in %s", scenario.region)

    def stop(self) -> None:
        """Stop ticking and serving, and forget the demo's jobs, plans and protected resources;
        safe to call twice."""
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        self.fake.stop()
        self.fake.store.clear()
