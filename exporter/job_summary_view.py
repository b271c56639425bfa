"""AWS's restore job summaries (ListRestoreJobSummaries) as a scrape shows them: the counts of the
most recent period AWS returned, parsed once.

AWS computes the summaries once a day, and they lag: with ``ONE_DAY`` they are daily counts for
each of the prior 14 days (the current day is not among them), with ``SEVEN_DAYS`` and
``FOURTEEN_DAYS`` one count over the period. Only the latest period is exposed: the others are
history Prometheus already holds. AWS lists only non-zero counts, so a combination (account,
region, resource type, state) that AWS listed for an earlier day of the answer but not for the
latest one is exposed as 0 rather than left to vanish; one that AWS never listed is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from exporter.model import non_negative, text, timestamp

CountKey = tuple[str, str, str, str]  # account ID, region, resource type, state


@dataclass(frozen=True)
class SummaryCount:
    account_id: str
    region: str
    resource_type: str
    state: str
    jobs: float


@dataclass(frozen=True)
class JobSummariesView:
    """A target's latest restore job summaries; empty until the first successful refresh."""

    target: str = ""
    aggregation_period: str = ""
    period_start: float | None = None  # StartTime of the latest period AWS returned
    period_end: float | None = None
    counts: tuple[SummaryCount, ...] = ()

    @classmethod
    def from_api(
        cls, target: str, region: str, period: str, items: Iterable[Mapping[str, object]]
    ) -> JobSummariesView:
        """The view of every summary AWS returned for one query (members it cannot read are
        skipped: a summary without a Count says nothing)."""
        per_period: dict[tuple[float, float], dict[CountKey, float]] = {}
        seen: set[CountKey] = set()
        for item in items:
            jobs = non_negative(item.get("Count"))
            if jobs is None:
                continue
            key = (
                text(item.get("AccountId")),
                text(item.get("Region")) or region,
                text(item.get("ResourceType")),
                text(item.get("State")),
            )
            start = timestamp(item.get("StartTime"))
            end = timestamp(item.get("EndTime"))
            span = (start if start is not None else 0.0, end if end is not None else 0.0)
            counts = per_period.setdefault(span, {})
            counts[key] = counts.get(key, 0.0) + jobs
            seen.add(key)
        if not per_period:
            return cls(target, period)
        latest = max(per_period)
        counts = per_period[latest]
        return cls(
            target,
            period,
            latest[0] or None,
            latest[1] or None,
            tuple(SummaryCount(*key, counts.get(key, 0.0)) for key in sorted(seen)),
        )
