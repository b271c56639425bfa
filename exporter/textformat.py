"""The exporter's own families (health, aggregate, restore testing...) as text, fast.

prometheus-client's encoders check and escape every label name and value character by character
(for UTF-8 metric names, which ours never are): about 30 us a sample, so the health series of
1,000 targets cost several seconds a scrape. This writes the same bytes for the gauges and
counters without units, exemplars or timestamps that ``families.py`` declares, in both formats
(the Prometheus text format, and OpenMetrics, which names a counter's family without
``_total`` and escapes quotes in HELP); anything else goes through prometheus-client as before.
tests/test_textformat.py holds the two byte for byte against prometheus-client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.families import Family, RenderContext

_format_float = cast(Callable[[float], str], floatToGoString)
Encoder = Callable[[CollectorRegistry], bytes]


def format_value(value: float) -> str:
    """A sample's value as prometheus-client writes it (Go's float formatting), with the two
    values of every state-set sample (most of the per-job ones) answered without a call:
    floatToGoString was a twentieth of an organisation's start-up CPU."""
    if value == 1.0:
        return "1.0"
    if value == 0.0 and math.copysign(1.0, value) > 0:  # -0.0 == 0.0, and is written "-0.0"
        return "0.0"
    return _format_float(value)


def escape_label_value(value: str) -> str:
    """A label value (or OpenMetrics HELP text) escaped as both formats escape it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help_line(name: str, kind: str, text: str, openmetrics: bool) -> str:
    """A family's HELP and TYPE lines: OpenMetrics escapes quotes in HELP, the text format not."""
    escaped = (
        escape_label_value(text) if openmetrics else text.replace("\\", "\\\\").replace("\n", "\\n")
    )
    return f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n"


def _simple(metric: Metric) -> bool:
    return (
        metric.type in ("gauge", "counter")
        and not metric.unit
        and all(sample.timestamp is None and sample.exemplar is None for sample in metric.samples)
    )


def _family_text(metric: Metric, openmetrics: bool) -> str:
    name = metric.name if openmetrics or metric.type != "counter" else f"{metric.name}_total"
    lines = [_help_line(name, metric.type, metric.documentation, openmetrics)]
    for sample in metric.samples:
        if sample.labels:
            pairs = sorted(sample.labels.items())
            labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs)
            lines.append(f"{sample.name}{{{labels}}} {format_value(sample.value)}\n")
        else:
            lines.append(f"{sample.name} {format_value(sample.value)}\n")
    return "".join(lines)


class _One(Collector):
    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self._metric]


def encode(metrics: Iterable[Metric], encoder: Encoder, openmetrics: bool) -> bytes:
    """The families in order, as ``encoder`` (prometheus-client's, for the negotiated format)
    would write them, without OpenMetrics' closing ``# EOF`` (the caller adds it once)."""
    parts: list[bytes] = []
    for metric in metrics:
        if _simple(metric):
            parts.append(_family_text(metric, openmetrics).encode())
            continue
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_One(metric))
        text = encoder(registry)
        parts.append(text.removesuffix(b"# EOF\n"))
    return b"".join(parts)


Declared = tuple[Family[Any], Sequence[Any]]  # a declared family and the objects it shows


class LineCache:
    """Sample lines kept from one scrape to the next, by (sample name, label values, value).

    At 1,000 targets the exporter's own families are some 25,000 samples a scrape, and all but
    a few (data age, scrape duration) are the same as last time: a line found here costs a
    lookup instead of escaping every label value and formatting the float. Only the lines of the
    last two renders are kept, so what is gone (a target, an old value) leaves after two.
    Thread-safe: dict operations are atomic, and a line is a pure function of its key, so a
    render that misses one another render is filling only formats it again.
    """

    def __init__(self) -> None:
        self._current: dict[tuple[str, tuple[str, ...], float], str] = {}
        self._previous: dict[tuple[str, tuple[str, ...], float], str] = {}

    def rotate(self) -> None:
        """Start a new render: what the last one used stays, the rest leaves at the next."""
        self._previous, self._current = self._current, {}

    def get(self, key: tuple[str, tuple[str, ...], float]) -> str | None:
        line = self._current.get(key)
        if line is None:
            line = self._previous.get(key)
            if line is not None:
                self._current[key] = line
        return line

    def put(self, key: tuple[str, tuple[str, ...], float], line: str) -> None:
        self._current[key] = line


def declared_text(
    declared: Iterable[Declared],
    context: RenderContext,
    openmetrics: bool,
    lines: LineCache | None = None,
) -> str:
    """Families of families.py over their objects, written straight from their declarations
    (no prometheus-client objects in between): the same text ``encode`` writes for
    ``family.metric(objects)``, labels in name order as prometheus-client sorts them. With
    ``lines``, sample lines are reused from the last render where they are the same."""
    cache = lines if lines is not None else LineCache()
    cache.rotate()
    parts: list[str] = []
    for family, objects in declared:
        header = family.name if openmetrics else family.sample_name
        parts.append(_help_line(header, family.kind, family.help, openmetrics))
        order = sorted(range(len(family.labels)), key=lambda index: family.labels[index])
        names = [family.labels[index] for index in order]
        sample = family.sample_name
        for item in objects:
            for values, value in family.series(item, context):
                if value == 0.0 and math.copysign(1.0, value) < 0:  # -0.0 == 0.0, not "0.0"
                    parts.append(_sample_line(sample, names, order, values, value))
                    continue
                key = (sample, values, value)
                line = cache.get(key)
                if line is None:
                    line = _sample_line(sample, names, order, values, value)
                    cache.put(key, line)
                parts.append(line)
    return "".join(parts)


def _sample_line(
    sample: str, names: Sequence[str], order: Sequence[int], values: Sequence[str], value: float
) -> str:
    if not names:
        return f"{sample} {format_value(value)}\n"
    labels = ",".join(
        f'{name}="{escape_label_value(values[index])}"'
        for name, index in zip(names, order, strict=True)
    )
    return f"{sample}{{{labels}}} {format_value(value)}\n"
