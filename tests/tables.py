"""Table tests: a dict of case name -> arguments, each case one test with its name as the ID."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest


def cases(argnames: Sequence[str], table: Mapping[str, tuple]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(tuple(argnames), list(table.values()), ids=list(table))
