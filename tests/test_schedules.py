"""Restore testing schedules: AWS's own cron examples, time zones, daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exporter.schedules import ScheduleError, parse_schedule
from tests.tables import cases


def at(text: str) -> float:
    """An ISO time (with its offset) as Unix seconds."""
    return datetime.fromisoformat(text).timestamp()


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


NOW = "2026-12-01T13:00:00+00:00"  # a Tuesday

# AWS's documented examples (EventBridge cron expressions, which restore testing uses), and the
# restore testing default. Each: expression, zone, now -> last start, next start (UTC).
EXAMPLES = {
    "the default: 05:00 UTC daily": (
        "cron(0 5 ? * * *)", None, NOW,
        "2026-12-01T05:00:00+00:00", "2026-12-02T05:00:00+00:00"),
    "10:15 every day": (
        "cron(15 10 * * ? *)", None, NOW,
        "2026-12-01T10:15:00+00:00", "2026-12-02T10:15:00+00:00"),
    "18:00 Monday to Friday": (
        "cron(0 18 ? * MON-FRI *)", None, NOW,
        "2026-11-30T18:00:00+00:00", "2026-12-01T18:00:00+00:00"),
    "08:00 on the first day of every month": (
        "cron(0 8 1 * ? *)", None, NOW,
        "2026-12-01T08:00:00+00:00", "2027-01-01T08:00:00+00:00"),
    "every 10 minutes on weekdays": (
        "cron(0/10 * ? * MON-FRI *)", None, "2026-12-01T13:05:00+00:00",
        "2026-12-01T13:00:00+00:00", "2026-12-01T13:10:00+00:00"),
    "every 5 minutes from 08:00 to 17:55 on weekdays": (
        "cron(0/5 8-17 ? * MON-FRI *)", None, "2026-12-01T18:30:00+00:00",
        "2026-12-01T17:55:00+00:00", "2026-12-02T08:00:00+00:00"),
    "09:00 on the first Monday of each month (#)": (
        "cron(0 9 ? * 2#1 *)", None, NOW,
        "2026-11-02T09:00:00+00:00", "2026-12-07T09:00:00+00:00"),
    "the last day of the month (L)": (
        "cron(0 0 L * ? *)", None, NOW,
        "2026-11-30T00:00:00+00:00", "2026-12-31T00:00:00+00:00"),
    "the weekday nearest the 1st (W)": (
        "cron(0 8 1W * ? *)", None, NOW,
        "2026-12-01T08:00:00+00:00", "2027-01-01T08:00:00+00:00"),
    "the last Friday of each month (6L)": (
        "cron(0 10 ? * 6L *)", None, NOW,
        "2026-11-27T10:00:00+00:00", "2026-12-25T10:00:00+00:00"),
    "a start exactly now is the last one, not the next": (
        "cron(0 13 ? * * *)", None, NOW,
        "2026-12-01T13:00:00+00:00", "2026-12-02T13:00:00+00:00"),
    "a year in the past: no more starts": (
        "cron(0 10 * * ? 2020)", None, NOW, "2020-12-31T10:00:00+00:00", None),
    "a time zone east of UTC": (
        "cron(0 5 ? * * *)", "Asia/Kolkata", NOW,
        "2026-11-30T23:30:00+00:00", "2026-12-01T23:30:00+00:00"),
    "a time zone west of UTC, in winter": (
        "cron(0 5 ? * * *)", "America/New_York", NOW,
        "2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00"),
    "New York, across the spring change: 05:00 local moves from 10:00 to 09:00 UTC": (
        "cron(0 5 ? * * *)", "America/New_York", "2026-03-08T12:00:00+00:00",
        "2026-03-08T09:00:00+00:00", "2026-03-09T09:00:00+00:00"),
    "New York, the day before the spring change": (
        "cron(0 5 ? * * *)", "America/New_York", "2026-03-07T12:00:00+00:00",
        "2026-03-07T10:00:00+00:00", "2026-03-08T09:00:00+00:00"),
    "02:30 local does not exist on the spring change: it runs at 03:30 EDT (07:30 UTC)": (
        "cron(30 2 ? * * *)", "America/New_York", "2026-03-08T05:00:00+00:00",
        "2026-03-07T07:30:00+00:00", "2026-03-08T07:30:00+00:00"),
    "01:30 local happens twice on the autumn change: it runs once, the first time": (
        "cron(30 1 ? * * *)", "America/New_York", "2026-11-01T05:45:00+00:00",
        "2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"),
    "Berlin in summer (UTC+2)": (
        "cron(0 5 ? * * *)", "Europe/Berlin", "2026-07-01T12:00:00+00:00",
        "2026-07-01T03:00:00+00:00", "2026-07-02T03:00:00+00:00"),
}  # fmt: skip


@cases(("expression", "zone", "now", "last", "next_"), EXAMPLES)
def test_scheduled_starts(expression, zone, now, last, next_):
    schedule = parse_schedule(expression, zone)
    assert iso(schedule.last_start(at(now))) == last
    assert iso(schedule.next_start(at(now))) == next_


def test_no_expression_means_the_aws_default_in_utc():
    schedule = parse_schedule(None, None)
    assert iso(schedule.next_start(at(NOW))) == "2026-12-02T05:00:00+00:00"


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("rate(1 day)", None),
        ("cron(0 5 ? * *)", None),  # five fields: Unix cron, not AWS's
        ("cron(bogus)", None),
        ("cron(0 5 ? * * *)", "Mars/Olympus_Mons"),
        ("cron(0 5 ? * * *)", "../../etc/passwd"),
    ],
)
def test_what_cannot_be_evaluated_is_a_schedule_error(expression, zone):
    with pytest.raises(ScheduleError):
        parse_schedule(expression, zone)
