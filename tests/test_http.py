"""The exporter's HTTP server over real sockets, against moto, as Prometheus and people use it."""

from __future__ import annotations

import gzip
import os
import time

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families

from exporter.http import MetricsApp, make_http_server, serve_in_thread
from tests.conftest import ACCOUNT, put_job
from tests.network import fetch, free_port
from tests.processes import ExporterProcess
from tests.tools import run_tool


@pytest.fixture
def server(make_exporter):
    """The real HTTP server on a free port: a moto target and one whose endpoint refuses."""
    exporter = make_exporter(
        {
            "targets": [
                {"name": "good", "region": "us-east-1", "restore_job_ids": ["missing-job"]},
                {
                    "name": "down",
                    "region": "eu-west-1",
                    "endpoint_url": f"http://127.0.0.1:{free_port()}",
                },
            ],
            "aws": {"max_attempts": 1},
        }
    )
    httpd = make_http_server(MetricsApp(exporter), "127.0.0.1:0")
    serve_in_thread(httpd)
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def samples(text, parser=text_string_to_metric_families):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in parser(text) for s in f.samples
    }


def test_metrics_serve_one_target_while_the_other_is_down(server):
    job = put_job(Status="FAILED", CreationDate=time.time() - 120, StatusMessage="Access denied")
    status, headers, body = fetch(server + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = samples(body.decode())
    labels = (
        ("account_id", ACCOUNT),
        ("region", "us-east-1"),
        ("resource_type", "EBS"),
        ("restore_job_id", job),
        ("status", "FAILED"),
    )
    assert values[("aws_backup_restore_job_status", labels)] == 1
    assert (
        values[
            (
                "aws_backup_restore_exporter_target_up",
                (("account_id", ""), ("region", "us-east-1"), ("target", "good")),
            )
        ]
        == 1
    )
    assert (
        values[
            (
                "aws_backup_restore_exporter_target_up",
                (("account_id", ""), ("region", "eu-west-1"), ("target", "down")),
            )
        ]
        == 0
    )
    assert (
        values[
            (
                "aws_backup_restore_exporter_target_down_reason",
                (
                    ("account_id", ""),
                    ("reason", "unavailable"),
                    ("region", "eu-west-1"),
                    ("target", "down"),
                ),
            )
        ]
        == 1
    )
    assert (
        values[
            (
                "aws_backup_restore_exporter_restore_job_lookup_errors",
                (
                    ("account_id", ""),
                    ("reason", "not_found"),
                    ("restore_job_id", "missing-job"),
                    ("target", "good"),
                ),
            )
        ]
        == 1
    )
    assert not any(name.startswith(("process_", "python_gc_", "python_info")) for name, _ in values)
    assert b"\n# EOF" not in body


def test_promtool_finds_nothing_to_complain_about(server):
    put_job(
        Status="RUNNING",
        PercentDone="12.5",
        CreationDate=time.time() - 60,
        StatusMessage='quote " and\nnewline',
    )
    put_job(
        Status="COMPLETED",
        CreationDate=time.time() - 600,
        CompletionDate=time.time() - 30,
        CreatedBy={"RestoreTestingPlanArn": "arn:aws:backup:us-east-1:1:restore-testing-plan:p"},
        ValidationStatus="SUCCESSFUL",
        DeletionStatus="DELETING",
    )
    _, _, body = fetch(server + "/metrics")
    result = run_tool("promtool", "check", "metrics", input=body.decode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""


def test_openmetrics_when_the_scraper_asks(server):
    put_job(Status="RUNNING", CreationDate=time.time() - 60)
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    status, headers, body = fetch(server + "/metrics", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    values = samples(body.decode(), parse_om)
    assert any(name == "aws_backup_restore_job_status" for name, _ in values)
    assert (
        values[
            (
                "aws_backup_restore_exporter_api_requests_total",
                (
                    ("account_id", ""),
                    ("operation", "ListRestoreJobs"),
                    ("outcome", "success"),
                    ("target", "good"),
                ),
            )
        ]
        >= 3
    )


def test_gzip_when_accepted(server):
    status, headers, body = fetch(server + "/metrics", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert b"aws_backup_restore_exporter_build_info" in gzip.decompress(body)


def test_name_filter(server):
    _, _, body = fetch(server + "/metrics?name[]=aws_backup_restore_exporter_target_up")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert names == {"aws_backup_restore_exporter_target_up"}
    # a counter by its sample name, as prometheus-client's name[] takes it
    _, _, body = fetch(server + "/metrics?name[]=aws_backup_restore_exporter_api_requests_total")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert names == {"aws_backup_restore_exporter_api_requests"}


def test_healthz_landing_and_errors(server):
    status, _, body = fetch(server + "/healthz")
    assert (status, body) == (200, b"ok\n")
    status, headers, body = fetch(server + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'href="/metrics"' in body
    assert b"good" in body
    assert b"eu-west-1" in body
    assert fetch(server + "/nope")[0] == 404
    status, headers, _ = fetch(server + "/metrics", method="POST")
    assert status == 405
    assert "GET" in headers["Allow"]
    status, _, body = fetch(server + "/healthz", method="HEAD")
    assert (status, body) == (200, b"")


def test_the_command_line_serves_metrics_from_a_config_file(backup, tmp_path):
    """The whole program as users start it: a config file, a port, a scrape."""
    job = put_job(Status="COMPLETED", CreationDate=time.time() - 60)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"targets:\n  - name: cli\n    region: us-east-1\n    endpoint_url: {backup}\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    flags = ("--config.file", str(config), "--log.format", "json")
    with ExporterProcess(*flags, logs=tmp_path, env=env) as exporter:
        exporter.wait_for_http(exporter.url + "/healthz")
        _, _, body = fetch(exporter.url + "/metrics")
        assert f'restore_job_id="{job}"'.encode() in body
    assert exporter.stop() == 0  # SIGTERM is a clean shutdown
    stderr = exporter.stderr()
    assert '"msg": "received SIGTERM, shutting down"' in stderr
    assert '"msg": "shut down in ' in stderr  # and it says when it is done
