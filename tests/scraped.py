"""Reading an exporter's metrics the way Prometheus does: through the WSGI app production serves.

Every read is one scrape (one GET of /metrics), rendered by the same code as a real scrape and
parsed back with prometheus-client's own text parser, so a test can only see what a user sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from exporter.exposition import JobTextCache, body_text, render_scrape
from exporter.http import MetricsApp
from exporter.store import Scrape


def metrics_text(app: MetricsApp, query: str = "") -> str:
    """The body of one GET /metrics (Prometheus text format)."""
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": app.telemetry_path, "QUERY_STRING": query}
    body = b"".join(app(environ, start_response))
    assert seen["status"] == "200 OK", seen
    return body.decode()


class Scraped:
    """An exporter seen from outside: ``samples()`` and ``get_sample_value()`` scrape once each."""

    def __init__(self, exporter: object) -> None:
        app = MetricsApp(exporter)  # type: ignore[arg-type]
        self._body: Callable[[], str] = lambda: metrics_text(app)

    @classmethod
    def of(cls, scrape: Scrape, message_max_length: int = 256) -> Scraped:
        """One scrape already taken, rendered as /metrics renders it, every read the same."""
        chunks, _ = render_scrape(scrape, JobTextCache(message_max_length), None)
        text = body_text(chunks).decode()
        seen = cls.__new__(cls)
        seen._body = lambda: text
        return seen

    def text(self) -> str:
        return self._body()

    def families(self) -> list[Metric]:
        """The metric families of one scrape, parsed back (HELP and TYPE included)."""
        return list(text_string_to_metric_families(self.text()))

    def samples(self) -> list[Sample]:
        """Every sample of one scrape (counters under their ``_total`` names), read as
        Prometheus stores it: a label with an empty value is no label (``account_id=""`` of a
        target whose account is not known)."""
        return [
            sample._replace(labels={k: v for k, v in sample.labels.items() if v != ""})
            for family in self.families()
            for sample in family.samples
        ]

    def get_sample_value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """The value of the one sample with this name and exactly these labels, as
        ``CollectorRegistry.get_sample_value`` answers it; None when absent."""
        wanted = dict(labels or {})
        for sample in self.samples():
            if sample.name == name and sample.labels == wanted:
                return sample.value
        return None

    def state(self, name: str, label: str, **labels: str) -> str | None:
        """The state whose series is 1 in a state set, for the series matching ``labels``."""
        current = [
            sample.labels[label]
            for sample in self.samples()
            if sample.name == name
            and sample.value == 1
            and all(sample.labels.get(key) == value for key, value in labels.items())
        ]
        assert len(current) <= 1, current
        return current[0] if current else None
