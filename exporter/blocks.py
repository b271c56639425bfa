"""The per-job part of /metrics, kept compressed and rebuilt only where jobs changed.

An organisation of 1,000 targets with 50 jobs each has 50,000 jobs: some 700,000 samples and
150 MB of text. Rendering them, or even joining and gzipping cached text, on every scrape cannot
fit a scrape timeout. So a target's finished jobs (which never change) are split into buckets by
a hash of their ID, and each bucket keeps its lines per family as a gzip member, rendered and
compressed once: a scrape concatenates members (gzip allows a stream of members, and
Prometheus' reader reads them as one) and renders only jobs still PENDING or RUNNING, whose
duration grows. A bucket is rebuilt when its jobs change (a job added, expired or re-read); a
target whose job table is the very one of the last scrape costs nothing at all. Held compressed,
the text takes about a tenth of its size. A client that does not accept gzip gets the members
inflated as they are sent.
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from exporter.families import Family, RenderContext
from exporter.job_families import (
    JOB_FAMILIES,
    JOB_IDENTITY,
    GroupCounts,
    JobGroup,
    group_counts,
    groups_of,
)
from exporter.model import RestoreJob
from exporter.textformat import LineCache, escape_label_value, format_value

BUCKET_JOBS = 128  # finished jobs per bucket, about: what one change costs to re-render
GZIP_LEVEL = 6  # members built once per change: worth compressing well
# Text compressed on every scrape (active jobs, the exporter's own families: 2 MB at 1,000
# targets) is compressed fast instead: level 1 takes about a third of level 6's time, and the
# body is still mostly the level-6 members.
SCRAPE_GZIP_LEVEL = 1
_LAYOUT = tuple((family, family.own_labels) for family in JOB_FAMILIES)
_TIMED = tuple(index for index, family in enumerate(JOB_FAMILIES) if family.varies_with_time)


@dataclass(frozen=True)
class _ActiveJob:
    """A PENDING or RUNNING job's lines from the last scrape: only its duration moves."""

    job: RestoreJob
    ident: str
    texts: tuple[bytes, ...]  # per JOB_FAMILIES entry


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(
        f'{name}="{escape_label_value(value)}"' for name, value in zip(names, values, strict=True)
    )


@functools.lru_cache(maxsize=4096)
def _one_label(name: str, value: str) -> str:
    """A sample's one label of its own: a state set's state, mostly; a handful of texts, each
    written for thousands of jobs."""
    return f'{name}="{escape_label_value(value)}"'


def _ident(job: RestoreJob) -> str:
    """The job's identity labels, the start of every one of its samples' labels."""
    return _label_text(JOB_IDENTITY.labels, JOB_IDENTITY.values(job))


def render_job(job: RestoreJob, context: RenderContext, ident: str | None = None) -> list[str]:
    """A job's lines, one string per JOB_FAMILIES entry ("" for a family it has no sample in)."""
    ident = _ident(job) if ident is None else ident
    return [_family_lines(family, own, ident, job, context) for family, own in _LAYOUT]


def _family_lines(
    family: Family[RestoreJob],
    own_labels: Sequence[str],
    ident: str,
    job: RestoreJob,
    context: RenderContext,
) -> str:
    lines = []
    for values, value in family.samples(job, context):
        if not values:
            labels = ident
        elif len(values) == 1:
            labels = f"{ident},{_one_label(own_labels[0], values[0])}"
        else:
            labels = f"{ident},{_label_text(own_labels, values)}"
        lines.append(f"{family.name}{{{labels}}} {format_value(value)}\n")
    return "".join(lines)


def _rendered_again(kept: _ActiveJob, context: RenderContext) -> _ActiveJob:
    """An active job's lines with only the families that read the clock rendered anew."""
    texts = list(kept.texts)
    for index in _TIMED:
        family, own = _LAYOUT[index]
        texts[index] = _family_lines(family, own, kept.ident, kept.job, context).encode()
    return _ActiveJob(kept.job, kept.ident, tuple(texts))


def gzip_member(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@dataclass(frozen=True)
class Segment:
    """A piece of the body: plain text, or a gzip member of ``size`` bytes of text."""

    data: bytes
    compressed: bool
    size: int

    def plain(self) -> bytes:
        return zlib.decompress(self.data, 16 + zlib.MAX_WBITS) if self.compressed else self.data


def plain(data: bytes) -> Segment:
    return Segment(data, False, len(data))


@dataclass(frozen=True)
class _Bucket:
    jobs: tuple[RestoreJob, ...]
    families: tuple[Segment | None, ...]  # per JOB_FAMILIES entry

    def holds(self, jobs: Sequence[RestoreJob]) -> bool:
        return len(jobs) == len(self.jobs) and all(
            a is b for a, b in zip(jobs, self.jobs, strict=True)
        )


@dataclass(frozen=True)
class _TargetBlocks:
    source: Mapping[str, RestoreJob]  # the job table these were built from
    buckets: tuple[_Bucket, ...]
    active: tuple[RestoreJob, ...]


def _same(a: Sequence[object], b: Sequence[object]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _bucket_count(finished: int) -> int:
    """A power of two, so that a bucket's jobs change only when the count doubles or halves."""
    count = 1
    while count * BUCKET_JOBS < finished:
        count *= 2
    return count


class BlockCache:
    """The compressed per-job text of every target, reused across scrapes; thread-safe."""

    def __init__(self, message_max_length: int) -> None:
        self.message_max_length = message_max_length
        self._lock = threading.Lock()
        self._targets: dict[str, _TargetBlocks] = {}
        self._counts: dict[str, tuple[Mapping[str, RestoreJob], GroupCounts]] = {}
        self._merged: tuple[tuple[object, ...], list[JobGroup]] | None = None
        self.rendered_last = 0  # jobs rendered (not reused) by the last call, for benchmarks
        self.lines = LineCache()  # the sample lines of the exporter's own families
        self._active_jobs: Mapping[int, _ActiveJob] = {}

    def family_segments(
        self, targets: Iterable[tuple[str, Mapping[str, RestoreJob]]], now: float
    ) -> list[list[Segment]]:
        """Per JOB_FAMILIES entry, the segments of every target's jobs: the finished jobs' members
        in target order, then the active jobs' lines."""
        with self._lock:
            old = dict(self._targets)
        context = RenderContext(now, self.message_max_length)
        new: dict[str, _TargetBlocks] = {}
        parts: list[list[Segment]] = [[] for _ in JOB_FAMILIES]
        # Active jobs' lines go after every target's members: one plain run per family, so
        # that gzip compresses them as one member, not one per target.
        active: list[list[Segment]] = [[] for _ in JOB_FAMILIES]
        rendered = 0
        with self._lock:
            kept = self._active_jobs
        keep: dict[int, _ActiveJob] = {}
        for name, jobs in targets:
            blocks = old.get(name)
            if blocks is None or blocks.source is not jobs:
                blocks, count = self._rebuild(jobs, blocks, context)
                rendered += count
            new[name] = blocks
            for bucket in blocks.buckets:
                for index, segment in enumerate(bucket.families):
                    if segment is not None:
                        parts[index].append(segment)
            rendered += self._active(blocks.active, context, active, kept, keep)
        for family_parts, family_active in zip(parts, active, strict=True):
            family_parts.extend(family_active)
        with self._lock:
            # Compare and set: what a sync prepared while this scrape ran stays (replacing the
            # whole table would lose it, and the next scrape would render it again).
            for name, blocks in new.items():
                if self._targets.get(name) is old.get(name):
                    self._targets[name] = blocks
            for name in self._targets.keys() - new.keys():
                del self._targets[name]  # targets gone from the scrape leave the cache with it
            self.rendered_last = rendered
            self._active_jobs = keep  # by id(), each entry holding its job: no id is reused
        return parts

    def job_groups(self, tables: Iterable[tuple[str, Mapping[str, RestoreJob]]]) -> list[JobGroup]:
        """The aggregate's groups, each table's counts kept while the table is the same one."""
        with self._lock:
            old = dict(self._counts)
        new = {}
        for name, jobs in tables:
            cached = old.get(name)
            new[name] = (
                cached
                if cached is not None and cached[0] is jobs
                else (jobs, group_counts(jobs.values()))
            )
        with self._lock:  # compare and set, as family_segments does
            for name, entry in new.items():
                if self._counts.get(name) is old.get(name):
                    self._counts[name] = entry
            for name in self._counts.keys() - new.keys():
                del self._counts[name]
            merged = self._merged
        entries = tuple(entry for entry in new.values())
        if merged is not None and _same(merged[0], entries):
            return merged[1]  # no table changed since the last scrape: nor did the sums
        groups = groups_of(counts for _, counts in entries)
        with self._lock:
            self._merged = (entries, groups)
        return groups

    def prepare(
        self,
        name: str,
        jobs: Mapping[str, RestoreJob],
        now: float,
        all_jobs: Mapping[str, RestoreJob] | None = None,
    ) -> None:
        """Build a target's buckets now (after its background sync), and count its share of the
        aggregate over ``all_jobs`` (over the cap too), so that no scrape pays for them: the
        first full scrape of 50,000 jobs would otherwise render and count them all."""
        with self._lock:
            previous = self._targets.get(name)
            counted = self._counts.get(name)
        if all_jobs is not None and (counted is None or counted[0] is not all_jobs):
            counts = (all_jobs, group_counts(all_jobs.values()))
            with self._lock:
                self._counts[name] = counts
        if previous is not None and previous.source is jobs:
            return
        blocks, _ = self._rebuild(jobs, previous, RenderContext(now, self.message_max_length))
        with self._lock:
            self._targets[name] = blocks

    def _rebuild(
        self,
        jobs: Mapping[str, RestoreJob],
        previous: _TargetBlocks | None,
        context: RenderContext,
    ) -> tuple[_TargetBlocks, int]:
        finished = [job for job in jobs.values() if not job.is_active]
        active = tuple(job for job in jobs.values() if job.is_active)
        count = _bucket_count(len(finished))
        grouped: list[list[RestoreJob]] = [[] for _ in range(count)]
        for job in finished:
            grouped[zlib.crc32(job.restore_job_id.encode()) & (count - 1)].append(job)
        old = previous.buckets if previous is not None and len(previous.buckets) == count else ()
        buckets, rendered = [], 0
        for index, members in enumerate(grouped):
            if old and old[index].holds(members):
                buckets.append(old[index])
                continue
            buckets.append(_build_bucket(members, context))
            rendered += len(members)
        return _TargetBlocks(jobs, tuple(buckets), active), rendered

    @staticmethod
    def _active(
        jobs: Sequence[RestoreJob],
        context: RenderContext,
        parts: list[list[Segment]],
        kept: Mapping[int, _ActiveJob],
        keep: dict[int, _ActiveJob],
    ) -> int:
        """Append active jobs' lines (every one counts as rendered: its duration moved); a job
        the last scrape rendered re-renders its duration only (1,000 targets have a thousand
        or more jobs running at any time)."""
        for job in jobs:
            entry = kept.get(id(job))
            if entry is not None and entry.job is job:
                entry = _rendered_again(entry, context)
            else:
                ident = _ident(job)
                texts = tuple(text.encode() for text in render_job(job, context, ident))
                entry = _ActiveJob(job, ident, texts)
            keep[id(job)] = entry
            for index, data in enumerate(entry.texts):
                if data:
                    parts[index].append(plain(data))
        return len(jobs)


def _build_bucket(jobs: Sequence[RestoreJob], context: RenderContext) -> _Bucket:
    texts: list[list[str]] = [[] for _ in JOB_FAMILIES]
    for job in jobs:
        for index, text in enumerate(render_job(job, context)):
            if text:
                texts[index].append(text)
    families = []
    for lines in texts:
        data = "".join(lines).encode()
        families.append(Segment(gzip_member(data), True, len(data)) if data else None)
    return _Bucket(tuple(jobs), tuple(families))


def plain_stream(segments: Iterable[Segment]) -> Iterator[bytes]:
    """The body's text, segment by segment (members inflated one at a time)."""
    for segment in segments:
        yield segment.plain()


def gzip_stream(segments: Sequence[Segment], piece: int = 256 * 1024) -> list[bytes]:
    """The body as a gzip stream of members: compressed segments as they are, runs of plain
    text compressed into members of their own."""
    out: list[bytes] = []
    run: list[bytes] = []
    length = 0

    def flush() -> None:
        nonlocal run, length
        if run:
            out.append(gzip_member(b"".join(run), SCRAPE_GZIP_LEVEL))
            run, length = [], 0

    for segment in segments:
        if segment.compressed:
            flush()
            out.append(segment.data)
        else:
            run.append(segment.data)
            length += segment.size
            if length >= piece:
                flush()
    flush()
    return out
