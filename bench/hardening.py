"""Shared by bench/slow_clients.py and bench/login_flood.py: an exporter process started with
--demo (no AWS), what it costs read from /proc (threads, open file descriptors, RSS, CPU), and
probes that time /metrics and /healthz while an attack runs."""

from __future__ import annotations

import os
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.network import free_port  # noqa: E402
from tests.offline_aws import offline_environ  # noqa: E402


@dataclass(frozen=True)
class Usage:
    threads: int
    fds: int
    rss_mib: float
    cpu_seconds: float


class Exporter:
    """``python -m exporter --demo`` on a free loopback port, stopped by its own pid."""

    def __init__(self, flags: Sequence[str], logs: Path, scheme: str = "http") -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        env = offline_environ(os.environ, PYTHONPATH=str(ROOT))
        listen = ("--web.listen-address", f"127.0.0.1:{self.port}")
        logs.parent.mkdir(parents=True, exist_ok=True)
        self._log = logs.open("wb")
        self.command = [sys.executable, "-m", "exporter", "--demo", *flags, *listen]
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, context: ssl.SSLContext | None = None) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if get(self.url + "/healthz", context=context)[0] == 200:
                return
            time.sleep(0.1)
        raise SystemExit(f"exporter did not start; see {self._log.name}")

    def usage(self) -> Usage:
        pid = self.process.pid
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return Usage(
            threads=int(fields["Threads"]),
            fds=sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
            rss_mib=int(fields["VmRSS"].split()[0]) / 1024,
            cpu_seconds=(int(stat[11]) + int(stat[12])) / ticks,
        )

    def schedule(self) -> dict[str, tuple[float, float]]:
        """Per thread: seconds it ran on a CPU, and seconds it was runnable but waited for one
        (from /proc/<pid>/task/<tid>/schedstat: time the machine's other work took from it)."""
        threads = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                ran, waited, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue  # the thread ended meanwhile
            threads[task.name] = (int(ran) / 1e9, int(waited) / 1e9)
        return threads

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._log.close()
        return code


def get(
    url: str,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    timeout: float = 10,
) -> tuple[int, float]:
    """(status, seconds); status 0 when no answer came."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


@dataclass
class Probe:
    """GETs ``url`` every ``interval`` in a thread until stopped; the times and statuses."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    interval: float = 0.25
    context: ssl.SSLContext | None = None
    times: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # time.monotonic() of each probe's start
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Probe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            started = time.monotonic()
            status, took = get(self.url, self.headers, self.context)
            self.starts.append(started)
            self.statuses.append(status)
            self.times.append(took)

    def stop(self) -> Probe:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self

    def summary(self, windows: Sequence[tuple[float, float]] = ()) -> str:
        """Count, failures, median, p99 and max; of the probes that started within one of
        ``windows`` (monotonic start and end), when given."""
        picked = list(zip(self.starts, self.times, self.statuses, strict=True))
        if windows:
            picked = [p for p in picked if any(start <= p[0] <= end for start, end in windows)]
        if not picked:
            return "no probes"
        ordered = sorted(took for _, took, _ in picked)
        failures = sum(status != 200 for _, _, status in picked)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{len(ordered)} probes, {failures} not 200, median "
            f"{statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms"
        )


def usage_line(name: str, usage: Usage) -> str:
    return (
        f"| {name} | {usage.threads} | {usage.fds} | {usage.rss_mib:.1f} | "
        f"{usage.cpu_seconds:.1f} |"
    )


USAGE_HEADER = "| moment | threads | open fds | RSS MiB | CPU s (total) |\n|---|---|---|---|---|"


def settle(exporter: Exporter, baseline: Usage, seconds: float = 15.0) -> Usage:
    """The exporter's usage once fds are back to the baseline (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    usage = exporter.usage()
    while usage.fds > baseline.fds and time.monotonic() < deadline:
        time.sleep(0.2)
        usage = exporter.usage()
    return usage
