"""Waiting for something to become true by polling it, never by sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """Call ``check`` until it returns without failing an assertion, and return what it returned;
    fail the test with its last message after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as error:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}: {error}")
        time.sleep(interval)


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll a condition until it is true; fail the test with ``what`` on timeout."""

    def check() -> None:
        assert condition(), "still false"

    eventually(check, timeout, what or repr(condition))
