"""The server's limits as flags: read into the limits the server runs with, environment
variables as fallbacks, a bad value stopping start-up with a message naming the flag."""

from __future__ import annotations

import os

import pytest

from exporter.cli import build_parser
from exporter.server import Limits
from exporter.serverflags import read_server_flags
from tests.processes import run_exporter


def settings(*argv):
    parser = build_parser()
    return read_server_flags(parser.parse_args(["--demo", *argv]), parser)


def test_the_defaults_are_the_documented_ones():
    read = settings()
    assert read.limits == Limits()
    assert (read.limits.read_timeout, read.limits.idle_timeout) == (10.0, 60.0)
    assert (read.limits.max_connections, read.limits.max_concurrent_requests) == (1024, 64)
    assert read.limits.shutdown_timeout == 15.0
    assert (read.bcrypt_budget, read.reload_interval) == (0.5, 10.0)


def test_every_limit_can_be_set():
    read = settings(
        "--web.read-timeout=2s", "--web.idle-timeout=5m", "--web.write-timeout=30s",
        "--web.max-connections=64", "--web.max-concurrent-requests=4",
        "--web.shutdown-timeout=1m", "--web.basic-auth.bcrypt-budget=0.25",
        "--web.config.reload-interval=0",
    )  # fmt: skip
    assert read.limits == Limits(
        read_timeout=2.0,
        idle_timeout=300.0,
        write_timeout=30.0,
        max_connections=64,
        max_concurrent_requests=4,
        shutdown_timeout=60.0,
    )
    assert (read.bcrypt_budget, read.reload_interval) == (0.25, 0.0)


def test_environment_variables_are_the_fallback(monkeypatch):
    monkeypatch.setenv("AWS_BACKUP_RESTORE_EXPORTER_WEB_MAX_CONNECTIONS", "10")
    monkeypatch.setenv("AWS_BACKUP_RESTORE_EXPORTER_WEB_READ_TIMEOUT", "3s")
    read = settings()
    assert (read.limits.max_connections, read.limits.read_timeout) == (10, 3.0)
    assert settings("--web.max-connections=11").limits.max_connections == 11  # flags win


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--web.read-timeout", "soon"),
        ("--web.idle-timeout", "0s"),
        ("--web.max-connections", "0"),
        ("--web.max-concurrent-requests", "many"),
        ("--web.shutdown-timeout", "-1s"),
        ("--web.basic-auth.bcrypt-budget", "0"),
        ("--web.config.reload-interval", "often"),
    ],
)
def test_a_bad_value_exits_non_zero_naming_the_flag(flag, value, capsys):
    with pytest.raises(SystemExit) as exited:
        settings(f"{flag}={value}")
    assert exited.value.code == 2
    assert f"{flag}: " in capsys.readouterr().err


def test_the_program_refuses_a_bad_limit_before_starting():
    env = {**os.environ, "AWS_BACKUP_RESTORE_EXPORTER_WEB_IDLE_TIMEOUT": "whenever"}
    result = run_exporter("--demo", "--config.check", env=env)
    assert result.returncode == 2
    assert "--web.idle-timeout: " in result.stderr
