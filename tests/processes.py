"""Programs the tests start: one-shot runs with their output captured, and servers (the exporter,
Prometheus) started in the background with their output in log files, waited for by polling
until they answer, and stopped with SIGTERM as a kubelet would."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest

from tests.network import fetch, free_port
from tests.paths import REPO
from tests.waiting import wait_until

TAIL = 3000  # characters of a log shown when a process fails


def run(
    args: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, stdout and stderr captured as text, whatever its exit code."""
    return subprocess.run(
        list(args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else dict(env),
        check=False,
    )


def terminate(popen: subprocess.Popen, timeout: float = 30) -> bool:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; False when it was killed."""
    popen.terminate()
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=timeout)
        return False
    return True


def exporter_command(*args: str) -> list[str]:
    """The exporter's command line with the test's Python (run it in REPO: this checkout's)."""
    return [sys.executable, "-m", "exporter", *args]


def run_exporter(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The exporter's CLI run to completion (``--version``, ``--config.check``, a bad flag)."""
    return run(exporter_command(*args), env=env, cwd=REPO)


class Process:
    """A program running in the background; its stdout and stderr go to files in ``logs``."""

    def __init__(
        self,
        args: Sequence[str],
        logs: Path,
        *,
        name: str = "process",
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"{name}.stdout"
        self.stderr_path = logs / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(
                list(args),
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=None if env is None else dict(env),
            )
        self.killed = False

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output_tail(self) -> str:
        return (self.stdout()[-TAIL:] + "\n" + self.stderr()[-TAIL:]).strip()

    def check_alive(self) -> None:
        """Fail the test, showing the program's output, if it has exited."""
        code = self.popen.poll()
        if code is not None:
            pytest.fail(f"{self.name} exited with {code}:\n{self.output_tail()}")

    def wait_for_http(
        self, url: str, timeout: float = 30, context: ssl.SSLContext | None = None
    ) -> None:
        """Poll ``url`` until it answers 200; fail early if the program exits meanwhile."""

        def answers() -> bool:
            self.check_alive()
            try:
                return fetch(url, context=context, timeout=2).status == 200
            except (OSError, http.client.HTTPException):  # not listening (or not ready) yet
                return False

        wait_until(answers, timeout=timeout, what=f"{self.name} to answer {url}")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``: its exit code, or None
        when it had to be killed. Once stopped, the same answer again."""
        if self.popen.poll() is None and not terminate(self.popen, timeout):
            self.killed = True
        return None if self.killed else self.popen.returncode

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ExporterProcess(Process):
    """The exporter serving on a free loopback port, started as users start it."""

    def __init__(
        self,
        *flags: str,
        logs: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO,
        scheme: str = "http",
    ) -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        listen = ("--web.listen-address", f"127.0.0.1:{self.port}")
        super().__init__(exporter_command(*flags, *listen), logs, name="exporter", env=env, cwd=cwd)
