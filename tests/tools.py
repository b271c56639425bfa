"""Helpers shared by the dashboard and Prometheus end-to-end tests: the dashboard's PromQL
expressions with Grafana's template variables replaced by something Prometheus can run, and
finding the tools (promtool, prometheus, tsc) that CI must have."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = REPO / "deploy" / "grafana" / "aws-backup-restores.json"
RULE_FILE = REPO / "deploy" / "prometheus" / "alerts.yaml"

# What Grafana would put in place of its variables. $account, $region and $resource_type are
# multi-value with "All" = ".*" and are only used with =~. The intervals stand for a dashboard
# showing a few minutes at a 1 s scrape interval (the end-to-end test's Prometheus).
DEFAULT_VARIABLES = {
    "account": ".*",
    "region": ".*",
    "resource_type": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}


def missing_tool(message: str) -> None:
    """Skip for a developer without the tool; fail under CI=true, where it must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_binary(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} not installed ({hint})")
        raise AssertionError("unreachable")  # missing_tool never returns
    return path


@dataclass(frozen=True)
class DashboardQuery:
    panel: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.panel!r} {self.ref_id}: {self.expr}"


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries(dashboard: dict | None = None) -> list[DashboardQuery]:
    """Every panel target's expression, as written in the dashboard."""
    dashboard = load_dashboard() if dashboard is None else dashboard
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append(DashboardQuery(panel["title"], target["refId"], target["expr"]))
    return found


_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def variable_selectors(dashboard: dict | None = None) -> dict[str, tuple[str, str]]:
    """variable name -> (selector, label) of each label_values() query variable."""
    dashboard = load_dashboard() if dashboard is None else dashboard
    found = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = _LABEL_VALUES.match(variable["query"])
            assert match, f"variable {variable['name']}: not a label_values() query"
            found[variable["name"]] = (match["selector"], match["label"])
    return found


_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def concrete(expr: str, variables: dict[str, str] | None = None) -> str:
    """The expression with every $var and ${var} replaced; fails on a variable it does not know."""
    values = {**DEFAULT_VARIABLES, **(variables or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)
