"""Where targets come from: the config file today; discovery (AWS Organizations) plugs in here.

The scheduler asks its target source for the current targets on every scrape and reconciles:
a new target gets a sync of its own, a target that is gone takes its series with it.
"""

from __future__ import annotations

from collections.abc import Sequence
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
