"""Scale and API economy: this exporter against a naive one, on a fake AWS Backup with latency.

For each number of jobs, each exporter runs in its own process (so that its peak RSS is its own)
against the same fake AWS Backup (exporter/demo/fake_backup, the one the tests and --demo use; in
this process, 127.0.0.1 only) holding the same seeded jobs, and is scraped over HTTP the way
Prometheus scrapes (OpenMetrics Accept header, gzip). Between scrapes the fake moves jobs along
(``tick``: progress, completions, new jobs), as AWS would between two real scrapes. Measured,
per exporter and size:

- API requests of the cold (first) scrape and of each warm scrape, counted at the fake;
- wall time of the cold scrape (median over ``--cold-runs`` fresh processes) and of the warm
  scrapes (median of ``--warm``), from sending the request to having read the whole body;
- peak RSS of the exporter's process (VmHWM, from /proc/<pid>/status): after the cold scrape,
  after the warm ones, and after ``--concurrency`` scrapes at once (warm and cold, below);
- concurrency: ``--concurrency`` scrapes sent at once while the sync of a first scrape is in
  flight (warm), and as the very first scrapes of a fresh process (cold): their API requests,
  against those of one scrape, how many different bodies they got (1: one shared render) and
  the peak RSS they took the process to.

It prints Markdown tables to paste into the README, the targets of the "Scale and API economy"
issue with whether they are met, and the command that reproduces them::

    python bench/scale.py                      # 100, 1,000 and 10,000 jobs (a few minutes)
    python bench/scale.py --sizes 100,1000     # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: find exporter/ and bench/
    sys.path.insert(0, str(ROOT))

from exporter.demo.fake_backup import FakeBackup, generate_jobs  # noqa: E402
from tests.network import inflate  # noqa: E402
from tests.offline_aws import PROMETHEUS_ACCEPT, offline_environ  # noqa: E402
from tests.processes import terminate  # noqa: E402

KINDS = ("exporter", "naive")
LABELS = {"exporter": "this exporter", "naive": "naive"}
SCRAPE_TIMEOUT = 120.0
_SAMPLE = re.compile(rb"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^\n]*\})? (\S+)", re.MULTILINE)


# -- the process under test ----------------------------------------------------------------


def run_worker(kind: str, endpoint: str) -> None:
    """Serve one exporter on 127.0.0.1 (a free port); print the port; serve until killed."""
    from exporter.http import make_http_server

    if kind == "exporter":
        from exporter.config import parse_config
        from exporter.http import MetricsApp
        from exporter.scheduler import Exporter

        config = parse_config(
            {"targets": [{"name": "bench", "region": "us-east-1", "endpoint_url": endpoint}]}
        )
        app: Any = MetricsApp(Exporter(config))
    else:
        from bench.naive_exporter import make_app

        app = make_app(endpoint)
    server = make_http_server(app, "127.0.0.1:0")
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


class Worker:
    """An exporter process started by this script (and only ever stopped by its own pid)."""

    def __init__(self, kind: str, endpoint: str) -> None:
        env = offline_environ(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                kind,
                "--endpoint",
                endpoint,
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            self.stop()
            raise RuntimeError(f"{kind} worker did not start: {line}")
        self.url = f"http://127.0.0.1:{line[1]}/metrics"

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        assert match is not None
        return int(match.group(1)) / 1024

    def stop(self) -> None:
        terminate(self.process, timeout=10)


# -- scraping ------------------------------------------------------------------------------


@dataclass
class ScrapeResult:
    seconds: float
    requests: int
    body: bytes = field(repr=False)


def fetch(url: str, decompress: bool = True) -> tuple[float, bytes]:
    """One scrape as Prometheus does it; (wall seconds, body: uncompressed unless asked not)."""
    request = urllib.request.Request(
        url,
        headers={
            "Accept": PROMETHEUS_ACCEPT,
            "Accept-Encoding": "gzip",
            "User-Agent": "Prometheus/2.42",
        },
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=SCRAPE_TIMEOUT) as response:
        raw = response.read()
        encoding = response.headers.get("Content-Encoding")
    seconds = time.perf_counter() - started
    return seconds, inflate(raw) if encoding == "gzip" and decompress else raw


def scrape(fake: FakeBackup, url: str) -> ScrapeResult:
    before = fake.requests()
    seconds, body = fetch(url)
    return ScrapeResult(seconds, fake.requests() - before, body)


def _unzipped(body: bytes) -> bytes:
    return inflate(body) if body.startswith(b"\x1f\x8b") else body


@dataclass
class Concurrent:
    requests: int  # API requests of all of them
    slowest: float  # wall seconds
    bodies: int  # different bodies among the ``count`` sent together
    jobs_exposed: int  # the fewest jobs any of those bodies exposed


def concurrent_scrapes(fake: FakeBackup, url: str, count: int, lead: bool) -> Concurrent:
    """``count`` scrapes at once; with ``lead``, sent while the sync of a first scrape is in
    flight (seen at the fake)."""
    before = fake.requests()
    times: list[float] = []
    distinct: dict[bytes, bytes] = {}  # digest -> body as sent (gzipped)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(barrier: threading.Barrier | None) -> None:
        if barrier is not None:
            barrier.wait(timeout=30)
        try:
            seconds, body = fetch(url, decompress=False)
        except Exception as error:  # reported below, never hidden
            with lock:
                errors.append(error)
            return
        with lock:
            times.append(seconds)
            if barrier is not None:
                distinct.setdefault(hashlib.sha256(body).digest(), body)

    threads: list[threading.Thread] = []
    if lead:
        threads.append(threading.Thread(target=one, args=(None,)))
        threads[0].start()
        deadline = time.monotonic() + 30
        while fake.requests() == before and time.monotonic() < deadline:
            time.sleep(0.001)
    barrier = threading.Barrier(count)
    group = [threading.Thread(target=one, args=(barrier,)) for _ in range(count)]
    for thread in group:
        thread.start()
    for thread in threads + group:
        thread.join(timeout=SCRAPE_TIMEOUT * 2)
    if errors:
        raise RuntimeError(f"{len(errors)} concurrent scrapes failed: {errors[0]!r}")
    exposed = min(
        int(samples(_unzipped(body)).get("aws_backup_restore_job_info", 0))
        for body in distinct.values()
    )
    return Concurrent(fake.requests() - before, max(times), len(distinct), exposed)


def samples(body: bytes) -> dict[str, float]:
    """Sum of sample values per metric name (enough for the checks below)."""
    sums: dict[str, float] = {}
    for match in _SAMPLE.finditer(body):
        name = match.group(1).decode()
        sums[name] = sums.get(name, 0.0) + float(match.group(3))
    return sums


def series_count(body: bytes) -> int:
    """Series about jobs (per job and the aggregate): what both exporters expose."""
    return sum(1 for line in body.splitlines() if line.startswith(b"aws_backup_restore_job"))


# -- one exporter at one size --------------------------------------------------------------


@dataclass
class Figures:
    kind: str
    jobs: int
    cold_requests: int = 0
    cold_requests_by_operation: dict[str, int] = field(default_factory=dict)
    cold_seconds: list[float] = field(default_factory=list)
    warm_requests: list[int] = field(default_factory=list)
    warm_seconds: list[float] = field(default_factory=list)
    warm_sync_seconds: list[float] = field(default_factory=list)  # of which waiting for AWS
    warm_describes: int = 0
    peak_rss_cold_mb: float = 0.0  # after the cold scrape
    peak_rss_mb: float = 0.0  # after the cold and warm scrapes, one at a time
    peak_rss_concurrent_mb: float = 0.0  # after the warm concurrent scrapes too
    peak_rss_concurrent_cold_mb: float = 0.0  # a fresh process after its cold concurrent ones
    one_scrape_requests: float = 0.0
    concurrent_warm_requests: int = -1  # -1: not run
    concurrent_warm_seconds: float = 0.0
    concurrent_warm_bodies: int = 0
    concurrent_warm_jobs_exposed: int = 0
    concurrent_cold_requests: int = -1
    concurrent_cold_seconds: float = 0.0
    concurrent_cold_bodies: int = 0
    concurrent_cold_jobs_exposed: int = 0
    series: int = 0
    jobs_exposed: int = 0
    cold_jobs_exposed: int = 0
    body_bytes: int = 0
    self_counted_requests: int | None = None  # the exporter's own api_requests_total
    fake_counted_requests: int = 0

    @property
    def cold_median(self) -> float:
        return statistics.median(self.cold_seconds)

    @property
    def warm_median(self) -> float:
        return statistics.median(self.warm_seconds)

    @property
    def warm_requests_median(self) -> float:
        return statistics.median(self.warm_requests)


def measure(
    kind: str,
    jobs: int,
    fake: FakeBackup,
    endpoint: str,
    args: argparse.Namespace,
    progress: Callable[[str], None],
) -> Figures:
    figures = Figures(kind, jobs)
    # The naive exporter's concurrent scrapes each list and format everything: at 10,000 jobs
    # that is minutes of CPU and gigabytes, for figures one can work out (pages x scrapes).
    concurrency = kind == "exporter" or jobs <= args.naive_concurrency_max

    def fresh_worker() -> Worker:
        fake.reset(
            generate_jobs(jobs, seed=args.seed, cleanup_after_seconds=args.cleanup_hours * 3600),
            seed=args.seed,
        )
        return Worker(kind, endpoint)

    # Run 1: cold, warm scrapes, then warm concurrency; peak RSS at the end.
    worker = fresh_worker()
    try:
        counts_before = fake.counts()
        cold = scrape(fake, worker.url)
        figures.cold_requests = cold.requests
        figures.cold_requests_by_operation = {
            op: n - counts_before.get(op, 0) for op, n in fake.counts().items()
        }
        figures.cold_seconds.append(cold.seconds)
        figures.peak_rss_cold_mb = worker.peak_rss_mb()
        figures.cold_jobs_exposed = int(samples(cold.body).get("aws_backup_restore_job_info", 0))
        last = cold
        for _ in range(args.warm):
            time.sleep(args.gap)  # scrapes are seconds apart in real life; rate limits agree
            fake.tick(new_jobs=args.new_jobs)
            describes = fake.requests("DescribeRestoreJob")
            last = scrape(fake, worker.url)
            figures.warm_describes += fake.requests("DescribeRestoreJob") - describes
            figures.warm_requests.append(last.requests)
            figures.warm_seconds.append(last.seconds)
            if kind == "exporter":  # the exporter's own figure for its wait on the sync
                figures.warm_sync_seconds.append(
                    samples(last.body)["aws_backup_restore_exporter_scrape_duration_seconds"]
                )
        figures.series = series_count(last.body)
        figures.body_bytes = len(last.body)
        sums = samples(last.body)
        figures.jobs_exposed = int(sums.get("aws_backup_restore_job_info", 0))
        figures.fake_counted_requests = fake.requests()
        if kind == "exporter":
            figures.self_counted_requests = int(
                sums.get("aws_backup_restore_exporter_api_requests_total", -1)
            )
        figures.one_scrape_requests = figures.warm_requests_median
        figures.peak_rss_mb = worker.peak_rss_mb()
        if concurrency:
            time.sleep(args.gap)
            fake.tick(new_jobs=args.new_jobs)
            warm = concurrent_scrapes(fake, worker.url, args.concurrency, lead=True)
            figures.concurrent_warm_requests = warm.requests
            figures.concurrent_warm_seconds = warm.slowest
            figures.concurrent_warm_bodies = warm.bodies
            figures.concurrent_warm_jobs_exposed = warm.jobs_exposed
            figures.peak_rss_concurrent_mb = worker.peak_rss_mb()
    finally:
        worker.stop()
    progress(
        f"{kind} {jobs}: cold {cold.seconds:.3f}s/{cold.requests} req, warm median "
        f"{figures.warm_median:.3f}s/{figures.warm_requests_median:g} req, "
        f"peak RSS {figures.peak_rss_cold_mb:.0f} MB cold, {figures.peak_rss_mb:.0f} MB warm, "
        f"{figures.peak_rss_concurrent_mb:.0f} MB {args.concurrency} at once"
    )

    # More cold starts, for a median.
    for _ in range(args.cold_runs - 1):
        worker = fresh_worker()
        try:
            figures.cold_seconds.append(scrape(fake, worker.url).seconds)
        finally:
            worker.stop()

    # Cold concurrency: a fresh process, its very first scrapes all at once.
    if concurrency:
        worker = fresh_worker()
        try:
            cold_at_once = concurrent_scrapes(fake, worker.url, args.concurrency, lead=False)
            figures.concurrent_cold_requests = cold_at_once.requests
            figures.concurrent_cold_seconds = cold_at_once.slowest
            figures.concurrent_cold_bodies = cold_at_once.bodies
            figures.concurrent_cold_jobs_exposed = cold_at_once.jobs_exposed
            figures.peak_rss_concurrent_cold_mb = worker.peak_rss_mb()
        finally:
            worker.stop()
    return figures


# -- report --------------------------------------------------------------------------------


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def _mb(value: float) -> str:
    return f"{value:.0f}" if value else "-"


def tables(results: list[Figures], args: argparse.Namespace) -> str:
    by = {(f.kind, f.jobs): f for f in results}
    sizes = sorted({f.jobs for f in results})
    out = [
        f"API requests and wall time per scrape, {args.latency * 1000:g} ms per AWS request, "
        f"restore tests cleaned up {args.cleanup_hours:g} h after they complete; "
        f"cold = first scrape of a fresh process (median of {args.cold_runs}), "
        f"warm = later scrapes (median of {args.warm}); peak RSS (VmHWM) of the process after "
        f"its cold scrape, after its {args.warm} warm ones, and after {args.concurrency} warm "
        "scrapes at once (below).",
        "",
        "| jobs | exporter | requests, cold | requests, warm | cold scrape (s) | "
        "warm scrape (s) | peak RSS, cold (MB) | peak RSS, warm (MB) | "
        f"peak RSS, {args.concurrency} at once (MB) | series |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        ours, naive = by[("exporter", size)], by[("naive", size)]
        for f in (ours, naive):
            ops = f.cold_requests_by_operation
            detail = (
                f" ({ops.get('ListRestoreJobs', 0)} list, "
                f"{ops.get('DescribeRestoreJob', 0)} describe)"
            )
            warm = f"{f.warm_requests_median:g}"
            if max(f.warm_requests) != min(f.warm_requests):
                warm += f" ({min(f.warm_requests)}-{max(f.warm_requests)})"
            out.append(
                f"| {size:,} | {LABELS[f.kind]} | {f.cold_requests}{detail} | {warm} | "
                f"{f.cold_median:.3f} | {f.warm_median:.3f} | {_mb(f.peak_rss_cold_mb)} | "
                f"{_mb(f.peak_rss_mb)} | {_mb(f.peak_rss_concurrent_mb)} | {f.series:,} |"
            )
        out.append(
            f"| {size:,} | ratio | {_ratio(ours.cold_requests, naive.cold_requests)} | "
            f"{_ratio(ours.warm_requests_median, naive.warm_requests_median)} | "
            f"{_ratio(ours.cold_median, naive.cold_median)} | "
            f"{_ratio(ours.warm_median, naive.warm_median)} | "
            f"{_ratio(ours.peak_rss_cold_mb, naive.peak_rss_cold_mb)} | "
            f"{_ratio(ours.peak_rss_mb, naive.peak_rss_mb)} | "
            f"{_ratio(ours.peak_rss_concurrent_mb, naive.peak_rss_concurrent_mb)} | |"
        )
    out += ["", "Where this exporter's warm scrape goes (medians):", ""]
    for size in sizes:
        f = by[("exporter", size)]
        sync = statistics.median(f.warm_sync_seconds)
        out.append(
            f"- {size:,} jobs: {sync:.3f}s waiting for the sync (its own scrape_duration_seconds), "
            f"{f.warm_median - sync:.3f}s rendering, compressing and sending "
            f"{f.body_bytes / 1e6:.1f} MB (before gzip)"
        )
    out += [
        "",
        f"{args.concurrency} scrapes at once: warm = sent while the sync of one more scrape is "
        f"in flight (requests of all {args.concurrency + 1}); cold = the first "
        f"{args.concurrency} scrapes of a fresh process. Bodies: how many different bodies "
        f"the {args.concurrency} got (1: one shared render). Peak RSS of the process after them.",
        "",
        "| jobs | exporter | requests, one warm scrape | requests, "
        f"{args.concurrency} warm at once | slowest of them (s) | bodies | peak RSS (MB) | "
        f"requests, one cold scrape | requests, {args.concurrency} cold at once | "
        "slowest of them (s) | bodies | peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for kind in KINDS:
            f = by[(kind, size)]
            if f.concurrent_warm_requests < 0:
                out.append(
                    f"| {size:,} | {LABELS[kind]} | {f.one_scrape_requests:g} | not run | | | | "
                    f"{f.cold_requests} | not run | | | |"
                )
                continue
            out.append(
                f"| {size:,} | {LABELS[kind]} | {f.one_scrape_requests:g} | "
                f"{f.concurrent_warm_requests} | {f.concurrent_warm_seconds:.3f} | "
                f"{f.concurrent_warm_bodies} | {f.peak_rss_concurrent_mb:.0f} | "
                f"{f.cold_requests} | {f.concurrent_cold_requests} | "
                f"{f.concurrent_cold_seconds:.3f} | {f.concurrent_cold_bodies} | "
                f"{f.peak_rss_concurrent_cold_mb:.0f} |"
            )
    return "\n".join(out)


def checks(results: list[Figures], args: argparse.Namespace) -> tuple[str, list[str]]:
    """The issue's targets at the largest size run, and consistency checks of the run."""
    problems: list[str] = []
    for f in results:
        if f.jobs_exposed < f.jobs:
            problems.append(f"{f.kind} {f.jobs}: only {f.jobs_exposed} jobs exposed")
        for when, exposed, requests in (
            ("cold", f.cold_jobs_exposed, f.cold_requests),
            (
                f"{args.concurrency} warm",
                f.concurrent_warm_jobs_exposed,
                f.concurrent_warm_requests,
            ),
            (
                f"{args.concurrency} cold",
                f.concurrent_cold_jobs_exposed,
                f.concurrent_cold_requests,
            ),
        ):
            if requests >= 0 and exposed < f.jobs:  # the sync outran sync.deadline
                problems.append(
                    f"{f.kind} {f.jobs}: the {when} scrape(s) exposed only {exposed} jobs "
                    "(answered before the sync ended), so their figures are not those of full "
                    "bodies"
                )
        if (
            f.self_counted_requests is not None
            and f.self_counted_requests != f.fake_counted_requests
        ):
            problems.append(
                f"{f.kind} {f.jobs}: exporter counted {f.self_counted_requests} API requests, "
                f"the fake {f.fake_counted_requests}"
            )
    sizes = sorted({f.jobs for f in results})
    for size in sizes:
        ours = next(f for f in results if f.kind == "exporter" and f.jobs == size)
        naive = next(f for f in results if f.kind == "naive" and f.jobs == size)
        if ours.series != naive.series or ours.jobs_exposed != naive.jobs_exposed:
            problems.append(
                f"{size}: the two exporters disagree: {ours.series} vs {naive.series} series, "
                f"{ours.jobs_exposed} vs {naive.jobs_exposed} jobs"
            )
    size = sizes[-1]
    ours = next(f for f in results if f.kind == "exporter" and f.jobs == size)
    naive = next(f for f in results if f.kind == "naive" and f.jobs == size)
    pages = -(-size // 1000)

    def line(ok: bool, text: str) -> str:
        return f"- [{'x' if ok else ' '}] {text}"

    lines = [f"Targets at {size:,} jobs:"]
    lines.append(
        line(
            max(ours.warm_requests) <= 5 and ours.warm_median <= 0.3 * naive.warm_median,
            f"warm scrape: at most 5 AWS requests (max {max(ours.warm_requests)}, median "
            f"{ours.warm_requests_median:g}) and at most 0.3x the naive wall time "
            f"({ours.warm_median:.3f}s vs {naive.warm_median:.3f}s = "
            f"{_ratio(ours.warm_median, naive.warm_median)})",
        )
    )
    describes = ours.cold_requests_by_operation.get("DescribeRestoreJob", 0)
    lines.append(
        line(
            ours.cold_requests <= pages and describes == 0,
            f"cold start: no more requests than list pages needed ({pages}) and no describe "
            f"fan-out: {ours.cold_requests} requests, {describes} describe",
        )
    )
    lines.append(line(ours.peak_rss_mb < 150, f"peak RSS under 150 MB: {ours.peak_rss_mb:.0f} MB"))
    if ours.concurrent_warm_requests >= 0:
        peak = max(ours.peak_rss_concurrent_mb, ours.peak_rss_concurrent_cold_mb)
        lines.append(
            line(
                peak < 150,
                f"peak RSS under 150 MB with {args.concurrency} scrapes at once: "
                f"{ours.peak_rss_concurrent_mb:.0f} MB warm, "
                f"{ours.peak_rss_concurrent_cold_mb:.0f} MB cold (a fresh process), "
                f"{ours.concurrent_warm_bodies} and {ours.concurrent_cold_bodies} different bodies",
            )
        )
    lines.append(
        line(
            ours.concurrent_warm_requests <= ours.one_scrape_requests,
            f"{args.concurrency} concurrent scrapes while a sync is in flight: no more requests "
            f"than one scrape: {ours.concurrent_warm_requests} vs {ours.one_scrape_requests:g}",
        )
    )
    return "\n".join(lines), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="100,1000,10000",
        help="comma-separated numbers of jobs (default: %(default)s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="seconds added to every AWS request (default: %(default)s)",
    )
    parser.add_argument("--warm", type=int, default=5, help="warm scrapes (median)")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes (median)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between scrapes")
    parser.add_argument("--new-jobs", type=int, default=3, help="jobs created between scrapes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cleanup-hours",
        type=float,
        default=1.0,
        help="hours from a restore test's completion to the clean-up of what "
        "it restored (its DeletionStatus); until then the job is not settled "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--naive-concurrency-max",
        type=int,
        default=1000,
        help="largest size at which the naive exporter gets the concurrency "
        "tests (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "results" / "scale.json",
        help="where to write the raw figures (default: %(default)s)",
    )
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.endpoint)
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    command = "python bench/scale.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = time.monotonic()
    load_before = os.getloadavg()[0]

    def progress(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    fake = FakeBackup(latency=args.latency)
    results: list[Figures] = []
    with fake.serving() as endpoint:
        for size in sizes:
            for kind in KINDS:
                results.append(measure(kind, size, fake, endpoint, args, progress))
    elapsed = time.monotonic() - started

    from importlib.metadata import version

    print(tables(results, args))
    print()
    summary, problems = checks(results, args)
    print(summary)
    print()
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems:
        print(
            "Consistency checks passed: every job exposed, both exporters expose the same "
            "series, the exporter's api_requests_total equals the requests the fake counted."
        )
    print(
        f"\nCommand: `{command.strip()}` ({elapsed:.0f} s; {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after; Python "
        f"{platform.python_version()}, boto3 {version('boto3')}, prometheus-client "
        f"{version('prometheus-client')})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"command": command, "results": [asdict(f) for f in results]}, indent=2, default=str
        )
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
