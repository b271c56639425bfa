"""Background sync: every target synced every ``sync.interval``, spread evenly over it.

At organisation scale AWS cannot be asked on the scrape: a botocore request costs about 3.5 ms
of CPU, so 1,000 targets x a few requests is seconds of CPU, which no scrape timeout fits and
two Prometheus replicas would double. Here each target syncs on its own schedule and a scrape
answers from memory. A target's phase in the interval is a stable hash of its name, so syncs are
spread over the interval (not all at once), the same way on every restart, and a target joining
does not move the others. A new target syncs at once, the next time at its phase (at least half
an interval later), and then every interval: its data is never older than 1.5 intervals plus the
sync's own duration. Syncs queue on the shared, bounded sync pool in order of coming due, so no
target starves.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from exporter.sync import TargetSync

log = logging.getLogger(__name__)

# A target's keep-alive connections are closed after a sync when the next one is this far off:
# AWS's endpoints drop idle connections well within a minute anyway, and 1,000 targets would
# otherwise hold thousands of sockets for nothing. The client itself is kept: building it again
# costs more CPU (about 8 ms) than it saves memory (about 120 KB, client_classes.py).
KEEP_CONNECTIONS_BELOW_SECONDS = 30.0


def phase(name: str, interval: float) -> float:
    """Where in the interval a target syncs: a stable hash of its name, 0 <= phase < interval."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


class BackgroundSync:
    """The schedule of every target's sync, driven by ``tick`` (a thread calls it every second)."""

    def __init__(
        self,
        interval: float,
        current: Callable[[], Sequence[TargetSync]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._current = current
        self._clock = clock
        self._due: dict[str, float] = {}
        self._close = interval >= KEEP_CONNECTIONS_BELOW_SECONDS

    def tick(self) -> int:
        """Start every sync that is due; returns how many were started (or joined)."""
        now = self._clock()
        started = 0
        seen: set[str] = set()
        for sync in self._current():
            name = sync.target.name
            seen.add(name)
            due = self._due.get(name)
            if due is not None and now < due:
                continue
            self._due[name] = self._next(name, now, due)
            sync.close_connections_after_sync = self._close
            sync.refresh()
            started += 1
        for gone in self._due.keys() - seen:
            del self._due[gone]
        return started

    def _next(self, name: str, now: float, due: float | None) -> float:
        interval = self.interval
        if due is None:  # a new target: now, then at its phase, at least half an interval on
            first = now - now % interval + phase(name, interval)
            while first < now + interval / 2:
                first += interval
            return first
        while due <= now:  # a late tick (or a long pause) skips missed rounds, keeps the phase
            due += interval
        return due

    def run(self, stop: threading.Event, tick_seconds: float = 1.0) -> None:
        """Tick until ``stop`` is set; a failing tick is logged, never the end of syncing."""
        while True:
            try:
                self.tick()
            except Exception:
                log.exception("background sync: unexpected error while scheduling")
            if stop.wait(tick_seconds):
                return
