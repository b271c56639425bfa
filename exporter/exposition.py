"""The /metrics body, at a cost proportional to what changed since the last scrape.

Formatting 10,000 jobs' ~150,000 samples through prometheus-client takes over a second of Python
on every scrape, although almost all of those jobs are finished and never change. So each job's
lines are rendered once and kept, keyed by the job (an immutable value: a changed job is a new
value), and only jobs still PENDING or RUNNING (whose duration grows) are rendered again. A
scrape then only joins cached strings.

The small remainder (aggregate, health, build info) goes through prometheus-client's own
encoders, which also choose the format from the Accept header: the per-job text is the same in
the Prometheus text format and in OpenMetrics (gauges only, same escaping, same float format),
and is placed before OpenMetrics' closing ``# EOF``.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.discovery_families import DISCOVERY_FAMILIES
from exporter.families import RenderContext, metrics
from exporter.health_families import (
    BUILD,
    BUILD_INFO_FAMILY,
    TARGET_FAMILIES,
    WEB_CONFIG_FAMILIES,
)
from exporter.job_families import (
    AGGREGATE_FAMILY,
    JOB_FAMILIES,
    JOB_IDENTITY,
    identity,
    job_groups,
)
from exporter.job_summary_families import JOB_SUMMARY_FAMILIES
from exporter.model import RestoreJob
from exporter.restore_testing_families import (
    PLAN_FAMILIES,
    PROTECTED_RESOURCE_FAMILY,
    SELECTION_FAMILIES,
    SUCCESS_FAMILY,
)
from exporter.store import Scrape

_EOF = b"# EOF\n"
# prometheus-client's own float spelling ("1.0", "+Inf", "1.5e+09"), so both paths agree.
_format_float = cast(Callable[[float], str], floatToGoString)
_GZIP_LEVEL = 6  # a 20 MB body compresses ~15x at level 6, in a fraction of level 9's time


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(
        f'{name}="{escape_label_value(value)}"' for name, value in zip(names, values, strict=True)
    )


Key = tuple[str, ...]
_JOB_LAYOUT = tuple((family, family.own_labels) for family in JOB_FAMILIES)


class JobTextCache:
    """Rendered bytes of each job's series, per family, reused while the job is unchanged."""

    def __init__(self, message_max_length: int) -> None:
        self.message_max_length = message_max_length
        self._cache: dict[Key, tuple[RestoreJob, tuple[bytes, ...]]] = {}
        self._lock = threading.Lock()
        self.rendered_last = 0  # jobs rendered (not reused) by the last call, for benchmarks

    def _render_job(self, job: RestoreJob, now: float) -> tuple[bytes, ...]:
        context = RenderContext(now, self.message_max_length)
        ident = _label_text(JOB_IDENTITY.labels, JOB_IDENTITY.values(job))
        rendered = []
        for family, own_labels in _JOB_LAYOUT:
            lines = []
            for values, value in family.samples(job, context):
                labels = f"{ident},{_label_text(own_labels, values)}" if values else ident
                lines.append(f"{family.name}{{{labels}}} {_format_float(value)}\n")
            rendered.append("".join(lines).encode())
        return tuple(rendered)

    def family_chunks(self, jobs: Iterable[RestoreJob], now: float) -> list[list[bytes]]:
        """Per JOB_FAMILIES entry, the cached bytes of every job's lines, in job order.

        Chunks are shared with the cache, not copied: a scrape of 10,000 jobs allocates lists
        of references, not a second copy of the text.
        """
        with self._lock:
            old = self._cache
        new: dict[Key, tuple[RestoreJob, tuple[bytes, ...]]] = {}
        parts: list[list[bytes]] = [[] for _ in JOB_FAMILIES]
        rendered = 0
        for job in jobs:
            key = identity(job)
            cached = old.get(key)
            if cached is not None and not job.is_active and (cached[0] is job or cached[0] == job):
                texts = cached[1]
            else:
                texts = self._render_job(job, now)
                rendered += 1
            new[key] = (job, texts)
            for index, text in enumerate(texts):
                if text:
                    parts[index].append(text)
        with self._lock:
            self._cache = new  # jobs gone from the scrape leave the cache with it
            self.rendered_last = rendered
        return parts


class _Families(Collector):
    """A collector over families already built for this scrape."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


_HEADERS = {
    f.name: f"# HELP {f.name} {f.help}\n# TYPE {f.name} {f.kind}\n".encode() for f in JOB_FAMILIES
}


def scrape_metrics(scrape: Scrape) -> list[Metric]:
    """The families that are not per job: the aggregate (always there, so that alerting need
    not touch per-job series), the exporter's health and its build info."""
    context = RenderContext(scrape.now)
    return [
        AGGREGATE_FAMILY.metric(job_groups(scrape.all_jobs()), context),
        *metrics(PLAN_FAMILIES, scrape.plans(), context),
        *metrics(SELECTION_FAMILIES, scrape.selections(), context),
        SUCCESS_FAMILY.metric(scrape.successes(), context),
        PROTECTED_RESOURCE_FAMILY.metric(scrape.protected_resources(), context),
        *metrics(JOB_SUMMARY_FAMILIES, [s.job_summaries for s in scrape.snapshots], context),
        *metrics(TARGET_FAMILIES, scrape.health, context),
        *metrics(DISCOVERY_FAMILIES, scrape.discovery, context),
        *metrics(WEB_CONFIG_FAMILIES, [scrape.web_config] if scrape.web_config else [], context),
        BUILD_INFO_FAMILY.metric([BUILD], context),
    ]


def render_scrape(
    scrape: Scrape,
    cache: JobTextCache | None,
    accept: str | None,
    names: Sequence[str] | None = None,
    extra: Iterable[Metric] = (),
) -> tuple[list[bytes], str]:
    """The /metrics body of one scrape, as production serves it (see ``render``); ``extra``
    adds families of other collectors (process, platform, GC)."""
    families = [*scrape_metrics(scrape), *extra]
    return render(cache, scrape.exposed_jobs(), families, scrape.now, accept, names)


def render(
    cache: JobTextCache | None,
    jobs: Iterable[RestoreJob],
    other_families: Sequence[Metric],
    now: float,
    accept: str | None,
    names: Sequence[str] | None = None,
) -> tuple[list[bytes], str]:
    """The response body as a list of chunks, and its Content-Type.

    Per-job families only when ``cache`` is given; ``names`` restricts the output to those
    metric names, like prometheus-client's ``name[]``.
    """
    encoder, content_type = choose_encoder(accept or "")
    wanted = set(names) if names else None
    if wanted is not None:  # like prometheus-client's name[]: by sample name (``x_total``)
        other_families = [
            family
            for family in other_families
            if family.name in wanted or any(sample.name in wanted for sample in family.samples)
        ]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(other_families))
    tail = encoder(registry)
    if cache is None or (
        wanted is not None and not any(family.name in wanted for family in JOB_FAMILIES)
    ):
        return [tail], content_type
    chunks: list[bytes] = []
    for family, parts in zip(JOB_FAMILIES, cache.family_chunks(jobs, now), strict=True):
        if wanted is None or family.name in wanted:
            chunks.append(_HEADERS[family.name])
            chunks.extend(parts)
    if tail.endswith(_EOF):  # OpenMetrics: one # EOF, at the very end
        return [*chunks, tail[: -len(_EOF)], _EOF], content_type
    return [*chunks, tail], content_type


def coalesce(chunks: Iterable[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """Join small chunks into pieces of about ``size`` bytes, one piece at a time, so a socket
    gets a few large writes while no more than one piece is ever copied at once."""
    pending: list[bytes] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)


class Body:
    """One rendered /metrics body, immutable, served as it is to every request that shares it
    (exporter.flights): the rendered chunks (shared with the job text cache, never joined
    whole) and their gzip, compressed once, on the first request that accepts it."""

    def __init__(self, chunks: Sequence[bytes], content_type: str) -> None:
        self.chunks = tuple(chunks)
        self.content_type = content_type
        self.length = sum(map(len, self.chunks))
        self._lock = threading.Lock()
        self._gzipped: tuple[bytes, ...] | None = None

    def gzipped(self) -> tuple[bytes, ...]:
        """The body compressed as a stream: only the compressed pieces (about a tenth of the
        text) are held, never a whole uncompressed copy; requests after the first wait for it."""
        with self._lock:
            if self._gzipped is None:
                compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                pieces = [compressor.compress(piece) for piece in coalesce(self.chunks)]
                pieces.append(compressor.flush())
                self._gzipped = tuple(piece for piece in pieces if piece)
            return self._gzipped

    def encoded(
        self, accept_encoding: str | None
    ) -> tuple[Iterable[bytes], int, list[tuple[str, str]]]:
        """What to send, its length and extra headers; gzip only when the client accepts it.
        Uncompressed, the chunks are joined a piece at a time as the socket takes them."""
        if accept_encoding and gzip_accepted(accept_encoding):
            pieces = self.gzipped()
            return pieces, sum(map(len, pieces)), [("Content-Encoding", "gzip")]
        return coalesce(self.chunks), self.length, []
