"""End to end with a real Prometheus: the exporter in --demo mode, scraped every second by a
Prometheus on loopback that loads the project's rule file itself (deploy/prometheus/alerts.yaml,
unchanged: no `for` shortened). Through Prometheus's HTTP API: the target is up, every rule
evaluates without error, the per-job series hold the demo's values, the demo's stable FAILED
restore fires AwsBackupRestoreJobFailed once its `for: 1m` has passed, the other seeded unhealthy
jobs fire their alerts, the demo's restore testing plan that missed its last run fires
AwsBackupRestoreTestingPlanMissedRun and the healthy plan never does, no alert (not even pending,
at any evaluation) names a healthy job, and every PromQL expression of the Grafana dashboard runs
and returns data.

Behind that Prometheus, a real Alertmanager (Debian's prometheus-alertmanager) with the project's
example configuration (deploy/alertmanager/alertmanager.yml; only its webhook URLs and group
timings changed) notifies a webhook receiver in the test: the stable FAILED restore reaches it
once, with its labels, summary and runbook_url, and a target-down alert posted for eu-west-1
holds back that region's job alerts (inhibition).

The demo (exporter/demo/scenario.py) seeds the same jobs in us-east-1 and eu-west-1 and moves
them every 5 s; its IDs come from there. Every wait polls the API with a deadline.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
import yaml

from exporter.demo.scenario import (
    OLD_COMPLETED_JOB_ID,
    SEED_JOBS,
    STABLE_FAILED_JOB_ID,
    UNKNOWN_JOB_ID,
    restore_testing_plan_arn,
)
from exporter.demo.testing_plans import HEALTHY_PLAN, MISSED_PLAN
from tests.dashboard_queries import concrete, dashboard_queries, variable_selectors
from tests.network import fetch, free_port
from tests.paths import REPO, RULE_FILE
from tests.processes import ExporterProcess, Process
from tests.tools import missing_tool, require_tool
from tests.waiting import eventually

pytestmark = pytest.mark.slow

DEMO_ACCOUNT = "123456789012"
DEMO_REGIONS = ("us-east-1", "eu-west-1")
SCRAPE_JOB = "aws-backup-restore-exporter"

# Seeded jobs that are healthy for the whole test: running within their estimate (they finish
# before three quarters of it), pending, completed, validating, validated, cleaned up.
HEALTHY_SEEDED = {
    "demo-ebs-pending",
    "demo-rds-running",
    "demo-efs-running",
    "demo-s3-completed",
    OLD_COMPLETED_JOB_ID,
    "demo-aurora-parent",
    "demo-aurora-child",
    "demo-test-ebs-running",
    "demo-test-efs-validating",
    "demo-test-s3-deleting",
    "demo-test-dynamodb-done",
}
# Seeded jobs that are not, and the alerts each must fire in every region.
UNHEALTHY_SEEDED = {
    ("AwsBackupRestoreJobFailed", STABLE_FAILED_JOB_ID),
    ("AwsBackupRestoreJobAborted", "demo-ebs-aborted"),
    ("AwsBackupRestoreTestValidationFailed", "demo-test-rds-timed-out"),
    ("AwsBackupRestoreTestValidationFailed", "demo-test-aurora-validation-failed"),
    ("AwsBackupRestoreTestCleanupFailed", "demo-test-aurora-validation-failed"),
}
FIRING_TIMEOUT = 150.0  # first sample after ~6 s, then `for: 1m`, on a busy 2-core machine
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_BINARY = "prometheus-alertmanager"  # Debian's name for it
INHIBITED_REGION = "eu-west-1"  # a target-down alert is posted for it; us-east-1 stays free
T = TypeVar("T")


class Webhook:
    """A webhook receiver on loopback: every notification Alertmanager POSTs, by path."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, **labels: str) -> list[tuple[str, dict[str, Any]]]:
        """(receiver path, alert) of every alert notified with these label values."""
        return [
            (path, alert)
            for path, notification in list(self.received)
            for alert in notification["alerts"]
            if all(alert["labels"].get(key) == value for key, value in labels.items())
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    exporter: ExporterProcess
    prometheus: Process
    prometheus_url: str
    alertmanager: Process | None = None  # None when not installed: its tests skip (fail in CI)
    alertmanager_url: str = ""
    webhook: Webhook | None = None
    posted: list[dict[str, Any]] = field(default_factory=list)  # alerts the test posted itself

    def check_alive(self) -> None:
        self.exporter.check_alive()
        self.prometheus.check_alive()
        if self.alertmanager is not None:
            self.alertmanager.check_alive()

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path> and return its data; fails on an API error."""
        url = f"{self.prometheus_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = json.loads(fetch(url, timeout=10).body)
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        return data["result"]

    def eventually(self, check: Callable[[], T], timeout: float, what: str) -> T:
        """Call ``check`` until it stops failing an assertion; fail with its last message.
        Either process exiting fails at once, with its output."""

        def alive_and_checked() -> T:
            self.check_alive()
            return check()

        return eventually(alive_and_checked, timeout, what, interval=0.5)


def _alertmanager_config(webhook: Webhook) -> dict[str, Any]:
    """The example configuration, its receivers pointed at the webhook (path = receiver name),
    and timings for a test: groups sent 1 s after their first alert, then not again for 10 min
    (longer than the test), so each alert's notification is counted once."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook.url}/{receiver['name']}"
    timings = {"group_wait": "1s", "group_interval": "10m", "repeat_interval": "1h"}
    routes = [config["route"]]
    while routes:
        route = routes.pop()
        route.update({key: value for key, value in timings.items() if key in route})
        routes.extend(route.get("routes", []))
    config["route"].update(timings)
    return config


def _start_alertmanager(
    resources: contextlib.ExitStack, work: Any, exporter: ExporterProcess
) -> tuple[Process, str, Webhook, list[dict[str, Any]]]:
    binary = shutil.which(ALERTMANAGER_BINARY)
    assert binary is not None
    webhook = Webhook()
    resources.callback(webhook.close)
    config_file = work / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(_alertmanager_config(webhook)))
    address = f"127.0.0.1:{free_port()}"
    url = f"http://{address}"
    args = [
        binary,
        f"--config.file={config_file}",
        f"--storage.path={work / 'alertmanager'}",
        f"--web.listen-address={address}",
        "--cluster.listen-address=",  # no gossip: one instance
        "--log.level=warn",
    ]
    alertmanager = resources.enter_context(Process(args, work, name="alertmanager", cwd=work))
    alertmanager.wait_for_http(f"{url}/-/ready", timeout=60)
    # The exporter cannot read the eu-west-1 target (as Prometheus would send it after 10 min).
    now = datetime.datetime.now(datetime.UTC)
    target_down = {
        "labels": {
            "alertname": "AwsBackupRestoreExporterTargetDown",
            "severity": "warning",
            "job": SCRAPE_JOB,
            "instance": f"127.0.0.1:{exporter.port}",
            "target": f"demo-{INHIBITED_REGION}",
            "region": INHIBITED_REGION,
            "reason": "auth",
        },
        "annotations": {"summary": "posted by the test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + datetime.timedelta(hours=1)).isoformat(),
    }
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps([target_down]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return alertmanager, url, webhook, [target_down]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_binary = require_tool("prometheus")
    work = tmp_path_factory.mktemp("prometheus-e2e")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_PROFILE", None)
    with ExporterProcess("--demo", logs=work, env=env) as exporter, contextlib.ExitStack() as more:
        exporter.wait_for_http(f"{exporter.url}/healthz", timeout=60)
        alerting: dict[str, Any] = {}
        alertmanager: tuple[Process, str, Webhook, list[dict[str, Any]]] | None = None
        if shutil.which(ALERTMANAGER_BINARY):
            alertmanager = _start_alertmanager(more, work, exporter)
            alerting = {
                "alerting": {
                    "alertmanagers": [
                        {"static_configs": [{"targets": [alertmanager[1].removeprefix("http://")]}]}
                    ]
                }
            }
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(RULE_FILE)],
            "scrape_configs": [
                {
                    "job_name": SCRAPE_JOB,
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                }
            ],
            **alerting,
        }
        config_file = work / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        address = f"127.0.0.1:{free_port()}"
        prometheus_url = f"http://{address}"
        prometheus_args = [
            prometheus_binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={address}",
            # Firing alerts are sent again every 5 s instead of every minute, so that the
            # test sees Alertmanager deduplicate them.
            "--rules.alert.resend-delay=5s",
        ]
        with Process(prometheus_args, work, name="prometheus", cwd=work) as prometheus:
            prometheus.wait_for_http(f"{prometheus_url}/-/ready", timeout=60)
            if alertmanager is None:
                yield Stack(exporter, prometheus, prometheus_url)
            else:
                yield Stack(exporter, prometheus, prometheus_url, *alertmanager)


# ---- scraping and rules ----------------------------------------------------------------------


def test_prometheus_scrapes_the_demo_exporter_and_every_target_is_up(stack):
    def scraped() -> None:
        targets = stack.api("targets")["activeTargets"]
        assert [t["health"] for t in targets] == ["up"], targets
        assert [s["value"][1] for s in stack.query(f'up{{job="{SCRAPE_JOB}"}}')] == ["1"]
        up = {
            s["metric"]["target"]: s["value"][1]
            for s in stack.query("aws_backup_restore_exporter_target_up")
        }
        assert up == {f"demo-{region}": "1" for region in DEMO_REGIONS}

    stack.eventually(scraped, 30, "scraped")


def test_prometheus_loads_every_rule_of_the_file_and_evaluates_each_without_error(stack):
    groups = yaml.safe_load(RULE_FILE.read_text())["groups"]
    expected = {group["name"]: len(group["rules"]) for group in groups}

    def evaluated() -> None:
        loaded = stack.api("rules")["groups"]
        assert {group["name"]: len(group["rules"]) for group in loaded} == expected
        for group in loaded:
            for rule in group["rules"]:
                assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
                assert not rule["lastEvaluation"].startswith("0001-"), f"{rule['name']} not run"

    stack.eventually(evaluated, 30, "every rule evaluated")


# ---- the demo's values -----------------------------------------------------------------------


def _one(stack: Stack, name: str, **labels: str) -> dict[str, Any]:
    """The one series of ``name`` with these label values."""
    expr = name + "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    result = stack.query(expr)
    assert len(result) == 1, f"{expr}: {result}"
    return result[0]


@pytest.mark.parametrize("region", DEMO_REGIONS)
def test_per_job_series_hold_the_demo_values(stack, region):
    ids = {"account_id": DEMO_ACCOUNT, "region": region}

    def demo_values() -> None:
        failed = _one(
            stack,
            "aws_backup_restore_job_status",
            **ids,
            restore_job_id=STABLE_FAILED_JOB_ID,
            status="FAILED",
        )
        assert failed["value"][1] == "1"
        assert failed["metric"]["resource_type"] == "RDS"
        assert failed["metric"]["job"] == SCRAPE_JOB
        message = _one(
            stack, "aws_backup_restore_job_message_info", **ids, restore_job_id=STABLE_FAILED_JOB_ID
        )
        assert "is not authorized to perform" in message["metric"]["status_message"]
        # Every seeded job is there, with its status as seeded (or moved on, for active ones).
        seeded = {job_id for job_id, *_ in SEED_JOBS}
        present = {
            s["metric"]["restore_job_id"]
            for s in stack.query(
                f'aws_backup_restore_job_info{{account_id="{DEMO_ACCOUNT}", region="{region}"}}'
            )
        }
        assert seeded <= present
        plan = _one(
            stack, "aws_backup_restore_job_info", **ids, restore_job_id="demo-test-dynamodb-done"
        )
        assert plan["metric"]["restore_testing_plan_arn"] == restore_testing_plan_arn(
            DEMO_ACCOUNT, region
        )
        # name, labels beyond the job's identity, the value wanted
        exact = [
            (
                "aws_backup_restore_job_validation_status",
                {"restore_job_id": "demo-test-rds-timed-out", "validation_status": "TIMED_OUT"},
                "1",
            ),
            (
                "aws_backup_restore_job_deletion_status",
                {
                    "restore_job_id": "demo-test-aurora-validation-failed",
                    "deletion_status": "FAILED",
                },
                "1",
            ),
            # Seeded with ExpectedCompletionTimeMinutes 12.
            (
                "aws_backup_restore_job_expected_duration_seconds",
                {"restore_job_id": "demo-rds-running"},
                "720",
            ),
        ]
        for name, labels, value in exact:
            assert _one(stack, name, **ids, **labels)["value"][1] == value, (name, labels)
        # Seeded 37.5 % done, moving on every tick.
        progress = _one(
            stack, "aws_backup_restore_job_progress_ratio", **ids, restore_job_id="demo-rds-running"
        )
        assert 0.375 <= float(progress["value"][1]) <= 1
        # The aggregate counts the stable FAILED job among the window's RDS jobs.
        rds_failed = _one(
            stack, "aws_backup_restore_jobs", **ids, resource_type="RDS", status="FAILED"
        )
        assert float(rds_failed["value"][1]) >= 1
        lookup = _one(
            stack,
            "aws_backup_restore_exporter_restore_job_lookup_errors",
            target=f"demo-{region}",
            restore_job_id=UNKNOWN_JOB_ID,
        )
        assert lookup["metric"]["reason"] == "not_found"

    stack.eventually(demo_values, 30, f"the demo's values in {region}")


# ---- the dashboard -------------------------------------------------------------------------


@pytest.mark.parametrize("region", DEMO_REGIONS)
def test_the_demo_shows_aws_daily_restore_job_counts(stack, region):
    # the demo's account is the fake's organisation management account, so that
    # ListRestoreJobSummaries answers it; the last whole day ends at today's UTC midnight
    target = f"demo-{region}"
    today = datetime.datetime.now(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnights = {today.timestamp(), today.timestamp() - 86400}  # the test may straddle one

    def counted() -> None:
        up = _one(stack, "aws_backup_restore_exporter_source_up",
                  target=target, source="restore_job_summaries")  # fmt: skip
        assert up["value"][1] == "1"
        end = _one(stack, "aws_backup_restore_job_summaries_period_end_timestamp_seconds",
                   target=target, aggregation_period="ONE_DAY")  # fmt: skip
        assert float(end["value"][1]) in midnights

    stack.eventually(counted, 30, f"{target}'s daily counts")


def test_every_dashboard_expression_returns_data(stack):
    """All of them, with the variables at "All" (.*) and $__rate_interval at 1m: the demo
    has data for every panel, including the recording rules and the rate of API requests."""
    queries = {str(query): concrete(query.expr) for query in dashboard_queries()}
    for name, (selector, _) in variable_selectors().items():
        queries[f"variable {name}"] = concrete(selector)

    def all_have_data() -> None:
        empty = [name for name, expr in queries.items() if not stack.query(expr)]
        assert not empty, "no data for:\n" + "\n".join(empty)

    stack.eventually(all_have_data, 60, "data for every dashboard query")


def test_every_dashboard_expression_runs_with_one_account_region_and_resource_type(stack):
    """Variables set to one demo value each, as a user would pick them: every query is accepted
    (some legitimately have nothing for one resource type, e.g. no RDS job RUNNING)."""
    values = {"account": DEMO_ACCOUNT, "region": "eu-west-1", "resource_type": "RDS"}
    for query in dashboard_queries():
        stack.query(concrete(query.expr, values))
    failed = stack.query(
        concrete(
            'sum(aws_backup_restore_jobs{status="FAILED", account_id=~"$account", '
            'region=~"$region", resource_type=~"$resource_type"})',
            values,
        )
    )
    assert float(failed[0]["value"][1]) >= 1


# ---- alerts --------------------------------------------------------------------------------


def _alerts(stack: Stack) -> list[dict[str, Any]]:
    return stack.api("alerts")["alerts"]


def test_demo_failed_restore_fires_the_failed_restore_alert(stack):
    def firing() -> list[dict[str, Any]]:
        alerts = [
            alert
            for alert in _alerts(stack)
            if alert["labels"]["alertname"] == "AwsBackupRestoreJobFailed"
            and alert["labels"].get("restore_job_id") == STABLE_FAILED_JOB_ID
            and alert["state"] == "firing"
        ]
        assert sorted(alert["labels"]["region"] for alert in alerts) == sorted(DEMO_REGIONS)
        return alerts

    for alert in stack.eventually(firing, FIRING_TIMEOUT, "firing AwsBackupRestoreJobFailed"):
        labels, annotations = alert["labels"], alert["annotations"]
        assert labels["severity"] == "critical"
        assert labels["account_id"] == DEMO_ACCOUNT
        assert labels["resource_type"] == "RDS"
        assert "is not authorized to perform" in labels["status_message"]
        assert annotations["description"].startswith(
            f"Restore job {STABLE_FAILED_JOB_ID} (RDS) in account {DEMO_ACCOUNT}, "
            f"region {labels['region']} failed: IAM role"
        )
        assert annotations["runbook_url"].endswith("/docs/runbooks.md#awsbackuprestorejobfailed")


def test_other_seeded_unhealthy_jobs_fire_their_alerts(stack):
    def firing() -> None:
        fired = {
            (alert["labels"]["alertname"], alert["labels"].get("restore_job_id"), region)
            for alert in _alerts(stack)
            if alert["state"] == "firing"
            for region in [alert["labels"].get("region")]
        }
        wanted = {(name, job, region) for name, job in UNHEALTHY_SEEDED for region in DEMO_REGIONS}
        assert wanted <= fired, f"missing: {sorted(wanted - fired)}"

    stack.eventually(firing, FIRING_TIMEOUT, "firing the seeded jobs' alerts")


def _unhealthy_job_ids(stack: Stack) -> set[tuple[str, str]]:
    """(region, job ID) of every job whose state justifies a per-job alert, from its series."""
    exprs = (
        'aws_backup_restore_job_status{status=~"FAILED|ABORTED"} == 1',
        'aws_backup_restore_job_validation_status{validation_status=~"FAILED|TIMED_OUT"} == 1',
        'aws_backup_restore_job_deletion_status{deletion_status="FAILED"} == 1',
    )
    return {
        (sample["metric"]["region"], sample["metric"]["restore_job_id"])
        for expr in exprs
        for sample in stack.query(expr)
    }


MISSED_RUN = "AwsBackupRestoreTestingPlanMissedRun"


def test_demo_plan_that_missed_its_run_fires_missed_run_and_the_healthy_plan_does_not(stack):
    """The demo's missed plan: its latest scheduled start was three hours before the seed, its
    window (1 h) long closed, its last execution two days before that. The healthy plan ran at
    its latest start and is within its 24 h window."""

    def firing() -> list[dict[str, Any]]:
        alerts = [
            alert
            for alert in _alerts(stack)
            if alert["labels"]["alertname"] == MISSED_RUN and alert["state"] == "firing"
        ]
        fired = sorted((a["labels"]["region"], a["labels"]["restore_testing_plan_name"])
                       for a in alerts)  # fmt: skip
        assert fired == sorted((region, MISSED_PLAN) for region in DEMO_REGIONS), fired
        return alerts

    for alert in stack.eventually(firing, FIRING_TIMEOUT, f"firing {MISSED_RUN}"):
        labels, annotations = alert["labels"], alert["annotations"]
        assert labels["severity"] == "warning"
        assert labels["account_id"] == DEMO_ACCOUNT
        assert annotations["description"].startswith(
            f"Restore testing plan {MISSED_PLAN} in account {DEMO_ACCOUNT}, region "
            f"{labels['region']} was scheduled to start at "
        )
        assert annotations["runbook_url"].endswith(f"/docs/runbooks.md#{MISSED_RUN.lower()}")
        # The missed start is the plan's latest scheduled start, after its last execution.
        ids = {"account_id": DEMO_ACCOUNT, "region": labels["region"]}
        plan = {**ids, "restore_testing_plan_name": MISSED_PLAN}
        scheduled = _one(stack, "aws_backup_restore_testing_plan_last_scheduled_timestamp_seconds",
                         **plan)  # fmt: skip
        executed = _one(stack, "aws_backup_restore_testing_plan_last_execution_timestamp_seconds",
                        **plan)  # fmt: skip
        assert float(alert["value"]) == float(scheduled["value"][1])
        assert float(executed["value"][1]) < float(scheduled["value"][1])
    # Never pending, at any evaluation, for the healthy plan.
    healthy = stack.query(
        f'max_over_time(ALERTS{{alertname="{MISSED_RUN}", '
        f'restore_testing_plan_name!="{MISSED_PLAN}"}}[1h])'
    )
    assert healthy == [], healthy
    for region in DEMO_REGIONS:
        _one(stack, "aws_backup_restore_testing_plan_info", account_id=DEMO_ACCOUNT,
             region=region, restore_testing_plan_name=HEALTHY_PLAN)  # fmt: skip


def test_no_alert_ever_names_a_healthy_job_and_no_other_alert_fires(stack):
    """Runs after the alert tests: by then Prometheus has evaluated the rules every second for
    over a minute. ALERTS over the whole run holds every pending or firing alert there was."""

    def failed_alert_firing() -> None:
        assert stack.query('ALERTS{alertname="AwsBackupRestoreJobFailed", alertstate="firing"}')

    stack.eventually(failed_alert_firing, FIRING_TIMEOUT, "firing AwsBackupRestoreJobFailed")
    ever = stack.query(
        "max by (alertname, alertstate, region, restore_job_id, restore_testing_plan_name) ("
        "max_over_time(ALERTS[1h]))"
    )
    unhealthy = _unhealthy_job_ids(stack)  # after ALERTS: failures are final, so no race
    per_job = [s["metric"] for s in ever if "restore_job_id" in s["metric"]]
    # The missed plan's alert, for that plan only (the test above checks it in detail).
    missed_runs = {
        s["metric"].get("restore_testing_plan_name")
        for s in ever
        if s["metric"]["alertname"] == MISSED_RUN
    }
    assert missed_runs <= {MISSED_PLAN}, missed_runs
    others = {
        (s["metric"]["alertname"], s["metric"]["alertstate"])
        for s in ever
        if "restore_job_id" not in s["metric"] and s["metric"]["alertname"] != MISSED_RUN
    }
    for labels in per_job:
        if labels["alertname"] == "AwsBackupRestoreExporterJobLookupFailed":
            assert labels["restore_job_id"] == UNKNOWN_JOB_ID
            continue
        job = (labels["region"], labels["restore_job_id"])
        assert labels["restore_job_id"] not in HEALTHY_SEEDED, labels
        assert job in unhealthy, f"{labels['alertname']} for a healthy job: {labels}"
    # Plans have successful validations and recent successes; targets and sources are up;
    # nothing is throttled: none of the other alerts without a job ID may have been pending even
    # once. Except one: Prometheus evaluates
    # the rules from its start, some seconds before its first scrape, so the exporter's absence
    # was true (pending) then; it must never have fired, and be over now.
    assert others <= {("AwsBackupRestoreExporterAbsent", "pending")}, others
    assert not stack.query('ALERTS{alertname="AwsBackupRestoreExporterAbsent"}')
    assert {(m["alertname"], m["restore_job_id"]) for m in per_job} >= UNHEALTHY_SEEDED


# ---- Alertmanager: notifications and inhibition ---------------------------------------------


def _require_alertmanager(stack: Stack) -> tuple[str, Webhook]:
    if stack.alertmanager is None or stack.webhook is None:
        missing_tool(
            f"{ALERTMANAGER_BINARY} not installed (Debian package prometheus-alertmanager; "
            "scripts/test installs it)"
        )
    return stack.alertmanager_url, stack.webhook


def _rule(name: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULE_FILE.read_text())["groups"]
    [rule] = [r for group in groups for r in group["rules"] if r.get("alert") == name]
    return rule


def test_alertmanager_notifies_the_demo_failed_restore_once_with_labels_summary_runbook(stack):
    _, webhook = _require_alertmanager(stack)
    failed = {"alertname": "AwsBackupRestoreJobFailed", "restore_job_id": STABLE_FAILED_JOB_ID}
    free_region = next(region for region in DEMO_REGIONS if region != INHIBITED_REGION)

    def notified() -> list[tuple[str, dict[str, Any]]]:
        found = webhook.alerts(**failed, region=free_region)
        assert found, "not notified yet"
        return found

    stack.eventually(notified, FIRING_TIMEOUT + 30, "the failed restore at the webhook")
    # Prometheus sends the firing alert again every 5 s; Alertmanager must not notify again.
    resent_by = time.monotonic() + 12
    while time.monotonic() < resent_by:
        stack.check_alive()
        time.sleep(1)
    [(path, alert)] = webhook.alerts(**failed, region=free_region)
    assert path == "/pager"  # severity critical
    notification = next(n for p, n in webhook.received if alert in n["alerts"])
    assert notification["receiver"] == "pager"
    assert notification["groupLabels"] == {
        "alertname": "AwsBackupRestoreJobFailed",
        "account_id": DEMO_ACCOUNT,
        "region": free_region,
    }
    assert alert["status"] == "firing"
    labels, annotations = alert["labels"], alert["annotations"]
    assert labels["severity"] == "critical"
    assert labels["account_id"] == DEMO_ACCOUNT
    assert labels["resource_type"] == "RDS"
    assert "is not authorized to perform" in labels["status_message"]
    rule = _rule("AwsBackupRestoreJobFailed")
    assert annotations["summary"] == rule["annotations"]["summary"]
    assert annotations["runbook_url"] == rule["annotations"]["runbook_url"]
    assert annotations["runbook_url"].endswith("/docs/runbooks.md#awsbackuprestorejobfailed")


def test_a_down_target_inhibits_the_job_alerts_of_its_region_and_is_notified_itself(stack):
    url, webhook = _require_alertmanager(stack)
    query = urllib.parse.urlencode(
        {
            "filter": [
                'alertname="AwsBackupRestoreJobFailed"',
                f'restore_job_id="{STABLE_FAILED_JOB_ID}"',
            ]
        },
        doseq=True,
    )

    def states() -> dict[str, dict[str, Any]]:
        alerts = json.loads(fetch(f"{url}/api/v2/alerts?{query}", timeout=10).body)
        found = {alert["labels"]["region"]: alert["status"] for alert in alerts}
        assert set(found) == set(DEMO_REGIONS), found
        return found

    status = stack.eventually(states, FIRING_TIMEOUT + 30, "the failed restore in Alertmanager")
    assert status[INHIBITED_REGION]["state"] == "suppressed"
    assert status[INHIBITED_REGION]["inhibitedBy"]
    free_region = next(region for region in DEMO_REGIONS if region != INHIBITED_REGION)
    assert status[free_region]["state"] == "active"
    # No job alert of the down target's region reached any receiver; the target-down alert did.
    held_back = [
        (path, alert["labels"])
        for path, alert in webhook.alerts(region=INHIBITED_REGION)
        if "restore_job_id" in alert["labels"]
    ]
    assert held_back == []
    down = stack.posted[0]["labels"]
    [(path, alert)] = webhook.alerts(**down)
    assert path == "/tickets"  # severity warning
    assert alert["status"] == "firing"
