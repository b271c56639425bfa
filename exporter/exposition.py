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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder, gzip_accepted

from exporter.blocks import BlockCache, Segment, gzip_stream, plain, plain_stream
from exporter.discovery_families import DISCOVERY_FAMILIES
from exporter.families import Family, RenderContext
from exporter.health_families import (
    BUILD,
    BUILD_INFO_FAMILY,
    TARGET_FAMILIES,
    WEB_CONFIG_FAMILIES,
)
from exporter.job_families import (
    AGGREGATE_FAMILY,
    JOB_FAMILIES,
    JobGroup,
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
from exporter.textformat import Declared, declared_text, encode

T = TypeVar("T")
_EOF = b"# EOF\n"


JobTextCache = BlockCache  # the per-job text cache: blocks.py keeps it per target, compressed


_HEADERS = {
    f.name: plain(f"# HELP {f.name} {f.help}\n# TYPE {f.name} {f.kind}\n".encode())
    for f in JOB_FAMILIES
}


def scrape_families(
    scrape: Scrape, cache: BlockCache | None = None, names: Sequence[str] | None = None
) -> list[Declared]:
    """The families that are not per job, with their objects: the aggregate (always there, so
    that alerting need not touch per-job series), restore testing, the exporter's health and
    its build info. With ``cache``, each target's share of the aggregate is counted once per
    job table, not on every scrape. With ``names`` (``name[]``), only those families, and only
    their objects are gathered: a health probe at 1,000 targets does not count 50,000 jobs."""
    wanted = set(names) if names else None

    def group(families: Sequence[Family[T]], objects: Callable[[], Sequence[T]]) -> list[Declared]:
        chosen = [
            f for f in families if wanted is None or f.name in wanted or f.sample_name in wanted
        ]
        if not chosen:
            return []
        gathered = objects()  # once for the whole group
        return [(family, gathered) for family in chosen]

    def aggregate() -> Sequence[JobGroup]:
        if cache is not None:
            return cache.job_groups(scrape.all_tables())
        return job_groups(scrape.all_jobs())

    web_config = scrape.web_config
    return [
        *group([AGGREGATE_FAMILY], aggregate),
        *group(PLAN_FAMILIES, scrape.plans),
        *group(SELECTION_FAMILIES, scrape.selections),
        *group([SUCCESS_FAMILY], scrape.successes),
        *group([PROTECTED_RESOURCE_FAMILY], scrape.protected_resources),
        *group(JOB_SUMMARY_FAMILIES, lambda: [s.job_summaries for s in scrape.snapshots]),
        *group(TARGET_FAMILIES, lambda: scrape.health),
        *group(DISCOVERY_FAMILIES, lambda: scrape.discovery),
        *group(WEB_CONFIG_FAMILIES, lambda: [web_config] if web_config else []),
        *group([BUILD_INFO_FAMILY], lambda: [BUILD]),
    ]


def scrape_metrics(scrape: Scrape) -> list[Metric]:
    """``scrape_families`` as prometheus-client families (what its encoders would write)."""
    context = RenderContext(scrape.now)
    return [family.metric(objects, context) for family, objects in scrape_families(scrape)]


def render_scrape(
    scrape: Scrape,
    cache: BlockCache | None,
    accept: str | None,
    names: Sequence[str] | None = None,
    extra: Iterable[Metric] = (),
) -> tuple[list[Segment], str]:
    """The /metrics body of one scrape, as production serves it (see ``render_tables``);
    ``extra`` adds families of other collectors (process, platform, GC)."""
    return render_tables(
        cache,
        scrape.exposed_tables(),
        list(extra),
        scrape.now,
        accept,
        names,
        declared=scrape_families(scrape, cache, names),
    )


def render(
    cache: BlockCache | None,
    jobs: Iterable[RestoreJob],
    other_families: Sequence[Metric],
    now: float,
    accept: str | None,
    names: Sequence[str] | None = None,
) -> tuple[list[Segment], str]:
    """``render_tables`` for jobs of one (anonymous) target."""
    table = MappingProxyType({str(index): job for index, job in enumerate(jobs)})
    return render_tables(cache, [("", table)], other_families, now, accept, names)


def render_tables(
    cache: BlockCache | None,
    tables: Iterable[tuple[str, Mapping[str, RestoreJob]]],
    other_families: Sequence[Metric],
    now: float,
    accept: str | None,
    names: Sequence[str] | None = None,
    declared: Sequence[Declared] = (),
) -> tuple[list[Segment], str]:
    """The response body as segments (plain text, or gzip members of it), and its Content-Type.

    ``tables`` are each target's jobs (no job in two of them). Per-job families only when
    ``cache`` is given; ``names`` restricts the output to those metric names, like
    prometheus-client's ``name[]`` (``declared`` comes chosen: ``scrape_families(..., names)``).
    """
    encoder, content_type = choose_encoder(accept or "")
    wanted = set(names) if names else None
    if wanted is not None:  # like prometheus-client's name[]: by sample name (``x_total``)
        other_families = [
            family
            for family in other_families
            if family.name in wanted or any(sample.name in wanted for sample in family.samples)
        ]
    openmetrics = content_type.startswith("application/openmetrics-text")
    lines = cache.lines if cache is not None else None
    own = declared_text(declared, RenderContext(now), openmetrics, lines).encode()
    tail = own + encode(other_families, encoder, openmetrics) + (_EOF if openmetrics else b"")
    if cache is None or (
        wanted is not None and not any(family.name in wanted for family in JOB_FAMILIES)
    ):
        return [plain(tail)], content_type
    segments: list[Segment] = []
    for family, parts in zip(JOB_FAMILIES, cache.family_segments(tables, now), strict=True):
        if wanted is None or family.name in wanted:
            segments.append(_HEADERS[family.name])
            segments.extend(parts)
    if tail.endswith(_EOF):  # OpenMetrics: one # EOF, at the very end
        return [*segments, plain(tail[: -len(_EOF)]), plain(_EOF)], content_type
    return [*segments, plain(tail)], content_type


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
    (exporter.flights): its segments (shared with the block cache, never joined whole) and
    their gzip stream, built once, on the first request that accepts it: the cached members as
    they are, the rest compressed."""

    def __init__(self, segments: Sequence[Segment | bytes], content_type: str) -> None:
        self.segments = tuple(
            part if isinstance(part, Segment) else plain(part) for part in segments
        )
        self.content_type = content_type
        self.length = sum(segment.size for segment in self.segments)
        self._lock = threading.Lock()
        self._gzipped: tuple[bytes, ...] | None = None

    def gzipped(self) -> tuple[bytes, ...]:
        """The body as gzip members; requests after the first wait for it."""
        with self._lock:
            if self._gzipped is None:
                # members joined into large pieces: a socket write per member (thousands at
                # 1,000 targets) costs the server a hand-off each
                self._gzipped = tuple(coalesce(gzip_stream(self.segments)))
            return self._gzipped

    def text(self) -> bytes:
        """The whole body, uncompressed (for tests and small bodies)."""
        return b"".join(plain_stream(self.segments))

    def encoded(
        self, accept_encoding: str | None
    ) -> tuple[Iterable[bytes], int, list[tuple[str, str]]]:
        """What to send, its length and extra headers; gzip only when the client accepts it.
        Uncompressed, members are inflated and joined a piece at a time as the socket takes
        them."""
        if accept_encoding and gzip_accepted(accept_encoding):
            pieces = self.gzipped()
            return pieces, sum(map(len, pieces)), [("Content-Encoding", "gzip")]
        return coalesce(plain_stream(self.segments)), self.length, []


def body_text(segments: Iterable[Segment | bytes]) -> bytes:
    """Rendered segments as the plain text a client that does not accept gzip is sent."""
    return b"".join(part.plain() if isinstance(part, Segment) else part for part in segments)
