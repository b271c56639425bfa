"""The HTTP server's limits as flags (``--web.read-timeout`` and friends), each with an
environment variable fallback, read into exporter.server.Limits and the auth and reload knobs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

from exporter.durations import parse_duration
from exporter.server import Limits

ENV_PREFIX = "AWS_BACKUP_RESTORE_EXPORTER_"
DEFAULTS = Limits()


@dataclass(frozen=True)
class ServerSettings:
    limits: Limits
    bcrypt_budget: float  # CPU seconds of failed or first-time bcrypt checks per second
    reload_interval: float  # how often the web config and its files are looked at; 0: never


# flag, dest, env name, default text, kind ("duration", "count", "share"), help
_FLAGS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("--web.read-timeout", "read_timeout", "WEB_READ_TIMEOUT", "10s", "duration",
     "how long a new connection may take for its TLS handshake and whole request head"),
    ("--web.idle-timeout", "idle_timeout", "WEB_IDLE_TIMEOUT", "60s", "duration",
     "how long a kept-alive connection may wait for its next request head"),
    ("--web.write-timeout", "write_timeout", "WEB_WRITE_TIMEOUT", "60s", "duration",
     "how long a client may take to receive an answer"),
    ("--web.max-connections", "max_connections", "WEB_MAX_CONNECTIONS", "1024", "count",
     "open connections at most; past it the one waiting longest for its request is closed "
     "(in a flood, a newcomer without its whole request)"),
    ("--web.max-concurrent-requests", "max_concurrent_requests",
     "WEB_MAX_CONCURRENT_REQUESTS", "64", "count",
     "requests answered at once (worker threads); the others wait for a worker"),
    ("--web.shutdown-timeout", "shutdown_timeout", "WEB_SHUTDOWN_TIMEOUT", "15s", "duration",
     "on SIGTERM, how long requests in flight may take to finish"),
    ("--web.basic-auth.bcrypt-budget", "bcrypt_budget", "WEB_BASIC_AUTH_BCRYPT_BUDGET", "0.5",
     "share", "CPU seconds per second that bcrypt checks may use; past it, 429 without a check"),
    ("--web.config.reload-interval", "reload_interval", "WEB_CONFIG_RELOAD_INTERVAL", "10s",
     "duration", "how often the web config file and its certificates are checked for "
     "changes (0 turns reloading off)"),
)  # fmt: skip


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    for flag, dest, env, default, _, help_text in _FLAGS:
        parser.add_argument(
            flag,
            dest=dest,
            metavar="DURATION" if "timeout" in dest or "interval" in dest else "N",
            default=os.environ.get(ENV_PREFIX + env, default),
            help=f"{help_text} (env {env}; default {default})",
        )


def _count(text: str) -> float:
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1024:
        raise ValueError("must be above 0 (CPU seconds per second, e.g. 0.5)")
    return value


def _positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError("must be above 0")
    return value


_KINDS: dict[str, Callable[[str], float]] = {
    "duration": _positive_duration,
    "count": _count,
    "share": _share,
}


def read_server_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ServerSettings:
    """The settings, or exit 2 with a message naming the bad flag."""
    values: dict[str, float] = {}
    for flag, dest, _, _, kind, _ in _FLAGS:
        text = str(getattr(args, dest))
        convert = parse_duration if dest == "reload_interval" else _KINDS[kind]
        try:
            values[dest] = convert(text)
        except ValueError as error:
            parser.error(f"{flag}: {error} (got {text!r})")
    budget = values.pop("bcrypt_budget")
    interval = values.pop("reload_interval")
    limits = Limits(
        read_timeout=values["read_timeout"],
        idle_timeout=values["idle_timeout"],
        write_timeout=values["write_timeout"],
        max_connections=int(values["max_connections"]),
        max_concurrent_requests=int(values["max_concurrent_requests"]),
        shutdown_timeout=values["shutdown_timeout"],
    )
    return ServerSettings(limits, budget, interval)
