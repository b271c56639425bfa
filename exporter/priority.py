"""Scrapes first: background syncs give way while a scrape renders.

The exporter is one Python process, and Python runs one thread at a time. At 1,000 targets the
background syncs keep about a third of a core busy (botocore's requests and parsing), and a
scrape rendering 25,000 lines of its own among 16 sync threads got a fraction of the
interpreter: 0.6 s of work took 2 to 3 s. So while a scrape renders, a sync about to send its
next request, or to pre-render its target, waits until the scrape is done (at most
``longest_pause``, so a stuck render cannot stop syncing). Requests already on the wire finish
as they are. A sync is background work a minute apart: a few hundred milliseconds of delay cost
it nothing, while the scrape has a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ScrapesFirst:
    """Whether a scrape is rendering, for background work to give way to; thread-safe."""

    def __init__(self, longest_pause: float = 2.0) -> None:
        self.longest_pause = longest_pause
        self._lock = threading.Lock()
        self._rendering = 0
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def rendering(self) -> Iterator[None]:
        """Hold background work back for the duration of a render (renders may overlap)."""
        with self._lock:
            self._rendering += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._rendering -= 1
                if self._rendering == 0:
                    self._idle.set()

    def give_way(self) -> bool:
        """Wait while a scrape renders; False when it took longer than ``longest_pause``."""
        return self._idle.wait(self.longest_pause)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()
