"""When a restore testing plan's schedule says it should have started, and when it will next.

AWS writes schedules as ``cron(minutes hours day-of-month month day-of-week year)``, with ``?``,
``L``, ``W`` and ``#``, in the plan's IANA time zone (UTC by default). pyawscron understands
that syntax but works on UTC wall clocks only, so the plan's zone is handled here: the cron runs
on the zone's local wall clock, and each local start is then placed on the real time line.

Daylight-saving changes, as zoneinfo resolves them (fold=0): a start in the hour that does not
exist (spring forward) happens one hour later on the wall clock, at the same instant the old
offset names; a start in the hour that happens twice (fall back) happens once, the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyawscron import AWSCron

_CRON = re.compile(r"^\s*cron\((?P<fields>[^)]*)\)\s*$")
DEFAULT_EXPRESSION = "cron(0 5 ? * * *)"  # AWS's default for a plan without one
_MINUTE = timedelta(minutes=1)


class ScheduleError(ValueError):
    """An expression or time zone this exporter cannot evaluate."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule in its zone."""

    cron: AWSCron
    zone: ZoneInfo

    def last_start(self, now: float) -> float | None:
        """The latest start at or before ``now`` (Unix seconds); None if there never was one."""
        local = _wall_clock(now, self.zone)
        # pyawscron's prev() skips a start in the current minute: ask from the next minute.
        start = self.cron.occurrence(local.replace(second=0, microsecond=0) + _MINUTE).prev()
        if start is None:
            return None
        instant = _instant(start, self.zone)
        if instant > now:  # the wall clock's start maps past now across a DST change
            start = self.cron.occurrence(start).prev()
            return None if start is None else _instant(start, self.zone)
        return instant

    def next_start(self, now: float) -> float | None:
        """The first start after ``now``; None if the schedule has no more (a past year)."""
        start = self.cron.occurrence(_wall_clock(now, self.zone)).next()
        while start is not None and _instant(start, self.zone) <= now:
            start = self.cron.occurrence(start).next()  # across a DST change
        return None if start is None else _instant(start, self.zone)


def _wall_clock(now: float, zone: ZoneInfo) -> datetime:
    """``now`` as the zone's wall clock, dressed as UTC for pyawscron."""
    return datetime.fromtimestamp(now, zone).replace(tzinfo=UTC)


def _instant(wall: datetime, zone: ZoneInfo) -> float:
    """A wall-clock time of the zone (dressed as UTC) as Unix seconds."""
    return wall.replace(tzinfo=zone, fold=0).timestamp()


@lru_cache(maxsize=1024)
def parse_schedule(expression: str | None, timezone: str | None) -> Schedule:
    """The schedule of a plan; ScheduleError for what AWS would not accept or we cannot read."""
    match = _CRON.match(expression or DEFAULT_EXPRESSION)
    if match is None:
        raise ScheduleError(f"not a cron(...) expression: {expression!r}")
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown time zone {timezone!r}") from error
    try:
        cron = AWSCron(match["fields"].strip())
    except Exception as error:  # pyawscron raises bare ValueError/IndexError/Exception
        raise ScheduleError(f"cannot read {expression!r}: {error}") from error
    return Schedule(cron, zone)
