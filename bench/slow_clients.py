"""Slow clients against the exporter: N connections that each send part of a request head and
then nothing, while /metrics and /healthz are timed every 250 ms.

Prints how many server threads there were at most (against the bound: the loop, the workers and
the exporter's own), how long each stalled connection stayed open (it must be closed within the
read timeout, or earlier to make room), the probes' latencies (before the attack, during the
bursts of new connections, throughout), what the machine gave the exporter during each burst
(CPU run and CPU waited for), and the exporter's threads, open file descriptors and RSS before,
during and after. It asserts nothing about time.

The stalled connections are opened and watched by a process of their own, so that the probes'
times are the server's, not the attacker's competing for this process' interpreter lock (the
machine's cores are still shared: the attacker, the probes and the exporter run side by side).

    python bench/slow_clients.py                       # 5,000 connections, --web.read-timeout 10s
    python bench/slow_clients.py --connections 2000 --read-timeout 5s
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue
import selectors
import shlex
import socket
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hardening import USAGE_HEADER, Exporter, Probe, settle, usage_line

from exporter.durations import parse_duration


class Stall:
    """Opens connections that each send half a request head, and notes when the server closes
    each one, in a thread of its own that watches them while more are being opened."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened: dict[socket.socket, float] = {}
        self.lifetimes: dict[socket.socket, float] = {}
        self._new: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._done_opening = threading.Event()

    def open(self, count: int) -> tuple[float, float]:
        """Open ``count`` connections; when the first was opened and the last (monotonic)."""
        started = time.monotonic()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            self.opened[sock] = time.monotonic()
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nUser-Agent: slow")
            sock.setblocking(False)
            self._new.put(sock)
        self._done_opening.set()
        return started, time.monotonic()

    def watch(self, give_up: float) -> None:
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + give_up
        while time.monotonic() < deadline:
            while not self._new.empty():
                selector.register(self._new.get(), selectors.EVENT_READ)
            if self._done_opening.is_set() and len(self.lifetimes) == len(self.opened):
                break
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    self.lifetimes[sock] = time.monotonic() - self.opened[sock]
                    selector.unregister(sock)
                    sock.close()

    def result(self) -> list[float]:
        """How long each connection stayed open until the server closed it (inf: still open)."""
        for sock in self.opened:
            sock.close()
        return [self.lifetimes.get(sock, float("inf")) for sock in self.opened]


class Peak:
    """The exporter's most threads and open fds, and its threads' CPU time, sampled every
    100 ms in a thread."""

    def __init__(self, exporter: Exporter) -> None:
        self.threads = self.fds = 0
        self.schedules: list[tuple[float, dict[str, tuple[float, float]]]] = []
        self._exporter = exporter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            now = self._exporter.usage()
            self.threads = max(self.threads, now.threads)
            self.fds = max(self.fds, now.fds)
            self.schedules.append((time.monotonic(), self._exporter.schedule()))

    def cpu(self, start: float, end: float) -> str:
        """What the exporter's busiest thread (the event loop, during a burst) got from the
        machine between ``start`` and ``end``: seconds run, seconds waited for a CPU."""
        inside = [(at, threads) for at, threads in self.schedules if start <= at <= end]
        if len(inside) < 2:
            return "not sampled"
        (first, before), (last, after) = inside[0], inside[-1]
        ran = {t: after[t][0] - before[t][0] for t in after if t in before}
        busiest = max(ran, key=ran.__getitem__)
        waited = after[busiest][1] - before[busiest][1]
        return (f"in {last - first:.1f} s its busiest thread ran {ran[busiest]:.2f} s and "
                f"waited {waited:.2f} s for a CPU (runnable, not scheduled); the whole process "
                f"ran {sum(ran.values()):.2f} s")  # fmt: skip

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _attack(port: int, connections: int, give_up: float, results: Connection) -> None:
    stall = Stall(port)
    watcher = threading.Thread(target=stall.watch, args=(give_up,), daemon=True)
    watcher.start()
    cpu = time.process_time()
    opening = stall.open(connections)
    cpu = time.process_time() - cpu
    watcher.join()
    results.send((opening, cpu, stall.result()))


def attack(
    exporter: Exporter, connections: int, read_timeout: float
) -> tuple[tuple[float, float], float, list[float]]:
    """One round, in a process of its own: open the stalled connections, wait until the server
    has closed them all. When the opening began and ended (time.monotonic(), the same clock in
    every process), the CPU seconds the opening took, and how long each connection stayed
    open."""
    context = multiprocessing.get_context("spawn")
    theirs, ours = context.Pipe()
    args = (exporter.port, connections, read_timeout + 120, ours)
    process = context.Process(target=_attack, args=args)
    process.start()
    opening, cpu, lifetimes = theirs.recv()
    process.join()
    return opening, cpu, lifetimes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--read-timeout", default="10s")
    parser.add_argument("--max-connections", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2, help="attacks one after the other")
    parser.add_argument("--quiet", type=float, default=5, help="seconds probed before attacking")
    args = parser.parse_args()
    read_timeout = parse_duration(args.read_timeout)
    flags = ["--web.read-timeout", args.read_timeout]
    flags += ["--web.max-connections", str(args.max_connections)]
    exporter = Exporter(flags, Path("bench/results/slow_clients.log"))
    exporter.wait_ready()
    probes = [Probe(exporter.url + path).start() for path in ("/metrics", "/healthz")]
    time.sleep(2)  # the probes' first scrapes warm the demo up
    quiet = (time.monotonic(), time.monotonic() + args.quiet)
    time.sleep(args.quiet)  # the probes alone: what the machine gives without an attack
    usages = [("before", exporter.usage())]
    peak = Peak(exporter)
    print(f"## {args.connections} stalled connections, read timeout {args.read_timeout}\n")
    bursts = []  # from the first connection opened to a second after the last
    cpus: list[str] = []
    attack_started = time.monotonic()
    for round_ in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        (first, last), cpu, lifetimes = attack(exporter, args.connections, read_timeout)
        bursts.append((first, last + 1.0))
        cpus.append(f"- round {round_}'s burst (load average {load:.1f} as it began; the "
                    f"attacker's opening took {cpu:.2f} s of CPU): the exporter "
                    f"{peak.cpu(first, last + 1.0)}")  # fmt: skip
        usages.append((f"after round {round_}", settle(exporter, usages[0][1])))
        closed = [t for t in lifetimes if t != float("inf")]
        early = sum(t < read_timeout for t in closed)
        print(f"- round {round_}: opened in {last - first:.1f} s; closed by the server: "
              f"{len(closed)} of {len(lifetimes)}, {early} before the read timeout (to make "
              f"room, or at once in the flood); longest open "
              f"{max(lifetimes):.1f} s (read timeout {read_timeout:g} s)")  # fmt: skip
    peak.stop()
    print("\n".join(cpus))
    windows = {
        f"before the attack ({args.quiet:g} s, probes only)": [quiet],
        "during the bursts (until 1 s after the last connection)": bursts,
        "throughout the attack": [(attack_started, time.monotonic())],
    }
    for probe in probes:
        probe.stop()
        for window, spans in windows.items():
            print(f"- {probe.url.rsplit('/', 1)[1]} {window}: {probe.summary(spans)}")
    print(f"- server threads at most: {peak.threads}; open fds at most: {peak.fds} "
          f"(--web.max-connections {args.max_connections})")  # fmt: skip
    print(f"- exporter exit code after SIGTERM: {exporter.stop()}\n")
    print(USAGE_HEADER)
    for name, usage in usages:
        print(usage_line(name, usage))
    print(f"\n{platform.python_version()}, {platform.machine()}; reproduce with:")
    print(f"python {shlex.join(sys.argv)}")


if __name__ == "__main__":
    main()
