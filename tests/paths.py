"""Where the tests find the repository's own files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = REPO / "deploy" / "grafana" / "aws-backup-restores.json"
RULE_FILE = REPO / "deploy" / "prometheus" / "alerts.yaml"
