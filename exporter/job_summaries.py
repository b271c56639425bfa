"""The restore-job-summaries source of a target (opt in): AWS Backup's own daily counts of
restore jobs, organisation-wide from one account.

From the management account or a delegated administrator, ListRestoreJobSummaries with
``AccountId=ANY`` counts the restore jobs of every account of the organisation, by account,
region, resource type and state: an overview for users who cannot deploy a role in every
account. It is AWS's daily, lagging view (see ``job_summary_view``), not a substitute for
per-account targets: no job, no progress, nothing from today. It is read every
``restore_job_summaries.refresh_interval`` (one request per page of up to 500 summaries); a
failed refresh is tried again a minute later. botocore has no paginator for the operation, so
pages are followed by hand until NextToken is absent; a page may be empty before the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

from exporter.aws_client import check_parsed
from exporter.backup_api import BackupApi
from exporter.config import TargetConfig
from exporter.job_summary_view import JobSummariesView
from exporter.restore_jobs import SyncRun

if TYPE_CHECKING:
    from mypy_boto3_backup.literals import AggregationPeriodType
    from mypy_boto3_backup.type_defs import ListRestoreJobSummariesInputTypeDef
else:
    AggregationPeriodType = str
    ListRestoreJobSummariesInputTypeDef = dict

OPERATION = "ListRestoreJobSummaries"
PAGE_SIZE = 500  # AWS's documented maximum (the model says 1000; AWS refuses more than 500)
MAX_PAGES = 1000  # a token that never ends is AWS trouble, not a reason to loop forever
RETRY_AFTER_FAILURE_SECONDS = 60.0


class EndlessPagesError(RuntimeError):
    """ListRestoreJobSummaries kept answering with a NextToken (or repeated one)."""


class JobSummariesApi:
    """ListRestoreJobSummaries on a target's client, every page followed by hand."""

    def __init__(self, api: BackupApi) -> None:
        self._api = api

    def restore_job_summaries(self, account_id: str, period: str) -> Iterator[Mapping[str, object]]:
        """Every summary of every state and resource type for ``account_id`` (``ANY``: every
        account of the organisation) over ``period``, page after page."""
        request: ListRestoreJobSummariesInputTypeDef = {
            "AccountId": account_id,
            "State": "ANY",
            "ResourceType": "ANY",
            "AggregationPeriod": cast(AggregationPeriodType, period),
            "MaxResults": PAGE_SIZE,
        }
        tokens: set[str] = set()
        for _ in range(MAX_PAGES):
            response = self._api.client.list_restore_job_summaries(**request)
            check_parsed(cast(Mapping[str, object], response), OPERATION)
            yield from cast(list[Mapping[str, object]], response.get("RestoreJobSummaries") or [])
            token = response.get("NextToken")
            if not token:
                return
            if token in tokens:
                raise EndlessPagesError(f"{OPERATION}: NextToken {token!r} came back twice")
            tokens.add(token)
            request["NextToken"] = token
        raise EndlessPagesError(f"{OPERATION}: still a NextToken after {MAX_PAGES} pages")


@dataclass(frozen=True)
class _State:
    view: JobSummariesView = field(default_factory=JobSummariesView)
    refreshed: float | None = None  # start of the last successful refresh
    failed: float | None = None  # start of the last refresh, when it failed


class JobSummariesSource:
    """A target's restore job summaries, refreshed every ``refresh_interval``."""

    name = "restore_job_summaries"

    def __init__(self, target: TargetConfig, api: BackupApi, clock: Callable[[], float]) -> None:
        self.target = target
        self._api = JobSummariesApi(api)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()

    @property
    def view(self) -> JobSummariesView:
        with self._lock:
            return self._state.view

    def due(self, now: float) -> bool:
        """A refresh interval after the last success; after a failure, a minute later."""
        state = self._state
        interval = self.target.restore_job_summaries.refresh_interval_seconds
        if state.failed is not None:
            return now - state.failed >= min(interval, RETRY_AFTER_FAILURE_SECONDS)
        return state.refreshed is None or now - state.refreshed >= interval

    def sync(self, started: float) -> SyncRun | None:
        """A refresh when one is due (None otherwise); AWS trouble comes back as the failure,
        and the last view is kept."""
        with self._lock:
            if not self.due(started):
                return None
        settings = self.target.restore_job_summaries
        try:
            items = list(
                self._api.restore_job_summaries(settings.account_id, settings.aggregation_period)
            )
        except Exception as error:  # any AWS or network failure: report, keep the last view
            with self._lock:
                self._state = replace(self._state, failed=started)
            return SyncRun(self.name, error)
        view = JobSummariesView.from_api(
            self.target.name, self.target.region, settings.aggregation_period, items
        )
        with self._lock:
            self._state = _State(view, refreshed=started)
        return SyncRun(self.name, None)
