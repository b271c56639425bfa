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

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.families import Family, RenderContext

_format_float = cast(Callable[[float], str], floatToGoString)
Encoder = Callable[[CollectorRegistry], bytes]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _simple(metric: Metric) -> bool:
    return (
        metric.type in ("gauge", "counter")
        and not metric.unit
        and all(sample.timestamp is None and sample.exemplar is None for sample in metric.samples)
    )


def _family_text(metric: Metric, openmetrics: bool) -> str:
    name = metric.name
    if openmetrics:
        lines = [f"# HELP {name} {_escape(metric.documentation)}\n# TYPE {name} {metric.type}\n"]
    else:
        if metric.type == "counter":
            name += "_total"
        help_text = metric.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        lines = [f"# HELP {name} {help_text}\n# TYPE {name} {metric.type}\n"]
    for sample in metric.samples:
        if sample.labels:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
            lines.append(f"{sample.name}{{{labels}}} {_format_float(sample.value)}\n")
        else:
            lines.append(f"{sample.name} {_format_float(sample.value)}\n")
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


def declared_text(declared: Iterable[Declared], context: RenderContext, openmetrics: bool) -> str:
    """Families of families.py over their objects, written straight from their declarations
    (no prometheus-client objects in between): the same text ``encode`` writes for
    ``family.metric(objects)``, labels in name order as prometheus-client sorts them."""
    parts: list[str] = []
    for family, objects in declared:
        header = family.name if openmetrics else family.sample_name
        help_text = (
            _escape(family.help)
            if openmetrics
            else family.help.replace("\\", "\\\\").replace("\n", "\\n")
        )
        parts.append(f"# HELP {header} {help_text}\n# TYPE {header} {family.kind}\n")
        order = sorted(range(len(family.labels)), key=lambda index: family.labels[index])
        names = [family.labels[index] for index in order]
        sample = family.sample_name
        for item in objects:
            for values, value in family.series(item, context):
                if names:
                    labels = ",".join(
                        f'{name}="{_escape(values[index])}"'
                        for name, index in zip(names, order, strict=True)
                    )
                    parts.append(f"{sample}{{{labels}}} {_format_float(value)}\n")
                else:
                    parts.append(f"{sample} {_format_float(value)}\n")
    return "".join(parts)
