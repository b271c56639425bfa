"""The protected-resources source of a target (opt in): each resource's latest restore.

DescribeProtectedResource answers one resource a call, under a quota of 10 requests a second
per account and region, so the resources are listed every
``restore_testing.protected_resources_refresh_interval`` and described a few at a time, at most
``DESCRIBES_PER_SYNC`` per sync, each once per interval (oldest first). A full round over N
resources takes ceil(N / DESCRIBES_PER_SYNC) syncs; the listing is capped at
``restore_testing.max_protected_resources`` and what is over it counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from exporter.aws_errors import classify_error
from exporter.backup_api import BackupApi, RestoreTestingApi
from exporter.config import TargetConfig
from exporter.plans import ProtectedResource, ProtectedResourcesView
from exporter.restore_jobs import SyncRun

DESCRIBES_PER_SYNC = 20
RETRY_SECONDS = 60.0  # after a failed sync, as for restore testing


@dataclass(frozen=True)
class _State:
    view: ProtectedResourcesView = field(default_factory=ProtectedResourcesView)
    listed: float | None = None  # start of the last successful listing
    failed: float | None = None  # start of the last sync, when it failed
    listed_types: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    described: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))


class ProtectedResourcesSource:
    name = "protected_resources"

    def __init__(self, target: TargetConfig, api: BackupApi, clock: Callable[[], float]) -> None:
        self.target = target
        self._api = RestoreTestingApi(api)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()

    @property
    def view(self) -> ProtectedResourcesView:
        with self._lock:
            return self._state.view

    def sync(self, started: float) -> SyncRun | None:
        """List when due, then describe the resources most overdue; None when nothing was due."""
        settings = self.target.restore_testing
        if not (settings.enabled and settings.protected_resources):
            return None
        with self._lock:
            state = self._state
        interval = settings.protected_resources_refresh_interval_seconds
        if state.failed is not None and started - state.failed < min(interval, RETRY_SECONDS):
            return None  # after a failure, a minute's pause rather than a request every scrape
        listing_due = state.listed is None or started - state.listed >= interval
        failure: Exception | None = None
        try:
            if listing_due:
                state = self._list(state, started)
            due = sorted(
                (state.described.get(arn, 0.0), arn)
                for arn in state.listed_types
                if started - state.described.get(arn, 0.0) >= interval
            )[:DESCRIBES_PER_SYNC]
            if not listing_due and not due:
                return None
            state, failure = self._describe(state, [arn for _, arn in due], started)
        except Exception as error:  # any AWS or network failure: report, keep the last view
            failure = error
        with self._lock:  # with what was read before a failure, if any
            self._state = replace(state, failed=None if failure is None else started)
        return SyncRun(self.name, failure)

    def _list(self, state: _State, started: float) -> _State:
        limit = self.target.restore_testing.max_protected_resources
        listed: dict[str, str] = {}
        dropped = 0
        for item in self._api.protected_resources():
            arn, kind = item.get("ResourceArn"), item.get("ResourceType")
            if not isinstance(arn, str) or not arn:
                continue
            if len(listed) >= limit:
                dropped += 1
                continue
            listed[arn] = kind if isinstance(kind, str) else ""
        kept = {arn: r for arn, r in state.view.resources.items() if arn in listed}
        return _State(
            view=ProtectedResourcesView(MappingProxyType(kept), dropped),
            listed=started,
            listed_types=MappingProxyType(listed),
            described=MappingProxyType({a: t for a, t in state.described.items() if a in listed}),
        )

    def _describe(
        self, state: _State, arns: list[str], started: float
    ) -> tuple[_State, Exception | None]:
        """The state with these resources described, as far as it got, and the failure if any."""
        resources, described = dict(state.view.resources), dict(state.described)
        failure: Exception | None = None
        for arn in arns:
            try:
                data = self._api.describe_protected_resource(arn)
            except Exception as error:
                if classify_error(error) == "not_found":  # deleted since it was listed
                    resources.pop(arn, None)
                    described[arn] = started
                    continue
                failure = error
                break
            resources[arn] = ProtectedResource.from_api(data, self.target.region)
            described[arn] = started
        view = ProtectedResourcesView(MappingProxyType(resources), state.view.dropped)
        return replace(state, view=view, described=MappingProxyType(described)), failure
