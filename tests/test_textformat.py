"""The exporter's own families written by textformat.py are byte for byte what prometheus-client
would write, in the Prometheus text format and in OpenMetrics, hostile strings included."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.exposition import scrape_families, scrape_metrics
from exporter.families import Family, RenderContext
from exporter.textformat import LineCache, declared_text, encode, format_value
from tests.offline_aws import PROMETHEUS_ACCEPT
from tests.test_exposition_table import CASES

FORMATS = {"text": "text/plain", "openmetrics": PROMETHEUS_ACCEPT}


class _Fixed(Collector):
    def __init__(self, metrics):
        self._metrics = metrics

    def collect(self):
        return self._metrics


def reference(metrics, accept):
    encoder, _ = choose_encoder(accept)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    return encoder(registry).removesuffix(b"# EOF\n")


def ours(metrics, accept):
    encoder, content_type = choose_encoder(accept)
    return encode(metrics, encoder, content_type.startswith("application/openmetrics-text"))


@pytest.mark.parametrize("accept", FORMATS.values(), ids=FORMATS.keys())
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_family_of_the_exposition_table_as_prometheus_client_writes_it(case, accept):
    scrape = CASES[case][0]
    metrics = scrape_metrics(scrape)
    expected = reference(metrics, accept)
    assert ours(metrics, accept) == expected
    openmetrics = accept != "text/plain"
    direct = declared_text(scrape_families(scrape), RenderContext(scrape.now), openmetrics)
    assert direct.encode() == expected  # straight from the declarations, no Metric between


text = st.text(st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(help_text=text, values=st.lists(text, min_size=1, max_size=4),
       number=st.floats(allow_nan=True, allow_infinity=True))  # fmt: skip
def test_any_strings_and_numbers_as_prometheus_client_writes_them(help_text, values, number):
    gauge = GaugeMetricFamily("a_gauge", help_text, labels=["l"])
    counter = CounterMetricFamily("a_thing", help_text, labels=["l", "m"])
    for index, value in enumerate(values):
        gauge.add_metric([value], number)
        counter.add_metric([value, str(index)], abs(number) if number == number else 0.0)
    for accept in FORMATS.values():
        assert ours([gauge, counter], accept) == reference([gauge, counter], accept)


@settings(max_examples=100, deadline=None)
@example(rounds=[[("a", 0.0)], [("a", -0.0)], [("a", 0.0)]])
@given(
    rounds=st.lists(
        st.lists(st.tuples(text, st.floats(allow_nan=True, allow_infinity=True)), max_size=5),
        min_size=2,
        max_size=4,
    )
)
def test_lines_kept_from_the_last_scrape_never_change_what_is_written(rounds):
    # scrape after scrape (values changing, series coming and going, -0.0 beside 0.0), the
    # text written with the kept lines is the text written afresh
    family = Family("a_gauge", "gauge", "help", ("l",), lambda item, _: [((item[0],), item[1])])
    kept = LineCache()
    context = RenderContext(0.0)
    for objects in rounds:
        for openmetrics in (False, True):
            fresh = declared_text([(family, objects)], context, openmetrics)
            assert declared_text([(family, objects)], context, openmetrics, kept) == fresh


@given(st.one_of(st.floats(), st.sampled_from([0, 1, True, False, 0.0, -0.0, 1.0, -1.0])))
@example(-0.0)
@example(1e-300)
def test_a_value_is_written_as_prometheus_client_writes_it(value):
    assert format_value(value) == floatToGoString(value)
