"""What a scrape reads: immutable values, taken at one instant, that rendering turns into text.

Sources and syncs replace these values, never mutate them, so a scrape holds a consistent view
without locks and renders it while the next sync is already running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from exporter.config import TargetConfig
from exporter.job_families import identity
from exporter.job_summary_view import JobSummariesView
from exporter.model import RestoreJob
from exporter.plans import (
    Plan,
    PlanSuccess,
    ProtectedResource,
    ProtectedResourcesView,
    RestoreTestingView,
    Selection,
)

T = TypeVar("T")


@dataclass(frozen=True)
class TargetSnapshot:
    """What a scrape shows of one target."""

    target: TargetConfig
    jobs: Mapping[str, RestoreJob]  # exposed per job (capped at metrics.max_jobs_per_target)
    all_jobs: Mapping[str, RestoreJob]  # everything held, for the aggregate
    up: bool
    down_reason: str | None
    data_timestamp: float | None  # when the data served was last fully refreshed
    syncing: bool
    lookup_errors: Mapping[str, str]
    jobs_dropped: int
    restore_testing: RestoreTestingView = field(default_factory=RestoreTestingView)
    protected_resources: ProtectedResourcesView = field(default_factory=ProtectedResourcesView)
    source_up: Mapping[str, bool] = field(default_factory=dict)  # source -> last run succeeded
    job_summaries: JobSummariesView = field(default_factory=JobSummariesView)


@dataclass(frozen=True)
class TargetHealth:
    """One target's health figures for one scrape: the exporter's own series."""

    name: str
    region: str
    up: bool
    down_reason: str | None
    scrape_seconds: float
    data_age_seconds: float | None
    jobs: int
    jobs_dropped: int
    api_requests: Mapping[tuple[str, str], int]  # (operation, outcome) -> attempts
    syncs: Mapping[tuple[str, str], int]  # (kind, result) -> runs
    lookup_errors: Mapping[str, str]  # configured job ID -> reason
    source_up: Mapping[str, bool] = field(default_factory=dict)  # source -> last run succeeded
    protected_resources_dropped: int = 0  # listed but over restore_testing.max_protected_resources
    account_id: str = ""  # "" when the target's account is not known (default credentials)
    sync_seconds: float | None = None  # how long its last sync took


@dataclass(frozen=True)
class DiscoveryStatus:
    """How discovery is doing, for ``aws_backup_restore_exporter_discovery_*``."""

    name: str  # the ``discovery`` label
    up: bool
    targets: int
    accounts: int
    last_success_timestamp: float | None
    last_duration_seconds: float | None
    reason: str | None = None


@dataclass(frozen=True)
class ReloadStatus:
    """How the web config's last reload went, for ``..._web_config_last_reload_*``."""

    successful: bool
    last_success_timestamp: float  # the start counts as the first successful load


@dataclass(frozen=True)
class Scrape:
    """Everything one scrape shows."""

    now: float
    snapshots: tuple[TargetSnapshot, ...]
    health: tuple[TargetHealth, ...]
    web_config: ReloadStatus | None = None  # with --web.config.file and reloading on
    discovery: tuple[DiscoveryStatus, ...] = ()  # one per target discovery (organization)

    def exposed_tables(self) -> list[tuple[str, Mapping[str, RestoreJob]]]:
        return self._tables(lambda snapshot: snapshot.jobs)

    def all_tables(self) -> list[tuple[str, Mapping[str, RestoreJob]]]:
        """``exposed_tables`` over every job held (over the cap too), for the aggregate."""
        return self._tables(lambda snapshot: snapshot.all_jobs)

    def _tables(
        self, jobs_of: Callable[[TargetSnapshot], Mapping[str, RestoreJob]]
    ) -> list[tuple[str, Mapping[str, RestoreJob]]]:
        """Each target's exposed jobs by target name, each job in one table only.

        Targets of different accounts or regions cannot share a job, and their tables are
        passed as they are (the block cache knows them by identity). A target that may read
        the same jobs as an earlier one (same region, and the same account or an unknown one)
        gets a table without the jobs already shown.
        """
        tables: list[tuple[str, Mapping[str, RestoreJob]]] = []
        # per region: the earlier tables by account (None: an account not known), so that a
        # target looks only at those it may overlap, not at every earlier one of its region
        earlier: dict[str, dict[str | None, list[Mapping[str, RestoreJob]]]] = {}
        for snapshot in self.snapshots:
            target = snapshot.target
            account = None if target.discovery.account_id else target.account_id
            before = earlier.setdefault(target.region, {})
            jobs = jobs_of(snapshot)
            if account is None:
                overlapping = [table for group in before.values() for table in group]
            else:
                overlapping = [*before.get(account, ()), *before.get(None, ())]
            if overlapping:
                seen = {identity(job) for table in overlapping for job in table.values()}
                jobs = {k: job for k, job in jobs.items() if identity(job) not in seen}
            before.setdefault(account, []).append(jobs)
            tables.append((target.name, jobs))
        return tables

    def all_jobs(self) -> Iterator[RestoreJob]:
        """Every job held, including those over the per-target cap, for the aggregate."""
        return _unique(snapshot.all_jobs for snapshot in self.snapshots)

    def plans(self) -> list[Plan]:
        """Restore testing plans, each once (two targets on one account share them)."""
        return _once(p for s in self.snapshots for p in s.restore_testing.plans)

    def selections(self) -> list[Selection]:
        return _once(x for s in self.snapshots for x in s.restore_testing.selections)

    def successes(self) -> list[PlanSuccess]:
        return _once(x for s in self.snapshots for x in s.restore_testing.successes)

    def protected_resources(self) -> list[ProtectedResource]:
        views = (s.protected_resources.resources for s in self.snapshots)
        return _once(r for view in views for r in view.values())


def _once(items: Iterable[T]) -> list[T]:
    """Equal values once, in first-seen order."""
    return list(dict.fromkeys(items))


def _unique(tables: Iterable[Mapping[str, RestoreJob]]) -> Iterator[RestoreJob]:
    seen: set[tuple[str, ...]] = set()
    for table in tables:
        for job in table.values():
            key = identity(job)
            if key not in seen:
                seen.add(key)
                yield job
