"""What the benchmarks and tests measure and inject around the API: request counts per operation,
a log of recent requests, and errors to answer the next requests with (``fail_next``).

Every request that reaches the server is counted under its operation (None: no operation of the
model; the operation names of AWS Backup and the Account API do not overlap), errors included, and
every attempt of a retried call counts: that is what AWS bills against the quotas, and what the
exporter's own ``api_requests_total`` must agree with.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from exporter.demo.fake_backup.errors import ApiError


@dataclass(frozen=True)
class LoggedRequest:
    operation: str | None
    method: str
    path: str
    query: dict[str, str]  # wire names, last value of each
    status: int
    error_code: str | None
    service: str = "backup"  # the credential scope's (AWS Backup's when it has none)


class Accounting:
    """Thread-safe counters, log and queued failures of one server."""

    def __init__(self, log_size: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str | None] = collections.Counter()
        self._failures: collections.deque[ApiError] = collections.deque()
        self.log: collections.deque[LoggedRequest] = collections.deque(maxlen=log_size)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._failures.clear()
            self.log.clear()

    def arrived(self, operation: str | None) -> ApiError | None:
        """Count one request; the injected failure to answer it with, if one is queued."""
        with self._lock:
            self._counts[operation] += 1
            return self._failures.popleft() if self._failures else None

    def answered(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def fail_next(
        self, count: int, code: str = "ThrottlingException", message: str = "Rate exceeded",
        status: int | None = None,
    ) -> None:  # fmt: skip
        """Answer the next ``count`` requests with this error; its status is the one AWS sends
        with ``code`` unless given (400 for ThrottlingException)."""
        with self._lock:
            self._failures.extend(ApiError(code, message, status) for _ in range(count))

    def requests(self, operation: str | None = None) -> int:
        """Requests answered so far (errors included), for one operation or all."""
        with self._lock:
            if operation is not None:
                return self._counts[operation]
            return sum(self._counts.values())

    def counts(self) -> dict[str, int]:
        """Requests per operation; requests that matched no operation are not in it."""
        with self._lock:
            return {op: n for op, n in self._counts.items() if op is not None}
