"""Soak: 10,000 scrapes against a changing job population; the exporter's RSS and open file
descriptors must stay flat.

The exporter runs as users run it (``python -m exporter --config.file ...``, its own process, so
that its memory and descriptors are its own) against the fake AWS Backup endpoint
(exporter/demo/fake_backup, in this process, 127.0.0.1 only). The population turns over the whole
time: a ticker thread moves jobs along once a second (PENDING to RUNNING, progress, completion,
restore-test validation and clean-up) and adds new ones, while the exporter's two-minute
lookback drops finished jobs as they age out, so that the number of jobs held stays about
constant while every one of them is replaced several times over. Full resyncs run every minute,
incremental syncs in between.

Every ``--sample-every`` scrapes it records the exporter's RSS (VmRSS), peak RSS (VmHWM), open
file descriptors (/proc/PID/fd), threads and the jobs it holds, then prints a Markdown table, a
verdict (flat or not: after a warm-up, RSS may not grow by more than max(4 MiB, 3 %) from the
first to the last quarter of the samples, descriptors and threads not by more than 4) and the
command that reproduces it. With ``--tls`` the scrapes go over TLS with basic auth, and every
``--bad-every`` scrapes a bad client comes along (plain HTTP to the TLS port, a wrong password,
a connection that says nothing), so that the failure paths are soaked too.

    python bench/soak.py                   # 10,000 scrapes, plain HTTP (a few minutes)
    python bench/soak.py --tls             # the same over TLS with basic auth
    python bench/soak.py --scrapes 2000    # quicker

Runtime is bounded by ``--max-seconds``: the run stops there and reports what it has.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import platform
import re
import shlex
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: find exporter/ and bench/
    sys.path.insert(0, str(ROOT))

from exporter.demo.fake_backup import FakeBackup, generate_jobs  # noqa: E402
from tests.network import inflate  # noqa: E402
from tests.offline_aws import PROMETHEUS_ACCEPT, offline_environ  # noqa: E402
from tests.processes import terminate  # noqa: E402

PASSWORD = "soak-password"
_JOBS_HELD = re.compile(rb"^aws_backup_restore_exporter_target_jobs\{[^}]*\} (\S+)", re.MULTILINE)


@dataclass
class Sample:
    scrapes: int
    seconds: float
    jobs: int
    rss_mib: float
    peak_mib: float
    fds: int
    threads: int
    scrape_ms: float  # median over the scrapes since the last sample


def process_figures(pid: int) -> tuple[float, float, int, int]:
    """(RSS MiB, peak RSS MiB, open descriptors, threads) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()

    def field(name: str) -> int:
        match = re.search(rf"^{name}:\s+(\d+)", status, re.MULTILINE)
        assert match is not None, name
        return int(match.group(1))

    fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    return field("VmRSS") / 1024, field("VmHWM") / 1024, fds, field("Threads")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Exporter:
    """The exporter as users start it, in its own process (stopped only by its own pid)."""

    def __init__(self, endpoint: str, folder: Path, tls: bool) -> None:
        config = folder / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - name: soak\n    region: us-east-1\n    endpoint_url: {endpoint}\n"
            "    discovery:\n      lookback: 2m\n"
            "sync:\n  full_resync_interval: 1m\n  completion_margin: 30s\n"
            # the fake has no quota: pace nothing, so that 10,000 scrapes take minutes, not hours
            "rate_limit:\n  describe_per_second: 1000\n  list_per_second: 1000\n"
            "  total_per_second: 1000\n"
        )
        self.port = free_port()
        args = [
            sys.executable,
            "-m",
            "exporter",
            "--config.file",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{self.port}",
            "--log.level",
            "warn",
        ]
        self.context: ssl.SSLContext | None = None
        self.authorization: str | None = None
        if tls:
            args += ["--web.config.file", str(self._web_config(folder))]
        env = offline_environ(os.environ, PYTHONPATH=str(ROOT))
        self.log = (folder / "exporter.log").open("wb")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.open("/healthz", auth=False) as response:
                    response.read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the exporter did not start; see exporter.log") from None
                time.sleep(0.1)

    def _web_config(self, folder: Path) -> Path:
        import bcrypt  # the exporter's own dependency

        from tests.tls_certs import write_cert_files  # cryptography: a dev dependency

        certs = write_cert_files(folder / "certs")
        self.context = ssl.create_default_context(cafile=str(certs.path("ca.crt")))
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
        self.authorization = "Basic " + base64.b64encode(f"soak:{PASSWORD}".encode()).decode()
        web = folder / "certs" / "web.yml"
        web.write_text(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            f"basic_auth_users:\n  soak: '{hashed}'\n"
        )
        return web

    def open(self, path: str, auth: bool = True, authorization: str | None = None):
        headers = {
            "Accept": PROMETHEUS_ACCEPT,
            "Accept-Encoding": "gzip",
            "User-Agent": "Prometheus/2.42",
        }
        if authorization or (auth and self.authorization):
            headers["Authorization"] = authorization or self.authorization or ""
        request = urllib.request.Request(self.base + path, headers=headers)
        return urllib.request.urlopen(request, timeout=60, context=self.context)

    def scrape(self) -> tuple[float, bytes]:
        started = time.perf_counter()
        with self.open("/metrics") as response:
            raw = response.read()
            encoding = response.headers.get("Content-Encoding")
        seconds = time.perf_counter() - started
        return seconds, inflate(raw) if encoding == "gzip" else raw

    def bad_client(self, kind: int) -> None:
        """One client that fails: must cost the exporter nothing that stays."""
        if kind == 0:  # plain HTTP to the TLS port
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", "/metrics")
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
        elif kind == 1:  # a wrong password
            wrong = "Basic " + base64.b64encode(b"soak:wrong").decode()
            try:
                with self.open("/metrics", authorization=wrong) as response:
                    response.read()
            except urllib.error.HTTPError as error:
                error.read()
                error.close()
        else:  # connects, says nothing, goes away
            socket.create_connection(("127.0.0.1", self.port), timeout=10).close()

    def stop(self) -> None:
        terminate(self.process, timeout=15)
        self.log.close()


def ticker(fake: FakeBackup, stop: threading.Event, interval: float, new_jobs: int) -> None:
    while not stop.wait(interval):
        fake.tick(new_jobs=new_jobs)


def verdict(samples: list[Sample], warmup: int) -> tuple[bool, str]:
    settled = [s for s in samples if s.scrapes >= warmup]
    if len(settled) < 4:
        return False, f"not enough samples after the {warmup}-scrape warm-up to judge"
    quarter = max(1, len(settled) // 4)
    first, last = settled[:quarter], settled[-quarter:]
    rss_first = statistics.median(s.rss_mib for s in first)
    rss_last = statistics.median(s.rss_mib for s in last)
    growth = rss_last - rss_first
    allowed = max(4.0, 0.03 * rss_first)
    fd_spread = max(s.fds for s in settled) - min(s.fds for s in settled)
    thread_spread = max(s.threads for s in settled) - min(s.threads for s in settled)
    flat = growth <= allowed and fd_spread <= 4 and thread_spread <= 4
    text = (
        f"RSS {rss_first:.1f} -> {rss_last:.1f} MiB (median of first and last quarter after "
        f"{warmup} scrapes: {growth:+.1f} MiB, allowed {allowed:.1f}); open fds "
        f"{min(s.fds for s in settled)}..{max(s.fds for s in settled)}; threads "
        f"{min(s.threads for s in settled)}..{max(s.threads for s in settled)}"
    )
    return flat, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=10_000)
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--initial-jobs", type=int, default=1000)
    parser.add_argument("--new-jobs", type=int, default=8, help="new jobs per tick")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument("--warmup", type=int, default=2000, help="scrapes before judging")
    parser.add_argument("--max-seconds", type=float, default=2400.0)
    parser.add_argument("--tls", action="store_true", help="TLS and basic auth, bad clients")
    parser.add_argument("--bad-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    fake = FakeBackup()
    fake.reset(generate_jobs(args.initial_jobs, seed=args.seed, spread_seconds=110), seed=args.seed)
    samples: list[Sample] = []
    stop = threading.Event()
    started = time.monotonic()
    with fake.serving() as endpoint, tempfile.TemporaryDirectory(prefix="soak-") as folder:
        exporter = Exporter(endpoint, Path(folder), args.tls)
        tick = threading.Thread(
            target=ticker, args=(fake, stop, args.tick, args.new_jobs), daemon=True
        )
        tick.start()
        times: list[float] = []
        done = 0
        try:
            while done < args.scrapes and time.monotonic() - started < args.max_seconds:
                seconds, body = exporter.scrape()
                times.append(seconds)
                done += 1
                if args.tls and done % args.bad_every == 0:
                    exporter.bad_client((done // args.bad_every) % 3)
                if done % args.sample_every == 0 or done == args.scrapes:
                    rss, peak, fds, threads = process_figures(exporter.process.pid)
                    held = _JOBS_HELD.search(body)
                    samples.append(
                        Sample(
                            done,
                            time.monotonic() - started,
                            int(float(held.group(1))) if held else -1,
                            rss,
                            peak,
                            fds,
                            threads,
                            statistics.median(times) * 1000,
                        )
                    )
                    times = []
                    print(
                        f"{done:>6} scrapes {samples[-1].seconds:7.1f}s "
                        f"jobs {samples[-1].jobs:>5} rss {rss:6.1f} MiB fds {fds:>3} "
                        f"threads {threads:>3}",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            stop.set()
            tick.join(timeout=10)
            exporter.stop()
        api_requests = fake.requests()

    flat, detail = verdict(samples, args.warmup)
    mode = "TLS + basic auth, a bad client every " + str(args.bad_every) if args.tls else "HTTP"
    print(f"## Soak: {done} scrapes ({mode}), {samples[-1].seconds if samples else 0:.0f} s\n")
    print(
        "| scrapes | elapsed s | jobs held | RSS MiB | peak RSS MiB | open fds | threads | "
        "median scrape ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in samples:
        print(
            f"| {s.scrapes:,} | {s.seconds:.0f} | {s.jobs:,} | {s.rss_mib:.1f} | "
            f"{s.peak_mib:.1f} | {s.fds} | {s.threads} | {s.scrape_ms:.1f} |"
        )
    print(f"\nVerdict: **{'flat' if flat else 'NOT flat'}**: {detail}.")
    print(
        f"\n{api_requests:,} API requests to the fake; {fake.requests('DescribeRestoreJob'):,} "
        f"of them DescribeRestoreJob. Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}."
    )
    if done < args.scrapes:
        print(f"\nStopped at --max-seconds {args.max_seconds:g} after {done} scrapes.")
    command = " ".join(shlex.quote(a) for a in ["python", "bench/soak.py", *sys.argv[1:]])
    print(f"\nReproduce: `{command}`")
    return 0 if flat and done == args.scrapes else 1


if __name__ == "__main__":
    sys.exit(main())
