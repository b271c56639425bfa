"""A login flood against the exporter's basic auth: failing logins at a fixed rate (unknown
users and wrong passwords, cost-12 bcrypt hashes) while a valid user scrapes /metrics.

Prints the answers the flood got (401 after a bcrypt check, 429 once the bcrypt budget is
spent), the valid user's scrape latencies throughout, the CPU the exporter used per second
during the flood, and its threads, open file descriptors and RSS before and after. It asserts
nothing about time.

    python bench/login_flood.py                   # 50 failing logins/s for 30 s
    python bench/login_flood.py --rate 200 --seconds 10 --budget 0.25
"""

from __future__ import annotations

import argparse
import base64
import collections
import platform
import shlex
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hardening import USAGE_HEADER, Exporter, Probe, get, settle, usage_line


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def write_web_config(folder: Path, cost: int) -> Path:
    users = {
        name: bcrypt.hashpw(f"{name}-password".encode(), bcrypt.gensalt(cost)).decode()
        for name in ("alice", "bob")
    }
    path = folder / "web.yml"
    path.write_text("basic_auth_users:\n" + "".join(f"  {u}: '{h}'\n" for u, h in users.items()))
    return path


def flood(url: str, rate: float, seconds: float) -> collections.Counter[int]:
    """Failing logins at ``rate`` per second, half unknown users, half wrong passwords."""
    answers: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    def one(index: int) -> None:
        user = f"mallory{index}" if index % 2 else "alice"
        status, _ = get(url, basic(user, f"guess{index}"), timeout=30)
        with lock:
            answers[status] += 1

    with ThreadPoolExecutor(64) as pool:
        started = time.monotonic()
        for index in range(int(rate * seconds)):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, index)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="failing logins per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cost", type=int, default=12, help="bcrypt cost of the users")
    parser.add_argument("--budget", default="0.5", help="--web.basic-auth.bcrypt-budget")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="login-flood-"))
    flags = ["--web.config.file", str(write_web_config(folder, args.cost))]
    flags += ["--web.basic-auth.bcrypt-budget", args.budget]
    exporter = Exporter(flags, Path("bench/results/login_flood.log"))
    exporter.wait_ready()
    metrics = exporter.url + "/metrics"
    assert get(metrics, basic("alice", "alice-password"))[0] == 200  # remembered from now on
    valid = Probe(metrics, basic("alice", "alice-password"), interval=0.5).start()
    time.sleep(2)
    baseline = exporter.usage()
    started = time.monotonic()
    answers = flood(metrics, args.rate, args.seconds)
    took = time.monotonic() - started
    during = exporter.usage()
    valid.stop()
    after = settle(exporter, baseline)
    code = exporter.stop()
    cpu = (during.cpu_seconds - baseline.cpu_seconds) / took
    print(f"## {args.rate:g} failing logins/s for {args.seconds:g} s, bcrypt cost {args.cost},")
    print(f"## budget {args.budget} CPU s/s\n")
    print(f"- the flood's answers: {dict(sorted(answers.items()))} (0: no answer)")
    print(f"- the valid user's scrapes during the flood: {valid.summary()}")
    print(f"- exporter CPU during the flood: {cpu:.2f} s per second")
    print(f"- exporter exit code after SIGTERM: {code}\n")
    print(USAGE_HEADER)
    for name, usage in (("before", baseline), ("end of flood", during), ("after", after)):
        print(usage_line(name, usage))
    print(f"\n{platform.python_version()}, {platform.machine()}; reproduce with:")
    print(f"python {shlex.join(sys.argv)}")


if __name__ == "__main__":
    main()
