"""An AWS Organization at scale: 1, 100 and 1,000 targets (accounts x 4 regions) from one process.

This process hosts moto (Organizations and STS: AssumeRole into every member account) and the
fake AWS Backup (exporter/demo/fake_backup, with injected latency), which puts each request in the
account its key was issued for. The fake serves HTTPS, as AWS does, and the exporter verifies it
against a CA bundle the size of the one botocore uses by default (certifi's, plus the bench's
own CA): a new connection's TLS costs the exporter CPU and memory that plain HTTP would hide.
The exporter runs as its own process, the way users run it (``python -m exporter
--config.file``, an ``organization:`` section, background sync), so its RSS, CPU and threads are
its own. Per size it measures:

- wall time and the exporter's CPU seconds from start until /metrics shows every target up;
- peak RSS (VmHWM) and threads at that point, and again at the end;
- a warm scrape's wall time (median of 5) and its body size (a scrape asks AWS nothing in
  background mode: tests/test_organization.py asserts that, so it is not estimated here);
- steady state over ``--window`` seconds: the exporter's CPU (cores), AWS Backup requests and
  TLS connections per target sync (over the syncs its own ``..._syncs_total`` counted), and the
  oldest target's data age at the end;
- per additional target: RSS and CPU to the first answer, between the two largest sizes;
- before each size, this machine's speed: the CPU of a reference call (``reference_call``), by
  which the per-target CPU is also divided, so that runs on a busier or quieter day compare.

It prints a Markdown table for the README, the targets of the organisation issue with whether
each is met, and the command that reproduces them::

    python bench/organization.py                         # 1, 100, 1,000 targets (~8 minutes)
    python bench/organization.py --sizes 1,100 --window 60
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from botocore.httpsession import where as default_ca_bundle

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: find exporter/ and tests/
    sys.path.insert(0, str(ROOT))

from exporter.demo.fake_backup import FakeBackup, RestoreJobStore, generate_jobs  # noqa: E402
from tests.network import free_port, inflate  # noqa: E402
from tests.offline_aws import PROMETHEUS_ACCEPT, offline_environ  # noqa: E402
from tests.processes import terminate  # noqa: E402
from tests.test_container import env_of, stages  # noqa: E402
from tests.tls_certs import issue, make_ca  # noqa: E402

REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2")
_UP = re.compile(rb"^aws_backup_restore_exporter_target_up\{[^}]*\} (\S+)$", re.MULTILINE)
_SYNCS = re.compile(
    rb'^aws_backup_restore_exporter_syncs_total\{[^}]*kind="(?:full|incremental)"[^}]*\} (\S+)$',
    re.MULTILINE,
)
_AGE = re.compile(
    rb"^aws_backup_restore_exporter_target_data_age_seconds\{[^}]*\} (\S+)$", re.MULTILINE
)


def account_of_key(access_key_id: str) -> str | None:
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key_id)


@dataclass
class Figures:
    targets: int
    accounts: int
    first_answer_seconds: float
    first_answer_cpu_seconds: float
    rss_at_first_answer_mb: float
    threads_at_first_answer: int
    warm_scrape_seconds: float
    steady_cpu_cores: float
    requests_per_target_sync: float
    connections_per_target_sync: float
    max_data_age_seconds: float
    peak_rss_mb: float
    threads_at_end: int
    body_bytes: int
    body_gzip_bytes: int
    reference_call_ms: float  # this machine's speed just before this size ran (reference_call)


# The timed scrape's own process: GET with Prometheus' headers, the body to a file, the seconds
# from the request to its last byte on stdout.
_TIMED_SCRAPE = """
import sys, time, urllib.request
url, accept, path = sys.argv[1:]
request = urllib.request.Request(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
started = time.monotonic()
with urllib.request.urlopen(request, timeout=120) as response:
    body = response.read()
seconds = time.monotonic() - started
open(path, "wb").write(body)
print(seconds)
"""

# The reference for this machine's speed: a plain boto3 client (none of the exporter's code)
# sends ListRestoreJobs for one 50-job page over HTTPS keep-alive, and prints the CPU seconds
# of one call (this process's, the client's only: the server is the bench's).
_REFERENCE_CALL = """
import sys, time, boto3
url, bundle, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = boto3.client("backup", region_name="us-east-1", endpoint_url=url, verify=bundle)
for _ in range(10):
    client.list_restore_jobs(ByCreatedAfter=0)
started = time.process_time()
for _ in range(calls):
    client.list_restore_jobs(ByCreatedAfter=0)
print((time.process_time() - started) / calls)
"""
REFERENCE_CALLS = 200


class ExporterProcess:
    """``python -m exporter`` on a config file, measured through /proc."""

    def __init__(self, config: dict[str, Any], directory: Path, ca_bundle: Path) -> None:
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        # the container image's environment (its ENV lines: MALLOC_ARENA_MAX among them)
        image = env_of(stages()[-1])
        env = offline_environ(
            {**os.environ, **image}, PYTHONPATH=str(ROOT), AWS_CA_BUNDLE=str(ca_bundle)
        )
        self.started = time.monotonic()
        self.last_compressed = 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(path),
             "--web.listen-address", f"127.0.0.1:{self.port}", "--log.level", "warn"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def status(self, field: str) -> int:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+)", text, re.MULTILINE)
        assert match is not None, field
        return int(match.group(1))

    def rss_peak_mb(self) -> float:
        return self.status("VmHWM") / 1024

    def threads(self) -> int:
        return self.status("Threads")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def scrape(self, query: str = "") -> tuple[float, bytes]:
        """One scrape as Prometheus sends it (OpenMetrics Accept, gzip), the body inflated."""
        url = f"{self.url}?{query}" if query else self.url
        headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        request = urllib.request.Request(url, headers=headers)
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            encoding = response.headers.get("Content-Encoding")
        return time.monotonic() - started, inflate(body) if encoding == "gzip" else body

    def timed_scrape(self) -> tuple[float, bytes]:
        """A full scrape timed from a process of its own, as Prometheus scrapes: from the
        request to the body's last byte. This process serves the fake AWS Backup to hundreds of
        syncs, and a scrape read here would be timed by how long this process takes to read
        19 MB between them (and inflating 160 MB is the scraper's cost, so it is left out)."""
        with tempfile.NamedTemporaryFile(suffix=".gz") as raw:
            child = subprocess.run(
                [sys.executable, "-c", _TIMED_SCRAPE, self.url, PROMETHEUS_ACCEPT, raw.name],
                capture_output=True, text=True, timeout=180, check=True,
            )  # fmt: skip
            body = Path(raw.name).read_bytes()
        self.last_compressed = len(body)
        return float(child.stdout), inflate(body) if body[:2] == b"\x1f\x8b" else body

    def health(self) -> bytes:
        """Only the health series (``name[]``): polling must not cost what a full scrape does."""
        names = (
            "aws_backup_restore_exporter_target_up",
            "aws_backup_restore_exporter_target_data_age_seconds",
        )
        return self.scrape("&".join(f"name[]={name}" for name in names))[1]

    def restore_job_syncs(self) -> float:
        """Restore-job syncs run so far over every target (the exporter's own counter)."""
        body = self.scrape("name[]=aws_backup_restore_exporter_syncs_total")[1]
        return sum(float(value) for value in _SYNCS.findall(body))

    def stop(self) -> None:
        terminate(self.process, timeout=20)


def organization(moto_url: str, accounts: int) -> list[str]:
    """An organisation of ``accounts`` accounts (the management account included)."""
    import boto3

    client = boto3.client("organizations", region_name="us-east-1", endpoint_url=moto_url)
    client.create_organization(FeatureSet="ALL")
    ids = [client.describe_organization()["Organization"]["MasterAccountId"]]
    for index in range(accounts - 1):
        status = client.create_account(AccountName=f"a{index}", Email=f"a{index}@example.com")
        ids.append(status["CreateAccountStatus"]["AccountId"])
    return ids


def _reset_moto(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def run_size(targets: int, args: argparse.Namespace, moto_url: str) -> Figures:
    _reset_moto(moto_url)
    regions = REGIONS[: min(len(REGIONS), targets)]
    accounts = organization(moto_url, math.ceil(targets / len(regions)))
    pairs = [(a, r) for a in accounts for r in regions][:targets]
    store = RestoreJobStore()
    for seed, (account, region) in enumerate(pairs):
        store.load(account, region, generate_jobs(args.jobs, seed=seed, account_id=account,
                                                  region=region))  # fmt: skip
    fake = FakeBackup(latency=args.latency, store=store, accounts=account_of_key)
    with tempfile.TemporaryDirectory() as directory:
        tls, bundle = _tls(Path(directory))
        reference_ms = reference_call(tls, bundle, args.jobs) * 1000
        print(f"    reference call {reference_ms:.2f} ms of CPU", file=sys.stderr, flush=True)
        fake.start(tls=tls)
        try:
            figures = _run(fake, targets, len(accounts), regions, pairs, args, moto_url, bundle)
        finally:
            fake.stop()
    return replace(figures, reference_call_ms=reference_ms)


def reference_call(tls: ssl.SSLContext, bundle: Path, jobs: int) -> float:
    """CPU seconds of one plain boto3 ListRestoreJobs call (one page of ``jobs``) on this
    machine now, from a process of its own against a fake without latency. The machine is
    shared: the same work costs more CPU when others load it, so each size's figures come with
    this one, and the per-target cost is also given in reference calls (a ratio within one run)."""
    account = "123456789012"
    store = RestoreJobStore()
    store.load(account, "us-east-1", generate_jobs(jobs, seed=0, account_id=account))
    fake = FakeBackup(latency=0.0, store=store, accounts=lambda _key: account)
    fake.start(tls=tls)
    try:
        child = subprocess.run(
            [sys.executable, "-c", _REFERENCE_CALL, fake.url, str(bundle), str(REFERENCE_CALLS)],
            capture_output=True, text=True, timeout=120, check=True,
            env=offline_environ(os.environ),
        )  # fmt: skip
    finally:
        fake.stop()
    return float(child.stdout)


def _tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """The fake's server context (a certificate for 127.0.0.1 from the bench's CA), and a CA
    bundle of certifi's CAs and that one, for the exporter."""
    ca = make_ca("bench AWS Backup CA")
    server = issue(ca, "127.0.0.1", server=True, ips=("127.0.0.1",))
    (directory / "server.pem").write_bytes(server.cert_pem() + server.key_pem())
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes(Path(default_ca_bundle()).read_bytes() + ca.cert_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem")
    return context, bundle


def _run(
    fake: FakeBackup, targets: int, accounts: int, regions: tuple[str, ...],
    pairs: list[tuple[str, str]], args: argparse.Namespace, moto_url: str, bundle: Path,
) -> Figures:  # fmt: skip
    included = sorted({a for a, _ in pairs})
    config = {
        "organization": {
            "member_role_arn": "arn:aws:iam::{account_id}:role/aws-backup-restore-exporter",
            "regions": list(regions),
            "include_accounts": included,
            "endpoint_url": moto_url,
            "sts_endpoint_url": moto_url,
            "backup_endpoint_url": fake.url,
        },
        "sync": {"interval": f"{args.interval:g}s"},
    }
    with tempfile.TemporaryDirectory() as directory:
        exporter = ExporterProcess(config, Path(directory), bundle)
        try:
            return _observe(exporter, fake, targets, accounts, args)
        finally:
            exporter.stop()


def _up_count(body: bytes) -> int:
    return sum(1 for value in _UP.findall(body) if float(value) == 1.0)


def _observe(
    exporter: ExporterProcess, fake: FakeBackup, targets: int, accounts: int,
    args: argparse.Namespace,
) -> Figures:  # fmt: skip
    deadline = time.monotonic() + args.timeout
    while True:
        if exporter.process.poll() is not None:
            raise RuntimeError(f"the exporter exited: {exporter.process.stderr.read()[-2000:]}")
        try:
            if _up_count(exporter.health()) == targets:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every target up after {args.timeout:g}s")
        time.sleep(1.0)  # a poll costs the exporter a (filtered) scrape: not too often
    first_answer = time.monotonic() - exporter.started
    print(f"    every target up after {first_answer:.1f} s", file=sys.stderr, flush=True)
    first_cpu = exporter.cpu_seconds()
    rss_first, threads_first = exporter.rss_peak_mb(), exporter.threads()

    window_start, cpu_start, requests_start = time.monotonic(), first_cpu, fake.requests()
    connections_start = fake.connections()
    syncs_start = exporter.restore_job_syncs()
    scrape_times = []
    for _ in range(5):
        seconds, body = exporter.timed_scrape()
        scrape_times.append(seconds)
    print(f"    warm scrapes {scrape_times}", file=sys.stderr, flush=True)
    body_bytes, body_gzip_bytes = len(body), exporter.last_compressed
    time.sleep(max(0.0, args.window - (time.monotonic() - window_start)))
    span = time.monotonic() - window_start
    requests = fake.requests() - requests_start
    connections = fake.connections() - connections_start
    cpu = exporter.cpu_seconds() - cpu_start
    syncs = exporter.restore_job_syncs() - syncs_start
    ages = [float(value) for value in _AGE.findall(exporter.health())]
    return Figures(
        targets=targets,
        accounts=accounts,
        first_answer_seconds=first_answer,
        first_answer_cpu_seconds=first_cpu,
        rss_at_first_answer_mb=rss_first,
        threads_at_first_answer=threads_first,
        warm_scrape_seconds=statistics.median(scrape_times),
        steady_cpu_cores=cpu / span,
        # per sync the exporter ran (a target that synced twice in the window counts twice)
        requests_per_target_sync=requests / syncs if syncs else float("nan"),
        connections_per_target_sync=connections / syncs if syncs else float("nan"),
        max_data_age_seconds=max(ages) if ages else float("nan"),
        peak_rss_mb=exporter.rss_peak_mb(),
        threads_at_end=exporter.threads(),
        body_bytes=body_bytes,
        body_gzip_bytes=body_gzip_bytes,
        reference_call_ms=float("nan"),  # run_size measures it
    )


def table(results: list[Figures], args: argparse.Namespace) -> str:
    rows = [
        (
            "targets (accounts x regions)",
            lambda f: f"{f.targets} ({f.accounts} x {min(4, f.targets)})",
        ),
        ("wall time to every target up", lambda f: f"{f.first_answer_seconds:.1f} s"),
        ("CPU to every target up", lambda f: f"{f.first_answer_cpu_seconds:.1f} s"),
        ("peak RSS at that point", lambda f: f"{f.rss_at_first_answer_mb:.0f} MB"),
        ("threads at that point", lambda f: str(f.threads_at_first_answer)),
        ("warm scrape (median of 5)", lambda f: f"{f.warm_scrape_seconds * 1000:.0f} ms"),
        (
            "/metrics body (gzip)",
            lambda f: f"{f.body_bytes / 1e6:.1f} MB ({f.body_gzip_bytes / 1e6:.1f} MB)",
        ),
        (f"steady CPU ({args.interval:g} s interval)", lambda f: f"{f.steady_cpu_cores:.3f} cores"),
        (
            "AWS Backup requests per target per sync",
            lambda f: _per_sync(f.requests_per_target_sync),
        ),
        ("TLS connections per target per sync", lambda f: _per_sync(f.connections_per_target_sync)),
        ("oldest data at the end", lambda f: f"{f.max_data_age_seconds:.0f} s"),
        ("peak RSS at the end", lambda f: f"{f.peak_rss_mb:.0f} MB"),
        ("threads at the end", lambda f: str(f.threads_at_end)),
        (
            "reference: one plain boto3 call's CPU, just before",
            lambda f: f"{f.reference_call_ms:.2f} ms",
        ),
    ]
    lines = ["| | " + " | ".join(str(f.targets) for f in results) + " |"]
    lines.append("|---" * (len(results) + 1) + "|")
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(f) for f in results) + " |")
    return "\n".join(lines)


def _per_sync(value: float) -> str:
    # a target whose next sync falls after the window (its phase) leaves nothing to divide by
    return "no sync in the window" if math.isnan(value) else f"{value:.2f}"


def per_target(results: list[Figures]) -> tuple[float, float, float] | None:
    """RSS (MB) and CPU (ms) per additional target, between the two largest sizes, and the CPU
    in reference calls (measured just before each of the two)."""
    if len(results) < 2:
        return None
    small, large = sorted(results, key=lambda f: f.targets)[-2:]
    extra = large.targets - small.targets
    rss = (large.rss_at_first_answer_mb - small.rss_at_first_answer_mb) / extra
    cpu = (large.first_answer_cpu_seconds - small.first_answer_cpu_seconds) / extra * 1000
    return rss, cpu, cpu / statistics.mean((small.reference_call_ms, large.reference_call_ms))


def checks(results: list[Figures], args: argparse.Namespace) -> list[str]:
    def line(ok: bool, text: str) -> str:
        return f"- [{'x' if ok else ' '}] {text}"

    out = []
    for f in results:
        if f.targets < 1000:
            continue
        threads = max(f.threads_at_first_answer, f.threads_at_end)
        two = 2 * args.interval
        out += [
            line(f.peak_rss_mb <= 500, f"peak RSS {f.peak_rss_mb:.0f} MB <= 500 MB"),
            line(f.first_answer_seconds <= 60, f"all up in {f.first_answer_seconds:.1f} s <= 60 s"),
            line(f.warm_scrape_seconds <= 1, f"a scrape in {f.warm_scrape_seconds:.2f} s <= 1 s"),
            line(f.max_data_age_seconds < two, f"data age {f.max_data_age_seconds:.0f} < {two:g}s"),
            line(f.steady_cpu_cores <= 0.5, f"steady CPU {f.steady_cpu_cores:.3f} cores <= 0.5"),
            line(threads <= 100, f"threads {threads} <= 100"),
            line(f.requests_per_target_sync <= 5,
                 f"{f.requests_per_target_sync:.2f} requests per target per sync <= 5"),
        ]  # fmt: skip
    cost = per_target(results)
    if cost is not None:
        rss, cpu, calls = cost
        out.append(line(rss <= 0.5, f"per additional target: {rss:.2f} MB of RSS <= 0.5 MB"))
        out.append(line(cpu <= 20, f"per additional target: {cpu:.1f} ms of CPU <= 20 ms "
                                   f"(the CPU of {calls:.1f} reference calls)"))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,1000", help="targets per run (comma-separated)")
    parser.add_argument("--jobs", type=int, default=50, help="restore jobs per target")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per AWS request")
    parser.add_argument("--interval", type=float, default=60.0, help="sync.interval, seconds")
    parser.add_argument("--window", type=float, default=60.0, help="steady-state window, seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after, seconds")
    args = parser.parse_args()
    os.environ.update(offline_environ(os.environ))  # moto's clients here: fake keys, no AWS
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    load_before = os.getloadavg()[0]  # the machine's other work, before the bench adds its own
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    results = []
    try:
        for size in (int(text) for text in args.sizes.split(",")):
            print(f"... {size} targets", file=sys.stderr, flush=True)
            results.append(run_size(size, args, f"http://{host}:{port}"))
    finally:
        moto.stop()
    print(table(results, args))
    print()
    print("\n".join(checks(results, args)))
    print()
    print(
        f"(python {shlex.join(['bench/organization.py', *sys.argv[1:]])}; {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after)"
    )


if __name__ == "__main__":
    main()
