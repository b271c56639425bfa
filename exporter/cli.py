"""Command line: Prometheus-style dotted flags, each with an environment variable fallback."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from exporter import __version__
from exporter.config import Config, ConfigError, DiscoveryConfig, TargetConfig, load_config
from exporter.gc_tuning import tune_collector
from exporter.http import MetricsApp, make_http_server, parse_listen_address, serve_in_thread
from exporter.job_summaries_config import RestoreJobSummariesConfig
from exporter.logs import setup_logging
from exporter.reload import WebReloader, site_for
from exporter.scheduler import Exporter
from exporter.server import HttpServer
from exporter.serverflags import ServerSettings, add_server_flags, read_server_flags
from exporter.targets import Shard
from exporter.webauth import BcryptBudget
from exporter.webconfig import WebConfig, WebConfigError, load_web_config

log = logging.getLogger("exporter")

ENV_PREFIX = "AWS_BACKUP_RESTORE_EXPORTER_"
DEFAULT_LISTEN_ADDRESS = ":9798"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-backup-restore-exporter",
        description="Prometheus exporter for AWS Backup restore jobs and restore testing.",
        epilog=f"Every flag can also be set with an environment variable {ENV_PREFIX}<NAME>, "
        "e.g. AWS_BACKUP_RESTORE_EXPORTER_CONFIG_FILE.",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        metavar="FILE",
        default=_env("CONFIG_FILE"),
        help="YAML configuration file (env CONFIG_FILE). Required unless --demo.",
    )
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration file, print a summary and exit",
    )
    _add_web_flags(parser)
    _add_shard_flags(parser)
    add_server_flags(parser)
    _add_log_flags(parser)
    parser.add_argument(
        "--collector.process",
        dest="process_metrics",
        action="store_true",
        default=_env("COLLECTOR_PROCESS", "false") == "true",
        help="also expose prometheus-client's process, platform and GC metrics",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=_env("DEMO", "false") == "true",
        help="start a local AWS Backup endpoint with changing demo restore jobs and export "
        "those; needs no AWS account",
    )
    parser.add_argument(
        "--version", action="version", version=f"aws-backup-restore-exporter {__version__}"
    )
    return parser


def _add_web_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        metavar="HOST:PORT",
        default=_env("WEB_LISTEN_ADDRESS", DEFAULT_LISTEN_ADDRESS),
        help=f"address to serve HTTP on (env WEB_LISTEN_ADDRESS; default {DEFAULT_LISTEN_ADDRESS})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        default=_env("WEB_CONFIG_FILE"),
        help="exporter-toolkit web configuration (TLS, client certificates, basic auth, "
        "headers) for the HTTP endpoints (env WEB_CONFIG_FILE)",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        metavar="PATH",
        default=_env("WEB_TELEMETRY_PATH", "/metrics"),
        help="path under which to expose metrics (default /metrics)",
    )


def _add_shard_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shard",
        metavar="N",
        default=_env("SHARD", "0"),
        help="this replica's shard, 0..total-shards-1, or a StatefulSet pod name such as "
        "exporter-3 whose ordinal is the shard (env SHARD; default 0)",
    )
    parser.add_argument(
        "--total-shards",
        dest="total_shards",
        metavar="M",
        default=_env("TOTAL_SHARDS", "1"),
        help="how many replicas share the targets; each keeps those whose hash of (account, "
        "region) falls in its shard (env TOTAL_SHARDS; default 1)",
    )


def read_shard(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Shard:
    """The --shard and --total-shards flags as a Shard; a bad value is a usage error."""
    total_text, shard_text = str(args.total_shards), str(args.shard)
    # [0-9], not isdigit(): "²" is a digit to Python but not a number to int()
    if not re.fullmatch(r"[0-9]+", total_text) or int(total_text) < 1:
        parser.error(f"--total-shards: expected a whole number of at least 1, got {total_text!r}")
    # A number, or a pod name: a DNS label prefix, then "-" and the StatefulSet ordinal.
    ordinal = re.fullmatch(r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-)?([0-9]+)", shard_text)
    if ordinal is None:
        parser.error(
            f"--shard: expected a number or a StatefulSet pod name ending in -N, got {shard_text!r}"
        )
    total, index = int(total_text), int(ordinal.group(1))
    if index >= total:
        parser.error(f"--shard: {index} is not below --total-shards {total}")
    return Shard(index, total)


def _add_log_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default=_env("LOG_LEVEL", "info"),
        choices=("debug", "info", "warn", "error"),
        help="log level (default info)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        default=_env("LOG_FORMAT", "logfmt"),
        choices=("logfmt", "json"),
        help="log line format (default logfmt)",
    )


def demo_config(endpoint: Any) -> Config:
    """The demo's targets: the real exporter path, pointed at the local endpoint."""
    targets = tuple(
        TargetConfig(
            name=f"demo-{region}",
            region=region,
            endpoint_url=endpoint.url,
            restore_job_ids=tuple(endpoint.configured_job_ids(region)),
            discovery=DiscoveryConfig(lookback_seconds=86400.0),
            # the demo's account is the fake's organisation management account: it may count
            # every account's jobs, as AWS lets a management account
            restore_job_summaries=RestoreJobSummariesConfig(enabled=True),
        )
        for region in endpoint.regions
    )
    return Config(targets=targets)


def _validate_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    try:
        parse_listen_address(args.listen_address)
    except ValueError as error:
        parser.error(f"--web.listen-address: {error}")
    if not args.telemetry_path.startswith("/") or args.telemetry_path in ("/", "/healthz"):
        parser.error("--web.telemetry-path: must start with / and not be / or /healthz")
    if not args.demo and not args.config_file:
        parser.error("--config.file is required (or use --demo to try the exporter without AWS)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate_flags(args, parser)
    args.server = read_server_flags(args, parser)
    args.shard_of = read_shard(args, parser)
    setup_logging(args.log_level, args.log_format)

    endpoint = None
    try:
        if args.demo:
            from exporter.demo.endpoint import DemoEndpoint  # the fake AWS only when asked for

            endpoint = DemoEndpoint()
            endpoint.start()
            config = demo_config(endpoint)
            if args.config_file:
                log.info("--demo: ignoring --config.file %s", args.config_file)
            log.info("demo AWS Backup endpoint at %s", endpoint.url)
        else:
            config = load_config(args.config_file)
    except ConfigError as error:
        print(f"aws-backup-restore-exporter: invalid configuration: {error}", file=sys.stderr)
        return 1
    except ImportError as error:
        print(
            f"aws-backup-restore-exporter: --demo needs the 'demo' extra "
            f"(pip install 'aws-backup-restore-exporter[demo]'): {error}",
            file=sys.stderr,
        )
        return 1

    web = WebConfig()
    if args.web_config_file:
        try:
            web = load_web_config(args.web_config_file)
        except WebConfigError as error:
            print(
                f"aws-backup-restore-exporter: invalid web configuration: {error}", file=sys.stderr
            )
            if endpoint is not None:
                endpoint.stop()
            return 1

    if args.config_check:
        names = ", ".join(f"{t.name} ({t.region})" for t in config.targets)
        listed = f": {names}" if names else " besides the organization's"
        print(f"configuration OK: {len(config.targets)} target(s){listed}")
        if config.organization is not None:
            print(f"organization: {_describe_organization(config)}")
        if args.web_config_file:
            tls = "off" if web.tls is None else f"on, client auth {web.tls.client_auth_type}"
            print(f"web configuration OK: TLS {tls}, basic auth users: {len(web.basic_auth_users)}")
        return 0
    return serve(config, args, endpoint, web)


def _describe_organization(config: Config) -> str:
    organization = config.organization
    assert organization is not None
    regions = organization.regions
    where = "each account's enabled regions" if regions == "enabled" else ", ".join(regions)
    scope = (
        f"OUs {', '.join(organization.organizational_units)}"
        if organization.organizational_units
        else "every account"
    )
    return (
        f"{scope} in {where}, through {organization.member_role_arn}, refreshed every "
        f"{organization.refresh_interval_seconds:g}s; targets sync every "
        f"{config.sync.interval_seconds:g}s"
    )


def serve(
    config: Config, args: argparse.Namespace, endpoint: Any = None, web: WebConfig | None = None
) -> int:
    tune_collector()
    exporter = Exporter(config, shard=getattr(args, "shard_of", None))
    exporter.start()
    web = web or WebConfig()
    settings: ServerSettings = args.server
    budget = BcryptBudget(settings.bcrypt_budget)
    metrics_app = MetricsApp(exporter, args.telemetry_path, _process_registry(args))
    site = site_for(metrics_app, web, budget)
    try:
        server = make_http_server(
            site.app, args.listen_address, site.ssl_context, site.peer_check, settings.limits
        )
    except OSError as error:
        log.error("cannot listen on %s: %s", args.listen_address, error.strerror or error)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _log_start(server, config, web, settings)
    if args.web_config_file and settings.reload_interval > 0:

        def apply(new: WebConfig) -> None:
            server.site = site_for(metrics_app, new, budget)

        reloader = WebReloader(args.web_config_file, web, apply)
        metrics_app.web_config_status = reloader.status
        reloader.run(settings.reload_interval, stop)
    thread = serve_in_thread(server)
    try:
        while not stop.wait(1.0):
            if not thread.is_alive():
                log.error("the HTTP server stopped unexpectedly")
                return 1
        return _shut_down(server, thread)
    finally:
        server.server_close()
        exporter.close()
        if endpoint is not None:
            endpoint.stop()


def _process_registry(args: argparse.Namespace) -> Any:
    if not args.process_metrics:
        return None
    from prometheus_client import gc_collector, platform_collector, process_collector
    from prometheus_client.core import CollectorRegistry

    extra = CollectorRegistry()
    process_collector.ProcessCollector(registry=extra)
    platform_collector.PlatformCollector(registry=extra)
    gc_collector.GCCollector(registry=extra)
    return extra


def _shut_down(server: HttpServer, thread: threading.Thread) -> int:
    """Stop accepting, let requests in flight finish (up to the shutdown timeout), say so."""
    started = time.monotonic()
    in_flight = server.in_flight
    server.shutdown()
    thread.join(timeout=5)
    took = time.monotonic() - started
    if server.cut_off:
        log.warning(
            "shut down in %.1fs: %d request(s) still running were cut off at the %gs timeout",
            took,
            server.cut_off,
            server.limits.shutdown_timeout,
        )
    else:
        log.info("shut down in %.1fs, %d request(s) in flight finished", took, in_flight)
    return 0


def _log_start(
    server: HttpServer, config: Config, web: WebConfig, settings: ServerSettings
) -> None:
    host, port = server.server_address[:2]
    log.info(
        "aws-backup-restore-exporter %s listening on %s:%s, %d static target(s)%s",
        __version__,
        host,
        port,
        len(config.targets),
        ", organization discovery on" if config.organization else "",
    )
    interval = config.sync.interval_seconds
    log.info(
        "targets sync %s",
        f"in the background every {interval:g}s" if interval else "when scraped",
    )
    limits = settings.limits
    log.debug(
        "HTTP limits: read timeout %gs, idle timeout %gs, %d connections, %d requests at once",
        limits.read_timeout,
        limits.idle_timeout,
        limits.max_connections,
        limits.max_concurrent_requests,
    )
    if web.tls is not None:
        log.info(
            "TLS on (%s to %s), client certificates: %s",
            web.tls.min_version,
            web.tls.max_version,
            web.tls.client_auth_type,
        )
    if web.basic_auth_users:
        log.info("basic auth on for %d user(s); /healthz stays open", len(web.basic_auth_users))
        if web.tls is None:
            log.warning("basic auth without TLS: passwords cross the network in clear text")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
