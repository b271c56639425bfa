"""The Grafana dashboard's PromQL, shared by the dashboard and Prometheus end-to-end tests: every
panel's expressions and the template variables' selectors, with Grafana's variables replaced by
something Prometheus can run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.paths import DASHBOARD

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
