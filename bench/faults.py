"""How long a scrape takes while AWS misbehaves: every fault of tests/faulty_proxy.py, a request
held past the deadline, a throttling storm whose backoff outlasts it, and a role that cannot be
assumed, each measured against the scrape deadline.

The fault tests (tests/test_faults.py) check what a scrape shows under each fault and that it
never waits for AWS past its deadline; they do not time anything. This script does: one exporter
(in this process, the stable ``Exporter`` API) with a good target straight on the fake AWS
Backup (exporter/demo/fake_backup, the one the tests and --demo use) and a bad one behind the
faulty proxy; for each fault, the wall time of the first scrape, of the second (the fault still
on) and of the first that shows the bad target up once the fault has cleared, with how the bad
target was shown. It prints a Markdown table and the command that reproduced it, and asserts
nothing about time.

    python bench/faults.py                  # every fault, 5 s deadline (~30 s on 2 cores)
    python bench/faults.py --faults 503,read-timeout --repeat 3
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout: find exporter/, bench/, tests/
    sys.path.insert(0, str(ROOT))

from exporter.config import parse_config  # noqa: E402
from exporter.demo.fake_backup import FakeBackup, generate_jobs  # noqa: E402
from exporter.scheduler import Exporter  # noqa: E402
from tests.faulty_proxy import (  # noqa: E402
    FAULTS,
    HANG,
    STS_ACCESS_DENIED,
    THROTTLED,
    FaultyProxy,
    assume_role_response,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/BackupRestoreReader"


@dataclass
class Case:
    """One way for the bad target to fail: set it up on the proxies, and clear it again."""

    name: str
    start: Callable[[FaultyProxy, FaultyProxy], None]
    clear: Callable[[FaultyProxy, FaultyProxy], None]
    aws: dict[str, object]
    deadline: float | None = None  # None: the --deadline
    role: bool = False


def _fault(name: str) -> Case:
    def start(proxy: FaultyProxy, sts: FaultyProxy) -> None:
        proxy.default = FAULTS[name]

    return Case(name, start, _clear, {"max_attempts": 2, "read_timeout": "1s"})


def _clear(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.default = None


def _held(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.default = HANG


def _release(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.default = None
    proxy.release()


def _storm(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.default = THROTTLED


def _refuse(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.refuse_connections()


def _accept(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    proxy.accept_connections()


def _deny_role(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    sts.default = STS_ACCESS_DENIED


def _allow_role(proxy: FaultyProxy, sts: FaultyProxy) -> None:
    sts.default = assume_role_response("ASIABENCHSESSION0001", expires_in=3600)


def cases(deadline: float) -> list[Case]:
    found = [_fault(name) for name in FAULTS]
    found += [
        Case("connection-refused", _refuse, _accept, {"max_attempts": 2, "read_timeout": "1s"}),
        Case("role-denied", _deny_role, _allow_role, {"max_attempts": 2}, role=True),
        Case(
            "held-past-deadline (1s)",
            _held,
            _release,
            {"max_attempts": 2, "read_timeout": "60s"},
            deadline=1.0,
        ),
        Case("storm-past-deadline (1s)", _storm, _clear, {"max_attempts": 4}, deadline=1.0),
    ]
    return found


@contextmanager
def exporter_for(
    case: Case, backup: str, proxy: FaultyProxy, sts: FaultyProxy, deadline: float
) -> Iterator[Exporter]:
    bad: dict[str, object] = {"name": "bad", "region": "us-east-1", "endpoint_url": proxy.url}
    if case.role:
        bad.update(role_arn=ROLE_ARN, sts_endpoint_url=sts.url)
    config = {
        "targets": [{"name": "good", "region": "us-east-1", "endpoint_url": backup}, bad],
        "aws": {"connect_timeout": "1s", **case.aws},
        "sync": {"deadline": f"{case.deadline or deadline:g}s"},
    }
    exporter = Exporter(parse_config(config))
    try:
        yield exporter
    finally:
        exporter.close()


def timed(exporter: Exporter) -> tuple[float, str]:
    started = time.perf_counter()
    scrape = exporter.scrape()
    seconds = time.perf_counter() - started
    bad = next(h for h in scrape.health if h.name == "bad")
    return seconds, "up" if bad.up else str(bad.down_reason)


@dataclass
class Row:
    case: str
    deadline: float
    first: list[float]
    second: list[float]
    recovered: list[float]
    during: set[str]  # how the bad target was shown while the fault was on
    after: set[str]  # and once it had cleared


def measure(case: Case, backup: str, deadline: float, repeat: int) -> Row:
    row = Row(case.name, case.deadline or deadline, [], [], [], set(), set())
    for _ in range(repeat):
        proxy, sts = FaultyProxy(backup), FaultyProxy(backup)
        _allow_role(proxy, sts)
        try:
            case.start(proxy, sts)
            with exporter_for(case, backup, proxy, sts, deadline) as exporter:
                for into in (row.first, row.second):
                    seconds, reason = timed(exporter)
                    into.append(seconds)
                    row.during.add(reason)
                case.clear(proxy, sts)
                seconds, reason = _until_up(exporter)
                row.recovered.append(seconds)
                row.after.add(reason)
        finally:
            proxy.close()
            sts.close()
    return row


def _until_up(exporter: Exporter, attempts: int = 20) -> tuple[float, str]:
    """The first scrape after the fault cleared that shows the bad target up (a sync begun
    during the fault, a held request's or a storm's, may still be running at the first one)."""
    for _ in range(attempts):
        seconds, reason = timed(exporter)
        if reason == "up":
            return seconds, reason
    return seconds, reason


def _figure(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadline", type=float, default=5.0, help="sync.deadline, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (median shown)")
    parser.add_argument("--faults", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--jobs", type=int, default=20, help="jobs on the fake AWS Backup")
    args = parser.parse_args(argv)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    logging.getLogger("exporter").setLevel(logging.ERROR)  # the faults' warnings are expected
    wanted = {name for name in args.faults.split(",") if name}
    selected = [c for c in cases(args.deadline) if not wanted or c.name.split(" ")[0] in wanted]
    fake = FakeBackup()
    fake.reset(generate_jobs(args.jobs))
    rows = []
    with fake.serving() as backup:
        for case in selected:
            print(f"measuring {case.name} ...", file=sys.stderr, flush=True)
            rows.append(measure(case, backup, args.deadline, args.repeat))
    print(f"# Scrape wall time under AWS faults ({platform.node()}, {os.cpu_count()} CPUs)\n")
    print(
        "Seconds per scrape (median, and range over --repeat runs), the first two with the fault"
        " on; how /metrics showed the bad target. The good target's first sync is in the first"
        " scrape's time.\n"
    )
    print("| fault | deadline s | 1st scrape s | 2nd scrape s | after it clears s | shown as |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(
            f"| {row.case} | {row.deadline:g} | {_figure(row.first)} | {_figure(row.second)} "
            f"| {_figure(row.recovered)} | {'/'.join(sorted(row.during))} "
            f"then {'/'.join(sorted(row.after))} |"
        )
    command = shlex.join(
        ["python", "bench/faults.py", *(argv if argv is not None else sys.argv[1:])]
    )
    print(f"\nReproduce with: `{command}`")


if __name__ == "__main__":
    main()
