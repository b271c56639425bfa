"""The families of target discovery (AWS Organizations): is it working, and what did it find.

A discovery failure keeps the last known targets, so these series are how a user learns that
the target list has stopped following the organisation.
"""

from __future__ import annotations

from collections.abc import Callable

from exporter.families import Family, Identity, present
from exporter.store import DiscoveryStatus

BY_DISCOVERY: Identity[DiscoveryStatus] = Identity(("discovery",), lambda d: (d.name,))


def _gauge(
    name: str, help: str, read: Callable[[DiscoveryStatus], float | None]
) -> Family[DiscoveryStatus]:
    return Family(
        name, "gauge", help, BY_DISCOVERY.labels, lambda d, _: present(read(d)), BY_DISCOVERY
    )


DISCOVERY_FAMILIES: tuple[Family[DiscoveryStatus], ...] = (
    _gauge(
        "aws_backup_restore_exporter_discovery_up",
        "1 if the last discovery run succeeded, 0 if it failed (the last known targets are kept).",
        lambda d: 1.0 if d.up else 0.0,
    ),
    _gauge(
        "aws_backup_restore_exporter_discovery_targets",
        "Targets (account and region pairs) the last discovery run found, before sharding.",
        lambda d: float(d.targets),
    ),
    _gauge(
        "aws_backup_restore_exporter_discovery_accounts",
        "Active accounts the last discovery run found, after the account and OU filters.",
        lambda d: float(d.accounts),
    ),
    _gauge(
        "aws_backup_restore_exporter_discovery_last_success_timestamp_seconds",
        "When discovery last succeeded (Unix time); absent before its first success.",
        lambda d: d.last_success_timestamp,
    ),
    _gauge(
        "aws_backup_restore_exporter_discovery_duration_seconds",
        "How long the last discovery run took.",
        lambda d: d.last_duration_seconds,
    ),
)
