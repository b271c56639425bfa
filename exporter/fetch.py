"""Running a sync's requests side by side, on threads shared by every target.

A sync's list queries run in parallel (the rate limiter still paces them), so it costs about one
request's latency rather than the sum. Each target gets at most ``concurrency`` requests in
flight, on one pool for the whole exporter instead of new threads per sync.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from typing import TypeVar

Q = TypeVar("Q")
R = TypeVar("R")


def run_bounded(
    executor: Executor,
    items: Sequence[Q],
    work: Callable[[Q], R],
    concurrency: int,
) -> list[R]:
    """``work`` over ``items`` with at most ``concurrency`` running at once; results in order.

    An exception ends the worker that met it and is raised once every worker has stopped; the
    other items still run unless ``work`` itself checks for an earlier failure and returns.
    """
    if not items:
        return []
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        pending.put(index)
    results: list[R | None] = [None] * len(items)

    def worker() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            results[index] = work(items[index])

    workers = [executor.submit(worker) for _ in range(max(1, min(concurrency, len(items))))]
    _raise_first(workers)
    return results  # type: ignore[return-value]  # every index was filled, or we raised


def _raise_first(futures: Iterable[Future[None]]) -> None:
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise errors[0]
