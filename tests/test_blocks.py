"""The per-job text kept per target and compressed (exporter/blocks.py), seen from a client: the
gzip body (a stream of members) and the plain body say the same, in Prometheus' parser too; an
unchanged target costs no rendering; a change re-renders its bucket only; a job read by two
targets is exposed once."""

from __future__ import annotations

import gzip
import zlib
from types import MappingProxyType

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.blocks import BUCKET_JOBS, BlockCache
from exporter.config import DiscoveryConfig, TargetConfig
from exporter.exposition import Body, render_tables
from exporter.model import RestoreJob
from exporter.store import Scrape, TargetSnapshot

NOW = 1_700_000_600.0


def job(account: str, job_id: str, status: str = "COMPLETED", **fields: object) -> RestoreJob:
    data = {"AccountId": account, "RestoreJobId": job_id, "ResourceType": "EBS",
            "Status": status, "CreationDate": 1_700_000_000.0, **fields}  # fmt: skip
    if status == "COMPLETED":
        data.setdefault("CompletionDate", 1_700_000_100.0)
    return RestoreJob.from_api(data, "us-east-1")


def table(*jobs: RestoreJob) -> MappingProxyType:
    return MappingProxyType({j.restore_job_id: j for j in jobs})


def samples(text: bytes) -> set[tuple[str, tuple]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_the_gzip_stream_of_members_says_what_the_plain_body_says():
    tables = [
        (f"t{t}", table(*[job(f"{t:012d}", f"j{i}") for i in range(300)], job(f"{t:012d}", "r",
                                                                               "RUNNING")))
        for t in range(3)
    ]  # fmt: skip
    segments, content_type = render_tables(BlockCache(256), tables, [], NOW, None)
    body = Body(segments, content_type)
    zipped, length, headers = body.encoded("gzip")
    zipped = b"".join(zipped)
    assert ("Content-Encoding", "gzip") in headers
    assert length == len(zipped)
    plain, plain_length, _ = body.encoded(None)
    plain = b"".join(plain)
    assert plain_length == len(plain)
    assert gzip.decompress(zipped) == plain  # every member, in order, as one stream
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # what a single-member reader sees
    assert decoder.decompress(zipped) != plain, "the body is several members, by design"
    series = [line.rsplit(b" ", 1)[0] for line in plain.splitlines() if not line.startswith(b"#")]
    assert len(series) == len(set(series))  # no series twice
    jobs = {dict(labels)["restore_job_id"] for name, labels, _ in samples(plain)
            if name == "aws_backup_restore_job_info"}  # fmt: skip
    assert jobs == {f"j{i}" for i in range(300)} | {"r"}


def test_an_unchanged_target_renders_nothing_and_a_change_only_its_bucket():
    cache = BlockCache(256)
    finished = [job("111122223333", f"j{i}") for i in range(4 * BUCKET_JOBS)]
    first = table(*finished)
    render_tables(cache, [("a", first)], [], NOW, None)
    assert cache.rendered_last == len(finished)
    render_tables(cache, [("a", first)], [], NOW + 60, None)
    assert cache.rendered_last == 0  # the very table of the last scrape
    changed = table(*finished[:-1], job("111122223333", finished[-1].restore_job_id,
                                        BackupSizeInBytes=4096))  # fmt: skip
    segments, _ = render_tables(cache, [("a", changed)], [], NOW + 120, None)
    assert 0 < cache.rendered_last <= 2 * BUCKET_JOBS  # one bucket, not all four
    text = Body(segments, "text/plain").text().decode()
    assert f'restore_job_id="{finished[-1].restore_job_id}",resource_type="EBS"}} 4096.0' in text


def test_a_job_read_by_two_targets_of_one_account_is_exposed_once():
    shared = job("111122223333", "shared")
    only_b = job("111122223333", "only-b")
    snapshots = tuple(
        TargetSnapshot(TargetConfig(name, "us-east-1", discovery=DiscoveryConfig()), jobs, jobs,
                       True, None, NOW, False, {}, 0)
        for name, jobs in (("a", table(shared)), ("b", table(shared, only_b)))
    )  # fmt: skip
    scrape = Scrape(NOW, snapshots, ())
    segments, _ = render_tables(BlockCache(256), scrape.exposed_tables(), [], NOW, None)
    text = Body(segments, "text/plain").text().decode()
    assert text.count('restore_job_id="shared"') == text.count('restore_job_id="only-b"') > 0


@pytest.mark.parametrize(
    ("accounts", "shown"),
    [
        (("111122223333", "111122223333"), 1),  # the same account twice: the job once
        (("111122223333", "444455556666"), 2),  # two accounts' tables are passed as they are
        ((None, "444455556666"), 1),  # an unknown account may be either: the job once
        (("111122223333", None), 1),
        (("111122223333", "444455556666", None), 2),  # the unknown one overlaps both
    ],
)
def test_a_job_is_left_out_only_of_tables_that_may_hold_it_too(accounts, shown):
    shared = job("111122223333", "shared")
    snapshots = tuple(
        TargetSnapshot(TargetConfig(f"t{n}", "us-east-1", account_id=account), table(shared),
                       table(shared), True, None, NOW, False, {}, 0)
        for n, account in enumerate(accounts)
    )  # fmt: skip
    tables = Scrape(NOW, snapshots, ()).exposed_tables()
    assert sum(len(jobs) for _, jobs in tables) == shown
    assert [name for name, _ in tables] == [f"t{n}" for n in range(len(accounts))]


def test_the_aggregate_counts_each_table_once_and_follows_a_changed_one():
    cache = BlockCache(256)
    a = table(job("111122223333", "a1"), job("111122223333", "a2", "FAILED"))
    b = table(job("444455556666", "b1"))
    first = {(g.account_id, g.region, g.resource_type): dict(g.by_status)
             for g in cache.job_groups([("a", a), ("b", b)])}  # fmt: skip
    assert first == {
        ("111122223333", "us-east-1", "EBS"): {"COMPLETED": 1, "FAILED": 1},
        ("444455556666", "us-east-1", "EBS"): {"COMPLETED": 1},
    }
    b2 = table(job("444455556666", "b1"), job("444455556666", "b2", "RUNNING"))
    later = {(g.account_id, g.region, g.resource_type): dict(g.by_status)
             for g in cache.job_groups([("a", a), ("b", b2)])}  # fmt: skip
    assert later[("444455556666", "us-east-1", "EBS")] == {"COMPLETED": 1, "RUNNING": 1}
    assert later[("111122223333", "us-east-1", "EBS")] == {"COMPLETED": 1, "FAILED": 1}
    gone = cache.job_groups([("b", b2)])
    assert [g.account_id for g in gone] == ["444455556666"]


def test_a_gzip_body_of_many_members_is_sent_in_a_few_large_pieces():
    """Thousands of members (1,000 targets) must not mean thousands of socket writes."""
    from exporter.blocks import Segment, gzip_member

    members = [Segment(gzip_member(b"x %d\n" % i * 500), True, len(b"x %d\n" % i * 500))
               for i in range(5000)]  # fmt: skip
    pieces, length, _ = Body(members, "text/plain").encoded("gzip")
    pieces = list(pieces)
    assert sum(map(len, pieces)) == length
    assert len(pieces) < 50
    assert gzip.decompress(b"".join(pieces)) == b"".join(m.plain() for m in members)


def test_what_a_sync_prepares_while_a_scrape_renders_is_kept():
    """A background sync pre-renders its target while a scrape is rendering the others: the
    scrape must not write its older view over it (the next scrape would render it again)."""
    b_old = table(*[job("444455556666", f"b{i}") for i in range(10)])
    b_new = table(*b_old.values(), job("444455556666", "b-new"))
    a = table(*[job("111122223333", f"a{i}") for i in range(10)])

    class SyncDuringScrape(BlockCache):
        def _rebuild(self, jobs, previous, context):
            if jobs is a:  # while the scrape renders a, b's sync ends and prepares b_new
                self.prepare("b", b_new, NOW)
            return super()._rebuild(jobs, previous, context)

    cache = SyncDuringScrape(256)
    cache.family_segments([("b", b_old)], NOW)
    cache.family_segments([("a", a), ("b", b_old)], NOW)
    cache.family_segments([("a", a), ("b", b_new)], NOW)
    assert cache.rendered_last == 0  # b_new was prepared, a is unchanged


def test_a_prepared_target_is_counted_once_and_the_aggregate_is_right(monkeypatch):
    import exporter.blocks as blocks

    counted: list[int] = []
    real = blocks.group_counts

    def counting(jobs):
        jobs = list(jobs)
        counted.append(len(jobs))
        return real(jobs)

    monkeypatch.setattr(blocks, "group_counts", counting)
    a = table(
        *[job("111122223333", f"a{i}") for i in range(5)], job("111122223333", "r", "RUNNING")
    )
    b = table(*[job("444455556666", f"b{i}", "FAILED") for i in range(3)])
    cache = BlockCache(256)
    cache.prepare("a", a, NOW, a)  # a background sync of each target
    cache.prepare("b", b, NOW, b)
    assert counted == [6, 3]
    groups = cache.job_groups([("a", a), ("b", b)])  # the scrape counts nothing again
    assert counted == [6, 3]
    by_status = {(g.account_id, status): n for g in groups for status, n in g.by_status.items()}
    assert by_status == {
        ("111122223333", "COMPLETED"): 5,
        ("111122223333", "RUNNING"): 1,
        ("444455556666", "FAILED"): 3,
    }
