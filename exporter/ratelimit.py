"""Client-side request rate limits, so the exporter stays below AWS Backup's per-account quotas.

AWS Backup allows, per account and region, 15 DescribeRestoreJob and 20 ListRestoreJobs requests
a second and 50 for all its APIs together, shared with the console and every other tool. Staying
below them on our side is cheaper than being throttled and retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token now (possibly going into debt); return how long to wait before use.

        Reserving under the lock and sleeping outside it keeps callers in a fair queue without
        holding the lock while they wait.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds spent waiting."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class RequestLimiter:
    """One bucket per operation plus one for all operations together, for one account+region."""

    def __init__(
        self,
        per_operation: dict[str, float],
        total: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._operations = {
            name: TokenBucket(rate, clock=clock, sleep=sleep)
            for name, rate in per_operation.items()
        }
        self._total = TokenBucket(total, clock=clock, sleep=sleep)
        self._sleep = sleep

    def acquire(self, operation: str) -> float:
        """Wait for both the operation's and the overall allowance; return seconds waited."""
        bucket = self._operations.get(operation)
        wait = max(bucket.reserve() if bucket else 0.0, self._total.reserve())
        if wait > 0:
            self._sleep(wait)
        return wait
