"""What a newcomer copies validates: every file of examples/ and every YAML block of the README
and docs, each checked the way a user would check it.

- An exporter configuration (a mapping with `targets` or `organization`) goes through
  `--config.check`.
- A web configuration (`tls_server_config`, `basic_auth_users`, `http_server_config`) goes through
  `--config.check --web.config.file`, its certificate paths pointed at test certificates.
- Helm values (top-level keys of the chart's values.yaml) are checked against the chart's
  values.schema.json, rendered, and the ConfigMap they render goes through `--config.check`.
- A Prometheus configuration (`scrape_configs`) goes through `promtool check config`.
- An Alertmanager configuration (`route`) goes through `amtool check-config`.
A block of none of these kinds fails the test, so a new kind of block cannot go unchecked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import REPO
from tests.processes import run_exporter
from tests.tls_certs import write_cert_files
from tests.tools import require_module, run_tool

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
CHART = REPO / "charts" / "aws-backup-restore-exporter"
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
WEB_CONFIG_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}
FENCE = re.compile(r"^(?P<indent> *)```ya?ml\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)


def yaml_blocks() -> list[tuple[str, str]]:
    """(file:line, block text with the fence's indentation removed) of every ```yaml block."""
    blocks = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in FENCE.finditer(text):
            indent = len(match.group("indent"))
            body = "\n".join(line[indent:] for line in match.group("body").splitlines())
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{document.relative_to(REPO)}:{line}", body + "\n"))
    return blocks


BLOCKS = yaml_blocks()


def config_check(tmp_path: Path, config: str, *extra: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config)
    result = run_exporter("--config.check", "--config.file", str(path), *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration OK"), result.stdout


def chart_values_keys() -> set[str]:
    return set(yaml.safe_load((CHART / "values.yaml").read_text()))


# ---- examples/ -------------------------------------------------------------------------------


def test_examples_cover_the_documented_shapes():
    assert {path.name for path in EXAMPLES} >= {
        "one-account.yaml",
        "cross-account.yaml",
        "aggregate-only.yaml",
        "restore-testing.yaml",
        "organization.yaml",
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_passes_config_check(example, tmp_path):
    text = example.read_text()
    assert text.startswith("#"), f"{example.name}: say what it is for in a comment first"
    config_check(tmp_path, text)


# ---- YAML blocks of the README and docs -------------------------------------------------------


def test_the_readme_configuration_block_is_found():
    assert any(where.startswith("README.md:") and "targets:" in body for where, body in BLOCKS)


def _check_chart_values(values: dict[str, Any], tmp_path: Path) -> None:
    helm = require_module("helm_python")
    if "config" not in values and "existingConfigMap" not in values:
        values = {**values, "config": {"targets": [{"region": "eu-west-1"}]}}
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values, name="restores", namespace="monitoring")
    for path, text in manifests.items():
        if path.endswith("configmap.yaml"):
            config_map = yaml.safe_load(text)
            config_check(tmp_path, config_map["data"]["config.yaml"])


def _check_web_config(text: str, tmp_path: Path) -> None:
    files = write_cert_files(tmp_path / "tls")
    # Certificate paths of the block, pointed at test certificates of the same role.
    paths = {
        "cert_file": files.path("server.crt"),
        "key_file": files.path("server.key"),
        "client_ca_file": files.path("ca.crt"),
    }
    for key, path in paths.items():
        text = re.sub(rf"^(\s*{key}:)\s*\S+", rf"\1 {path}", text, flags=re.M)
    web_config = tmp_path / "web.yml"
    web_config.write_text(text)
    config_check(tmp_path, "targets: [{region: eu-west-1}]\n", "--web.config.file", str(web_config))


@pytest.mark.parametrize(("where", "body"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_yaml_block_validates(where, body, tmp_path):
    data = yaml.safe_load(body)
    assert isinstance(data, dict), f"{where}: not a YAML mapping"
    keys = set(data)
    if keys & {"targets", "organization"}:
        config_check(tmp_path, body)
    elif keys & WEB_CONFIG_KEYS:
        _check_web_config(body, tmp_path)
    elif keys <= chart_values_keys():
        _check_chart_values(data, tmp_path)
    elif "scrape_configs" in keys:
        path = tmp_path / "prometheus.yml"
        path.write_text(body)
        result = run_tool("promtool", "check", "config", "--syntax-only", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    elif "route" in keys:
        path = tmp_path / "alertmanager.yml"
        path.write_text(body)
        result = run_tool("amtool", "check-config", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        pytest.fail(f"{where}: a YAML block of no known kind (keys {sorted(keys)}): check it here")


# ---- deploy/alertmanager ---------------------------------------------------------------------

ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def test_alertmanager_example_passes_amtool_check_config():
    result = run_tool("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "pager"), ("warning", "tickets"), ("info", "chat"), ("", "tickets")],
)
def test_alertmanager_example_routes_by_severity(severity, receiver):
    labels = ["alertname=AwsBackupRestoreJobFailed", "account_id=111122223333"]
    if severity:
        labels.append(f"severity={severity}")
    result = run_tool(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def test_alertmanager_example_groups_by_account_and_region_and_every_severity_is_routed():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"]["group_by"] == ["alertname", "account_id", "region"]
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())
    severities = {
        rule["labels"]["severity"]
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    routed = {
        matcher.split("=", 1)[1].strip('"')
        for route in config["route"]["routes"]
        for matcher in route["matchers"]
        if matcher.startswith("severity=")
    }
    assert severities <= routed
    [inhibit] = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['alertname="AwsBackupRestoreExporterTargetDown"']
    # The labels compared are on the target-down alert and on every per-job alert.
    assert set(inhibit["equal"]) <= {"job", "instance", "region"}
