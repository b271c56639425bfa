"""exporter-toolkit's own web config cases, written again as our fixtures
(tests/fixtures/webconfig/toolkit/expectations.yaml): each file is accepted or refused as
exporter-toolkit does, unless docs/web-config.md's table of differences says why not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from exporter.webconfig import WebConfigError, load_web_config
from tests.tls_certs import write_cert_files

FOLDER = Path(__file__).parent / "fixtures" / "webconfig" / "toolkit"
EXPECTED = yaml.safe_load((FOLDER / "expectations.yaml").read_text())
DOCS = (Path(__file__).parent.parent / "docs" / "web-config.md").read_text()
DIFFERENCES = DOCS.split("## Differences from exporter-toolkit", 1)[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toolkit")
    write_cert_files(folder)
    for fixture in FOLDER.glob("*.yml"):
        shutil.copy(fixture, folder / fixture.name)
    return folder


def outcome(path: Path) -> str:
    try:
        load_web_config(path)
    except WebConfigError:
        return "refuse"
    return "accept"


def test_every_fixture_has_an_expectation():
    assert {path.name for path in FOLDER.glob("*.yml")} == set(EXPECTED)


@pytest.mark.parametrize(("fixture", "expected"), sorted(EXPECTED.items()))
def test_accepted_or_refused_as_exporter_toolkit_does_or_documented(workdir, fixture, expected):
    ours = outcome(workdir / fixture)
    difference = expected.get("difference")
    if difference is None:
        assert ours == expected["toolkit"], f"exporter-toolkit: {expected['case']}"
    else:
        assert ours != expected["toolkit"], f"{fixture} now behaves as in Go: drop the difference"
        assert difference in DIFFERENCES, f"docs/web-config.md does not explain: {difference}"


def test_a_missing_file_is_refused_as_in_exporter_toolkit(tmp_path):
    """TestYAMLFiles: path to config yml invalid."""
    assert outcome(tmp_path / "somefile") == "refuse"
