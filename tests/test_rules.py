"""The Prometheus rules (deploy/prometheus/alerts.yaml): promtool accepts them and their unit
tests pass; every alert has a firing and a quiet unit test, a severity, a summary, a description
built from labels, a runbook section that exists, a `for` and a `keep_firing_for`; they use only
metrics the exporter exposes; docs/alerts.md lists every rule.
"""

from __future__ import annotations

import re

import pytest
import yaml

from exporter.contract import ALL_FAMILIES
from exporter.durations import parse_duration
from tests.paths import REPO, RULE_FILE
from tests.tools import run_tool

RULE_TESTS = sorted((REPO / "deploy" / "prometheus" / "tests").glob("*.yaml"))
RUNBOOKS = REPO / "docs" / "runbooks.md"
ALERTS_DOC = REPO / "docs" / "alerts.md"
RUNBOOK_URL = (
    "https://github.com/aws-backup-restore-exporter/aws-backup-restore-exporter/blob/main/"
    "docs/runbooks.md#"
)
SEVERITIES = {"critical", "warning", "info"}


def _groups() -> list[dict]:
    return yaml.safe_load(RULE_FILE.read_text())["groups"]


def _alerts() -> list[dict]:
    return [rule for group in _groups() for rule in group["rules"] if "alert" in rule]


def _records() -> list[dict]:
    return [rule for group in _groups() for rule in group["rules"] if "record" in rule]


def _alert_ids() -> list[str]:
    return [rule["alert"] for rule in _alerts()]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to -."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} +(.+?) *$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    return {github_anchor(heading) for heading in headings}


def exporter_metric_names() -> set[str]:
    """Every sample name the exporter can expose, from its own metric definitions."""
    return {family.sample_name for family in ALL_FAMILIES}


# ---- promtool ------------------------------------------------------------------------------


def test_promtool_accepts_the_rule_file():
    result = run_tool("promtool", "check", "rules", str(RULE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts()) + len(_records())} rules found" in result.stdout


def test_rule_unit_tests_pass_in_promtool():
    assert RULE_TESTS, "no rule unit tests under deploy/prometheus/tests"
    result = run_tool("promtool", "test", "rules", *map(str, RULE_TESTS), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_promtool_reports_a_rule_unit_test_that_expects_the_wrong_thing(tmp_path):
    """The unit tests can fail: the same rules with a wrong expectation are reported."""
    bad = {
        "rule_files": [str(RULE_FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'aws_backup_restore_job_status{account_id="1",region="r",'
                        'restore_job_id="j",resource_type="EBS",status="COMPLETED"}',
                        "values": "1x10",
                    }
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "AwsBackupRestoreJobFailed",
                        "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "wrong.yaml"
    test_file.write_text(yaml.safe_dump(bad))
    result = run_tool("promtool", "test", "rules", str(test_file))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


# ---- every alert is tested both ways -------------------------------------------------------


def _unit_test_cases() -> dict[str, set[str]]:
    """alertname -> {"fires", "quiet"}: the kinds of expectation the unit tests hold for it."""
    cases: dict[str, set[str]] = {}
    for path in RULE_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "quiet"
                cases.setdefault(case["alertname"], set()).add(kind)
    return cases


@pytest.mark.parametrize("alert", _alert_ids())
def test_alert_has_a_unit_test_that_fires_it_and_one_that_must_not(alert):
    assert _unit_test_cases().get(alert, set()) == {"fires", "quiet"}


def test_unit_tests_name_only_alerts_that_exist():
    """A misspelt alertname would pass in promtool as "no alert", testing nothing."""
    assert set(_unit_test_cases()) <= set(_alert_ids())


def test_every_recording_rule_has_a_unit_test_of_its_value():
    tested: set[str] = set()
    for path in RULE_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("promql_expr_test", []):
                if case.get("exp_samples"):
                    tested.update(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", case["expr"]))
    assert {rule["record"] for rule in _records()} <= tested


# ---- what every alert carries --------------------------------------------------------------


@pytest.mark.parametrize("alert", _alert_ids())
def test_alert_has_severity_summary_description_and_runbook_section(alert):
    rule = next(rule for rule in _alerts() if rule["alert"] == alert)
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip()
    assert "{{" not in annotations["summary"], "summary is the same for every firing"
    if not rule["expr"].strip().startswith("absent("):  # absent() has no labels to show
        assert "$labels." in annotations["description"]
    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_URL)
    anchor = url.removeprefix(RUNBOOK_URL)
    assert anchor == alert.lower()
    assert anchor in _runbook_anchors(), f"docs/runbooks.md has no section #{anchor}"


@pytest.mark.parametrize("alert", _alert_ids())
def test_alert_waits_before_firing_and_survives_a_failed_scrape(alert):
    rule = next(rule for rule in _alerts() if rule["alert"] == alert)
    assert parse_duration(rule.get("for", "0s")) >= 60
    assert parse_duration(rule.get("keep_firing_for", "0s")) >= 5 * 60


def test_runbook_anchors_follow_github_rules():
    assert github_anchor("AwsBackupRestoreJobFailed") == "awsbackuprestorejobfailed"
    assert github_anchor("Runbooks: what to do?") == "runbooks-what-to-do"


def test_runbooks_have_a_section_for_every_alert_and_none_for_alerts_that_do_not_exist():
    sections = set(re.findall(r"^## +(\S+) *$", RUNBOOKS.read_text(), flags=re.MULTILINE))
    assert sections == set(_alert_ids())


# ---- metrics and docs ----------------------------------------------------------------------


_METRIC = re.compile(r"\b(aws_backup_[a-z0-9_]+)")
_RECORDED = re.compile(r"\b([a-z_]+:aws_backup_[a-z0-9_]+:[a-z0-9_]+)")
# Thresholds users may record themselves (docs/alerts.md, "Thresholds you set"): the rules read
# them when present; the rule file does not record them.
USER_THRESHOLDS = {
    "restore_testing_plan:aws_backup_restore_testing_success_max_age_seconds:override",
    "protected_resource:aws_backup_protected_resource_restore_max_age_seconds:override",
}


def test_rules_use_only_metrics_the_exporter_exposes_or_rules_record():
    exposed = exporter_metric_names()
    recorded = {rule["record"] for rule in _records()} | USER_THRESHOLDS
    for rule in _alerts() + _records():
        expr = rule["expr"]
        for name in _RECORDED.findall(expr):
            assert name in recorded, f"{rule.get('alert') or rule.get('record')}: {name}"
        for name in _METRIC.findall(_RECORDED.sub("", expr)):
            assert name in exposed, f"{rule.get('alert') or rule.get('record')}: {name}"


def test_alerts_doc_lists_every_alert_with_its_severity_and_every_recording_rule():
    doc = ALERTS_DOC.read_text()
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| \[(\w+)\]\(runbooks\.md#\w+\) \| (\w+) \|", doc, re.M)
    }
    assert rows == {rule["alert"]: rule["labels"]["severity"] for rule in _alerts()}
    for rule in _records():
        assert f"| `{rule['record']}` |" in doc


def test_user_thresholds_are_read_by_a_rule_documented_and_never_recorded_by_the_file():
    doc = ALERTS_DOC.read_text()
    exprs = "\n".join(rule["expr"] for rule in _alerts())
    for name in USER_THRESHOLDS:
        assert name in exprs, name
        assert f"`{name}`" in doc, name
        assert name not in {rule["record"] for rule in _records()}
