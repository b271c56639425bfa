"""The restore jobs of every (account, region), and the helpers that create and change them.

One store is shared by everything that touches jobs: the HTTP API (through ``operations``), the
demo scenario, the benchmarks' job generator and the tests' ``put_job``. A server thread may be
answering while another thread changes jobs, so every access holds one lock. Fields are checked
against the model when they are stored (``fields.normalised``): a job that could not come from
AWS is refused with TypeError or ValueError, before anything changes.

Beside the jobs, and cleared with them, the same store holds the restore testing plans and
selections (``testing``, a ``testing_store.RestoreTestingStore``) and the protected resources
(``protected``, a ``protected.ProtectedResourceStore``, whose restore fields are read from these
jobs) of the same accounts and regions: whatever holds the store (the API, the demo, a test's
helpers) sees all of them.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from exporter.demo.fake_backup.fields import Job, StoredJob, copy_job, normalised, to_datetime
from exporter.demo.fake_backup.protected import ProtectedResourceStore
from exporter.demo.fake_backup.query import Predicate, SortKey
from exporter.demo.fake_backup.regions import Regions
from exporter.demo.fake_backup.testing_store import RestoreTestingStore

Render = Callable[[Job], str]
_UNREMOVABLE = ("AccountId", "CreationDate", "Status")


class _Region:
    """One (account, region): its jobs, their order (rebuilt lazily) and idempotency tokens."""

    def __init__(self) -> None:
        self.jobs: dict[str, StoredJob] = {}
        self.tokens: dict[str, str] = {}  # StartRestoreJob IdempotencyToken -> job ID
        self._order: list[StoredJob] | None = None
        self._keys: list[SortKey] = []

    def changed_order(self) -> None:
        self._order = None

    def ordered(self) -> tuple[list[StoredJob], list[SortKey]]:
        if self._order is None:
            self._order = sorted(self.jobs.values(), key=lambda job: job.sort_key)
            self._keys = [job.sort_key for job in self._order]
        return self._order, self._keys


class RestoreJobStore(Regions[_Region]):
    """Restore jobs per (account, region). Dates go in as datetimes or epoch seconds and come
    out as aware UTC datetimes; every method returns copies, never the stored objects."""

    def __init__(self) -> None:
        super().__init__(_Region)
        self.testing = RestoreTestingStore(self)
        self.protected = ProtectedResourceStore(self)

    # -- lifecycle -------------------------------------------------------------------------

    def put(self, account_id: str, region: str, **fields: Any) -> str:
        """Create or replace a job; returns its ID. Fills RestoreJobId (a new UUID), AccountId,
        CreationDate (now) and Status (PENDING) when not given; ``None`` values are left out."""
        job = {name: normalised(name, value) for name, value in fields.items() if value is not None}
        job.setdefault("RestoreJobId", str(uuid.uuid4()).upper())
        job.setdefault("AccountId", normalised("AccountId", account_id))
        job.setdefault("CreationDate", to_datetime(datetime.now(UTC)))
        job.setdefault("Status", "PENDING")
        stored = StoredJob(job)
        with self._lock:
            table = self._region(account_id, region)
            table.jobs[stored.job_id] = stored
            table.changed_order()
        return stored.job_id

    def load(self, account_id: str, region: str, jobs: Iterable[Mapping[str, Any]]) -> None:
        """``put`` many jobs (a benchmark's thousands) in one go."""
        for job in jobs:
            self.put(account_id, region, **job)

    def start(self, account_id: str, region: str, token: str | None, **fields: Any) -> str:
        """StartRestoreJob: a new PENDING job, or the job an earlier call with the same
        idempotency token started (no action taken, as AWS documents)."""
        with self._lock:
            table = self._region(account_id, region)
            existing = table.tokens.get(token) if token is not None else None
            if existing is not None and existing in table.jobs:
                return existing
            job_id = self.put(account_id, region, **fields, Status="PENDING")
            if token is not None:
                table.tokens[token] = job_id
            return job_id

    def update(self, account_id: str, region: str, job_id: str, **fields: Any) -> None:
        """Change some fields of an existing job (KeyError if there is none); ``None`` removes
        one. A refused change changes nothing."""
        if "RestoreJobId" in fields:
            raise TypeError("RestoreJobId cannot change")
        for required in _UNREMOVABLE:
            if required in fields and fields[required] is None:
                raise TypeError(f"{required} cannot be removed")
        changes = {n: normalised(n, v) for n, v in fields.items() if v is not None}
        with self._lock:
            table = self._region(account_id, region)
            stored = table.jobs[job_id]
            for name in [name for name, value in fields.items() if value is None]:
                stored.fields.pop(name, None)
            stored.fields.update(changes)
            stored.refresh()
            if "CreationDate" in changes:
                table.changed_order()

    def delete(self, account_id: str, region: str, job_id: str) -> None:
        """Forget one job; no error if it is gone already."""
        with self._lock:
            table = self._region(account_id, region)
            if table.jobs.pop(job_id, None) is not None:
                table.changed_order()

    def clear(self, account_id: str | None = None, region: str | None = None) -> None:
        """Forget every job (and idempotency token), restore testing plan, selection and
        protected resource of one account and region, or of all."""
        if (account_id is None) != (region is None):
            raise TypeError("give both account_id and region, or neither")
        super().clear(account_id, region)
        self.testing.clear(account_id, region)
        self.protected.clear(account_id, region)

    # -- reading ---------------------------------------------------------------------------

    def jobs(self, account_id: str, region: str) -> list[Job]:
        """Copies of the region's jobs, newest first (ListRestoreJobs' order)."""
        with self._lock:
            ordered, _ = self._region(account_id, region).ordered()
            return [copy_job(job.fields) for job in ordered]

    def get(self, account_id: str, region: str, job_id: str) -> Job | None:
        with self._lock:
            stored = self._region(account_id, region).jobs.get(job_id)
            return None if stored is None else copy_job(stored.fields)

    def newest(self, account_id: str, region: str, test: Callable[[Job], bool]) -> Job | None:
        """A copy of the newest job (by CreationDate) whose fields pass ``test``, or None."""
        with self._lock:
            ordered, _ = self._region(account_id, region).ordered()
            found = next((job for job in ordered if test(job.fields)), None)
            return None if found is None else copy_job(found.fields)

    def rendered(
        self, account_id: str, region: str, job_id: str, shape: str, render: Render
    ) -> str | None:
        """One job as ``render`` turns it into text for ``shape``, cached until it changes."""
        with self._lock:
            stored = self._region(account_id, region).jobs.get(job_id)
            return None if stored is None else _text(stored, shape, render)

    def page(
        self,
        account_id: str,
        region: str,
        tests: list[Predicate],
        after: SortKey | None,
        limit: int,
        shape: str,
        render: Render,
    ) -> tuple[list[str], SortKey | None]:
        """Up to ``limit`` rendered jobs passing every test, in order, after the cursor
        ``after``; and the cursor for the next page (None on the last page)."""
        with self._lock:
            ordered, keys = self._region(account_id, region).ordered()
            start = 0 if after is None else bisect.bisect_right(keys, after)
            page: list[StoredJob] = []
            for index in range(start, len(ordered)):
                job = ordered[index]
                if all(test(job) for test in tests):
                    if len(page) == limit:
                        return [_text(j, shape, render) for j in page], page[-1].sort_key
                    page.append(job)
            return [_text(j, shape, render) for j in page], None


def _text(stored: StoredJob, shape: str, render: Render) -> str:
    text = stored.texts.get(shape)
    if text is None:
        text = stored.texts[shape] = render(stored.fields)
    return text
