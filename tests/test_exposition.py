"""The /metrics text: exact for one job, identical in meaning to prometheus-client's own output,
valid for any strings AWS may send, and cheap on repeat."""

import gzip
from pathlib import Path

import pytest
from prometheus_client.core import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition import Body, JobTextCache, body_text
from exporter.exposition import render as render_chunks
from exporter.families import RenderContext, metrics
from exporter.health_families import BUILD, BUILD_INFO_FAMILY
from exporter.job_families import JOB_FAMILIES
from exporter.model import RestoreJob

NOW = 1_700_000_600.0

RUNNING_JOB = {
    "AccountId": "111122223333",
    "RestoreJobId": "job-1",
    "ResourceType": "EBS",
    "Status": "RUNNING",
    "PercentDone": "37.50%",
    "CreationDate": 1_700_000_000.0,
    "ExpectedCompletionTimeMinutes": 30,
    "BackupSizeInBytes": 2048,
    "RecoveryPointCreationDate": 1_699_990_000.0,
    "RecoveryPointArn": "arn:aws:ec2:us-east-1::snapshot/snap-1",
    "IamRoleArn": "arn:aws:iam::111122223333:role/R",
    "StatusMessage": "copying",
}

IDENT = 'account_id="111122223333",region="us-east-1",restore_job_id="job-1",resource_type="EBS"'
# The whole expected text of one running job, kept as a file so a diff shows what changed.
EXPECTED_ONE_JOB = Path(__file__).parent / "fixtures" / "exposition" / "one-running-job.prom"

HOSTILE = 'quote " backslash \\ newline \n tab \t unicode ✓ Ω 🚀 end'


def build_info():
    return BUILD_INFO_FAMILY.metric([BUILD], RenderContext(NOW))


def render(*args, **kwargs):
    """The body as one bytes object, for assertions on the whole text."""
    chunks, content_type = render_chunks(*args, **kwargs)
    return body_text(chunks), content_type


def _job(**overrides):
    return RestoreJob.from_api({**RUNNING_JOB, **overrides}, region="us-east-1")


def _samples(text, parser=text_string_to_metric_families):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser(text)
        for sample in family.samples
    }


def test_one_job_renders_exactly():
    body, content_type = render(JobTextCache(256), [_job()], [], NOW, accept=None)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert body.decode() == EXPECTED_ONE_JOB.read_text()


def test_cached_renderer_says_the_same_as_prometheus_client():
    jobs = [
        _job(),
        _job(
            RestoreJobId="job-2",
            Status="COMPLETED",
            CompletionDate=1_700_000_300.0,
            CreatedBy={"RestoreTestingPlanArn": "arn:plan"},
            ValidationStatus="VALIDATING",
            DeletionStatus="DELETING",
            IsParent=True,
            ValidationStatusMessage=HOSTILE,
        ),
        _job(RestoreJobId="job-3", Status="SOMETHING_NEW", PercentDone=None, ResourceType=HOSTILE),
    ]
    registry = CollectorRegistry()

    class Jobs:
        def collect(self):
            return metrics(JOB_FAMILIES, jobs, RenderContext(NOW, 256))

    registry.register(Jobs())
    reference = _samples(generate_latest(registry).decode())
    body, _ = render(JobTextCache(256), jobs, [], NOW, accept=None)
    assert _samples(body.decode()) == reference
    assert len(reference) > 30


def test_hostile_strings_survive_the_round_trip():
    job = _job(StatusMessage=HOSTILE, ResourceType=HOSTILE, RestoreJobId='id"with\\odd\nchars')
    body, _ = render(JobTextCache(1000), [job], [], NOW, accept=None)
    samples = _samples(body.decode())
    message = [
        labels
        for (name, labels), _ in samples.items()
        if name == "aws_backup_restore_job_message_info"
    ]
    labels = dict(message[0])
    assert labels["resource_type"] == HOSTILE
    assert labels["restore_job_id"] == 'id"with\\odd\nchars'
    # messages are made single-line before they become labels
    assert labels["status_message"] == HOSTILE.replace("\n", " ")


def test_long_messages_are_truncated():
    body, _ = render(JobTextCache(10), [_job(StatusMessage="x" * 500)], [], NOW, accept=None)
    labels = next(
        dict(lbl)
        for (name, lbl) in _samples(body.decode())
        if name == "aws_backup_restore_job_message_info"
    )
    assert labels["status_message"] == "x" * 9 + "…"


def test_unknown_status_is_shown_beside_the_known_ones():
    body, _ = render(JobTextCache(256), [_job(Status="QUEUED")], [], NOW, accept=None)
    statuses = {
        dict(lbl)["status"]: value
        for (name, lbl), value in _samples(body.decode()).items()
        if name == "aws_backup_restore_job_status"
    }
    assert statuses == {
        "PENDING": 0,
        "RUNNING": 0,
        "COMPLETED": 0,
        "ABORTED": 0,
        "FAILED": 0,
        "QUEUED": 1,
    }


def test_openmetrics_is_served_when_asked_for_and_parses():
    accept = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    body, content_type = render(JobTextCache(256), [_job()], [build_info()], NOW, accept)
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert text.count("# EOF") == 1
    samples = _samples(text, parse_om)
    assert (
        samples[
            (
                "aws_backup_restore_job_progress_ratio",
                (
                    ("account_id", "111122223333"),
                    ("region", "us-east-1"),
                    ("resource_type", "EBS"),
                    ("restore_job_id", "job-1"),
                ),
            )
        ]
        == 0.375
    )
    assert any(name == "aws_backup_restore_exporter_build_info" for name, _ in samples)


def test_finished_jobs_are_rendered_once_running_ones_every_time():
    cache = JobTextCache(256)
    finished = [
        _job(RestoreJobId=f"done-{i}", Status="COMPLETED", CompletionDate=1_700_000_100.0)
        for i in range(50)
    ]
    running = _job(RestoreJobId="busy")
    render(cache, [*finished, running], [], NOW, None)
    assert cache.rendered_last == 51
    later, _ = render(cache, [*finished, running], [], NOW + 60, None)
    assert cache.rendered_last == 1  # only the running job, whose duration changed
    duration = _samples(later.decode())[
        (
            "aws_backup_restore_job_duration_seconds",
            (
                ("account_id", "111122223333"),
                ("region", "us-east-1"),
                ("resource_type", "EBS"),
                ("restore_job_id", "busy"),
            ),
        )
    ]
    assert duration == 660.0


def test_a_changed_job_is_rendered_again_and_a_gone_job_leaves():
    cache = JobTextCache(256)
    first = _job(Status="COMPLETED", CompletionDate=1_700_000_100.0)
    render(cache, [first], [], NOW, None)
    changed = _job(Status="COMPLETED", CompletionDate=1_700_000_100.0, BackupSizeInBytes=4096)
    body, _ = render(cache, [changed], [], NOW, None)
    assert cache.rendered_last == 1
    assert "backup_size_bytes{" + IDENT + "} 4096.0" in body.decode()
    body, _ = render(cache, [], [], NOW, None)
    assert "job-1" not in body.decode()


@pytest.mark.parametrize(
    "name", ["aws_backup_restore_job_progress_ratio", "aws_backup_restore_exporter_build_info"]
)
def test_name_filter_selects_families(name):
    body, _ = render(JobTextCache(256), [_job()], [build_info()], NOW, None, names=[name])
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert names == {name}


@pytest.mark.parametrize(
    ("accept_encoding", "zipped"),
    [("gzip", True), ("gzip, deflate, br", True), ("identity", False), (None, False)],
)
def test_gzip_only_when_accepted(accept_encoding, zipped):
    chunks = [b"line %d\n" % i for i in range(100_000)]  # many small chunks, as from the cache
    pieces, length, headers = Body(chunks, "text/plain").encoded(accept_encoding)
    body = b"".join(pieces)
    assert len(body) == length
    assert (("Content-Encoding", "gzip") in headers) is zipped
    assert (gzip.decompress(body) if zipped else body) == b"".join(chunks)


def test_a_large_body_is_sent_in_a_few_large_pieces():
    chunks = [b"x" * 100] * 50_000  # 5 MB in 100-byte chunks
    pieces, length, _ = Body(chunks, "text/plain").encoded(None)
    pieces = list(pieces)
    assert length == 5_000_000
    assert b"".join(pieces) == b"x" * 5_000_000
    assert len(pieces) < 30  # not 50,000 socket writes


def test_a_running_job_kept_from_the_last_scrape_reads_as_one_rendered_afresh():
    running = [_job(RestoreJobId=f"busy-{i}", PercentDone=f"{i}.0%") for i in range(5)]
    cache = JobTextCache(256)
    render(cache, running, [], NOW, None)
    kept, _ = render(cache, running, [], NOW + 90, None)
    fresh, _ = render(JobTextCache(256), running, [], NOW + 90, None)
    assert kept == fresh
