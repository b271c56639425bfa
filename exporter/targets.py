"""Where targets come from: the config file, AWS Organizations, and which of them are ours.

The scheduler asks its target source for the current targets (on every scrape, and every second
in the background) and reconciles: a new target gets a sync of its own, a target that is gone
takes its series with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from exporter.config import TargetConfig


class TargetSource(Protocol):
    """Anything that can say which targets exist now."""

    def targets(self) -> Sequence[TargetConfig]: ...


class StaticTargets:
    """The targets written in the config file."""

    def __init__(self, targets: Sequence[TargetConfig]) -> None:
        self._targets = tuple(targets)

    def targets(self) -> Sequence[TargetConfig]:
        return self._targets


@dataclass(frozen=True)
class Shard:
    """This replica's share of the targets: ``index`` of ``total``, as kube-state-metrics shards
    objects. A target's shard is a stable hash of its account and region, so every replica
    agrees without talking to the others, and a restarted replica takes the same targets."""

    index: int = 0
    total: int = 1

    def owns(self, target: TargetConfig) -> bool:
        if self.total == 1:
            return True
        account, region = target.key
        digest = hashlib.sha256(f"{account}/{region}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.total == self.index


class CombinedTargets:
    """Static targets first, then each discovery's; the same (account, region) twice is one
    target (the first: a static target's settings are explicit), and only this shard's."""

    def __init__(self, sources: Sequence[TargetSource], shard: Shard = Shard()) -> None:
        self._sources = tuple(sources)
        self.shard = shard
        self._last: tuple[tuple[Sequence[TargetConfig], ...], tuple[TargetConfig, ...]] | None
        self._last = None

    def targets(self) -> Sequence[TargetConfig]:
        # Asked every second and on every scrape; the sources hand out the same sequence until
        # they change, so the last combination (1,000 hashes and lookups) is reused until then.
        current = tuple(source.targets() for source in self._sources)
        last = self._last
        if last is not None and all(a is b for a, b in zip(last[0], current, strict=True)):
            return last[1]
        chosen: dict[tuple[str, str], TargetConfig] = {}
        names: set[str] = set()
        for targets in current:
            for target in targets:
                if target.key in chosen or target.name in names or not self.shard.owns(target):
                    continue
                chosen[target.key] = target
                names.add(target.name)
        combined = tuple(chosen.values())
        self._last = (current, combined)
        return combined
