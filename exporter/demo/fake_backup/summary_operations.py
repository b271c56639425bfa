"""ListRestoreJobSummaries: job counts per account, region, state, resource type and period,
computed from the store's restore jobs as AWS documents the operation.

- **Periods.** AWS computes the summaries once a day, so the current (UTC) day is never in
  them. ``ONE_DAY``: one period per day of the prior 14 days (midnight to midnight, UTC);
  ``SEVEN_DAYS`` and ``FOURTEEN_DAYS``: one period, the prior 7 or 14 days, up to today's
  midnight. A job counts in the period its CreationDate falls in, under its current Status
  (and ResourceType; a job without one is counted with no ResourceType). Only non-zero counts
  are listed, as AWS lists them.
- **Who sees what.** ``AccountId`` absent or the caller's own ID: the caller's jobs. ``ANY``
  (every account, one count each), ``AGGREGATE_ALL`` (their sum, with no AccountId in the
  summary) or another account's ID: only for the organisation's management account and its
  delegated administrators (``administrators``; by default the fake's default account), which
  see every account the store holds; any other caller gets AccessDeniedException. AWS's page
  says a member account's request "returns jobs within the requestor's account"; the fake
  refuses a member that asks for more rather than silently answering with less, so a client's
  configuration mistake shows. The model's pattern for ``AccountId`` refuses ``ANY`` and
  ``AGGREGATE_ALL``; its documentation allows them, and so does the fake (``documented``).
  Counts are of the caller's region: AWS Backup's endpoints are regional.
- **Filters.** ``State`` and ``ResourceType``: a value keeps the jobs that have it; ``ANY`` (or
  absent) counts each value apart; ``AGGREGATE_ALL`` sums them (and names the member so).
- **Pages.** ``MaxResults`` 1..500, as AWS's page says (the model allows up to 1000: the fake
  refuses 501..1000 with InvalidParameterValueException); the default is 500. NextToken is
  a cursor good only for the query that issued it. AWS may answer a page with no summaries and
  a NextToken before the end; ``empty_pages`` makes the fake do that before every page.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.operations import Call, Handler, Output
from exporter.demo.fake_backup.query import BadTokenError, decode_token, encode_token, fingerprint
from exporter.demo.fake_backup.sigv4 import DEFAULT_ACCOUNT_ID
from exporter.demo.fake_backup.store import RestoreJobStore

MAX_RESULTS = 500  # AWS's page: "Range of accepted values is from 1 to 500"
PERIOD_DAYS = {"ONE_DAY": 1, "SEVEN_DAYS": 7, "FOURTEEN_DAYS": 14}
DAYS_SUMMARISED = 14
ALL = "AGGREGATE_ALL"
Period = tuple[datetime, datetime]
Key = tuple[str | None, str, str | None, str | None, Period]  # account, region, state, type


def periods(name: str, now: float) -> list[Period]:
    """The periods of an aggregation period at ``now``, newest first."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = PERIOD_DAYS[name]
    if days > 1:
        return [(today - timedelta(days=days), today)]
    return [
        (today - timedelta(days=n + 1), today - timedelta(days=n)) for n in range(DAYS_SUMMARISED)
    ]


def _grouped(value: str | None, wanted: str | None) -> tuple[bool, str | None]:
    """Whether a job with ``value`` passes the filter ``wanted``, and the value it counts as."""
    if wanted in (None, "ANY"):
        return True, value
    if wanted == ALL:
        return True, ALL
    return value == wanted, value


def _newest_first(item: tuple[Key, int]) -> tuple[float, str, str, str, str]:
    (account, region, state, kind, period), _ = item
    return -period[0].timestamp(), account or "", region, state or "", kind or ""


class RestoreJobSummaryOperations:
    """The ListRestoreJobSummaries handler over one store (see the module docstring)."""

    def __init__(
        self,
        store: RestoreJobStore,
        administrators: Iterable[str] = (DEFAULT_ACCOUNT_ID,),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._defaults = (frozenset(administrators), clock)
        self.reset()

    def reset(self) -> None:
        """Back to the settings it was made with, and no empty pages."""
        administrators, self.clock = self._defaults
        self.administrators = set(administrators)  # management and delegated administrators
        self.empty_pages = 0  # empty pages (with a NextToken) sent before each page

    def handlers(self) -> dict[str, Handler]:
        return {"ListRestoreJobSummaries": self.list_restore_job_summaries}

    def _accounts(self, call: Call) -> list[str]:
        """Whose jobs the call may count (AccessDeniedException if it may not)."""
        own, wanted = call.caller.account_id, call.params.get("AccountId")
        if wanted in (None, own):
            return [own]
        if own not in self.administrators:
            raise ApiError(
                "AccessDeniedException",
                f"Account {own} is not the management account or a delegated administrator "
                f"of its organization: it cannot list the job summaries of {wanted}",
            )
        if wanted in ("ANY", ALL):
            return sorted({account for account, _ in self.store.places()} | {own})
        return [str(wanted)]

    def summaries(self, call: Call) -> list[dict[str, Any]]:
        """Every summary the call's filters select, newest period first."""
        params, region = call.params, call.caller.region
        spans = periods(params.get("AggregationPeriod", "ONE_DAY"), self.clock())
        counts: Counter[Key] = Counter()
        for account in self._accounts(call):
            for job in self.store.jobs(account, region):
                period = next((p for p in spans if p[0] <= job["CreationDate"] < p[1]), None)
                state_ok, state = _grouped(job["Status"], params.get("State"))
                type_ok, kind = _grouped(job.get("ResourceType"), params.get("ResourceType"))
                if period is not None and state_ok and type_ok:
                    owner = None if params.get("AccountId") == ALL else account
                    counts[(owner, region, state, kind, period)] += 1
        ordered = sorted(counts.items(), key=_newest_first)
        return [
            {"Region": r, "AccountId": a, "State": s, "ResourceType": t, "Count": n,
             "StartTime": p[0], "EndTime": p[1]}
            for (a, r, s, t, p), n in ordered
        ]  # fmt: skip

    def list_restore_job_summaries(self, call: Call) -> Output:
        params, who = call.params, call.caller
        limit = params.get("MaxResults", MAX_RESULTS)
        if limit > MAX_RESULTS:
            raise ApiError(
                "InvalidParameterValueException",
                f"MaxResults {limit} is outside the accepted range 1 to {MAX_RESULTS}",
            )
        filters = {k: params.get(k) for k in ("AccountId", "State", "ResourceType")}
        filters["AggregationPeriod"] = params.get("AggregationPeriod", "ONE_DAY")
        query = fingerprint(who.account_id, who.region, filters)
        token = params.get("NextToken")
        try:
            offset, sent = (0, "0") if token is None else decode_token(token, query)
            empties = int(sent)
        except (BadTokenError, ValueError) as error:
            raise ApiError(
                "InvalidParameterValueException", f"Invalid NextToken: {error}"
            ) from None
        found = self.summaries(call)
        output: dict[str, Any] = {"AggregationPeriod": filters["AggregationPeriod"]}
        if empties < self.empty_pages and offset < len(found):
            output["RestoreJobSummaries"] = []
            output["NextToken"] = encode_token((offset, str(empties + 1)), query)
            return output
        page = found[offset : offset + limit]
        output["RestoreJobSummaries"] = [
            {k: v for k, v in s.items() if v is not None} for s in page
        ]
        if offset + limit < len(found):
            output["NextToken"] = encode_token((offset + limit, "0"), query)
        return output
