"""How a metric family is declared: name, type, help, labels and value function, side by side.

The model is kube-state-metrics' ``FamilyGenerator``: one declaration per family says everything
a user depends on (the contract) and how each sample is computed from an object, so the list of
families, the order of their labels and the samples cannot drift apart. Both renderers (the
cached per-job text in exposition.py and prometheus-client's encoders for the rest) and the
README's metric table (checked by a test) are driven by these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

T = TypeVar("T")

LabelValues = tuple[str, ...]
Sample = tuple[LabelValues, float]  # label values in the family's label order, and the value
Kind = Literal["gauge", "counter"]


@dataclass(frozen=True)
class RenderContext:
    """What a value function may need besides its object: the scrape's time and the limits."""

    now: float
    message_max_length: int = 256


def _no_identity(_: object) -> LabelValues:
    return ()


@dataclass(frozen=True)
class Identity(Generic[T]):
    """Leading labels that every sample of one object carries (a job's account, region, ID...).

    Declared once for a group of families, so that the cached renderer formats them once per
    object rather than once per line.
    """

    labels: tuple[str, ...] = ()
    values: Callable[[T], LabelValues] = _no_identity


@dataclass(frozen=True)
class Family(Generic[T]):
    """One metric family: its contract and how to compute its samples from one object.

    ``labels`` are all its labels in exposition order: the identity's first, then its own.
    ``samples`` yields, for one object (a job, a target's health...), each sample's values of
    its own labels (those after the identity) and its value. A counter is named without
    ``_total``; the exposition adds it, as prometheus-client does.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    samples: Callable[[T, RenderContext], Iterable[Sample]]
    identity: Identity[T] = field(default_factory=Identity)
    # Whether its samples of an unchanged object read the render's clock (context.now), as a
    # running job's duration does: the cached renderer re-renders only these on a scrape.
    varies_with_time: bool = False

    def __post_init__(self) -> None:
        if self.labels[: len(self.identity.labels)] != self.identity.labels:
            raise ValueError(f"{self.name}: labels must start with the identity's")

    @property
    def own_labels(self) -> tuple[str, ...]:
        return self.labels[len(self.identity.labels) :]

    def series(self, item: T, context: RenderContext) -> Iterator[Sample]:
        """Every sample of one object with all its label values."""
        ident = self.identity.values(item)
        for values, value in self.samples(item, context):
            yield ident + values, value

    @property
    def sample_name(self) -> str:
        """The name its samples carry in the exposition."""
        return f"{self.name}_total" if self.kind == "counter" else self.name

    def metric(self, objects: Iterable[T], context: RenderContext) -> Metric:
        """A prometheus-client family with every object's samples, for its encoders."""
        family_class = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = family_class(self.name, self.help, labels=self.labels)
        for item in objects:
            for values, value in self.series(item, context):
                family.add_metric(values, value)
        return family


def metrics(
    families: Sequence[Family[T]], objects: Sequence[T], context: RenderContext
) -> list[Metric]:
    """Every family of a group over the same objects."""
    return [family.metric(objects, context) for family in families]


def state_set(current: str | None, states: Sequence[str]) -> Iterator[tuple[str, float]]:
    """kube-state-metrics' state set: every known state, 1 for the current one, 0 for the rest.

    An unknown state that AWS adds one day still shows as 1, next to the known ones at 0:
    hiding it would hide the object.
    """
    for state in states:
        yield state, 1.0 if state == current else 0.0
    if current is not None and current not in states:
        yield current, 1.0


def present(value: float | None) -> tuple[Sample, ...]:
    """One sample without labels of its own when there is a value; none (absent) otherwise."""
    return () if value is None else (((), value),)
