"""One view and one render shared by the requests that arrive together.

At 10,000 jobs a /metrics body is 30 MB of text (3 MB gzipped) and a good part of a second of
CPU to join and compress. Twenty scrapes at once (two Prometheus replicas, their retries, a
person with curl) each taking their own view and rendering their own copy cost twenty times
the memory and the CPU, and all finish twenty times later. So requests for the same body share
one *flight*: one view (``Exporter.scrape()``) and one render, whose immutable result every one
of them is served.

Freshness: a request joins a flight only while that flight's view is still being taken (the
flight is waiting for the syncs in flight, as the request's own scrape would have). Once the
view is taken, a new request never gets that body: it starts the next flight, which takes its
view when the current render is done. So every body a request gets was viewed after the request
arrived, and at most one render per key runs at a time, however many requests queue. One case
is looser than a scrape of the request's own: with several targets, a target whose sync ended
while the flight still waits for a slower one (so before the request arrived, at most
``sync.deadline`` earlier) is shown from that sync, where the request's own scrape would have
started another (with ``sync.min_interval`` 0); likewise, a target the flight found fresh
enough under ``sync.min_interval`` when its view began is not looked at again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")
V = TypeVar("V")


class SharedFlightError(RuntimeError):
    """The flight a request joined failed; the leader's error is the cause."""


class _Flight(Generic[V]):
    def __init__(self, previous: _Flight[V] | None) -> None:
        self.previous = previous  # the flight rendering when this one started: wait for it
        self.done = threading.Event()
        self.result: tuple[V] | None = None  # (value,) once rendered
        self.error: BaseException | None = None


class Flights(Generic[K, S, V]):
    """Single flights by key: ``run(key, view, render)`` returns ``render(view())``, computed
    once for every call that arrives while the flight's ``view`` is running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[K, _Flight[V]] = {}  # taking its view: new calls join it
        self._newest: dict[K, _Flight[V]] = {}  # the newest unfinished flight of each key
        self.calls = 0  # calls of run(), for tests and benchmarks
        self.flights = 0  # views taken and renders run

    def run(self, key: K, view: Callable[[], S], render: Callable[[S], V]) -> V:
        with self._lock:
            self.calls += 1
            flight = self._open.get(key)
            leader = flight is None
            if flight is None:
                flight = _Flight(self._newest.get(key))
                self._open[key] = self._newest[key] = flight
                self.flights += 1
        if leader:
            self._lead(key, flight, view, render)
        else:
            flight.done.wait()
        if flight.result is not None:
            return flight.result[0]
        if leader:
            raise flight.error or SharedFlightError("no result")
        raise SharedFlightError("the shared render failed") from flight.error

    def _lead(
        self, key: K, flight: _Flight[V], view: Callable[[], S], render: Callable[[S], V]
    ) -> None:
        try:
            if flight.previous is not None:
                flight.previous.done.wait()
                flight.previous = None  # its body is its requests' business now
            try:
                state = view()
            finally:
                with self._lock:
                    del self._open[key]
            flight.result = (render(state),)
        except BaseException as error:  # every caller of the flight gets it, not only this one
            flight.error = error
        finally:
            with self._lock:
                if self._newest.get(key) is flight:
                    del self._newest[key]
            flight.done.set()
