"""State kept per (account, region) under one lock: what the job, restore testing and
protected-resource stores share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Regions(Generic[T]):
    """The state of every (account, region), each made by ``empty`` when first used."""

    def __init__(self, empty: Callable[[], T]) -> None:
        self._lock = threading.RLock()
        self._regions: dict[tuple[str, str], T] = {}
        self._empty = empty

    def _region(self, account_id: str, region: str) -> T:
        """Call with the lock held."""
        return self._regions.setdefault((account_id, region), self._empty())

    def clear(self, account_id: str | None = None, region: str | None = None) -> None:
        """Forget the state of one account and region, or (either None) of all."""
        with self._lock:
            if account_id is None or region is None:
                self._regions.clear()
            else:
                self._regions.pop((account_id, region), None)

    def places(self) -> list[tuple[str, str]]:
        """Every (account, region) that has state, in no particular order."""
        with self._lock:
            return list(self._regions)
