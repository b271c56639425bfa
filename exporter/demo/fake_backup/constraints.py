"""Does a value fit a shape of the model? Types, required members, enums, patterns, ranges.

Used on every request's input (after the wire layer has turned text into typed values) and on
every field stored in a job, so that nothing reaches a response that AWS could not have sent.
Values are Python's: str, int, float, bool, datetime, bytes, dict (structure or map), list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (datetime,),
    "blob": (bytes,),
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
}
_SIZED = frozenset({"string", "blob", "list", "map"})  # min/max bound the length of these


class Violation(Exception):  # noqa: N818 (a finding, raised to the caller)
    """``kind``: "missing" (a required member), "type" or "value" (enum, pattern, range)."""

    def __init__(self, kind: str, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.kind = kind
        self.path = path


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def check(shape: Shape, value: Any, path: str) -> None:
    """Raise Violation for the first way ``value`` breaks ``shape`` (``path`` names it)."""
    expected = _PYTHON_TYPES.get(shape.type_name, (object,))
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise Violation("type", path, f"expected a {shape.type_name}, got {value!r}")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise Violation("type", path, "a timestamp needs a time zone")
    _check_constraints(shape, value, path)
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        _check_structure(shape, value, path)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            check(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            check(shape.key, key, f"{path} key")
            check(shape.value, item, f"{path}[{key!r}]")


def _check_constraints(shape: Shape, value: Any, path: str) -> None:
    metadata = shape.metadata
    enum = getattr(shape, "enum", None) or []
    if enum and value not in enum:
        raise Violation("value", path, f"{value!r} is not one of {', '.join(enum)}")
    pattern = metadata.get("pattern")
    if pattern is not None and not _pattern(pattern).search(value):
        raise Violation("value", path, f"{value!r} does not match {pattern}")
    measure = len(value) if shape.type_name in _SIZED else value
    what = "length" if shape.type_name in _SIZED else "value"
    if "min" in metadata and measure < metadata["min"]:
        raise Violation("value", path, f"{what} {measure} is below the minimum {metadata['min']}")
    if "max" in metadata and measure > metadata["max"]:
        raise Violation("value", path, f"{what} {measure} is above the maximum {metadata['max']}")


def _check_structure(shape: StructureShape, value: Mapping[str, Any], path: str) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            raise Violation("missing", f"{path}.{name}", "is required")
    unknown = sorted(set(value) - set(shape.members))
    if unknown:
        raise Violation("type", path, f"{shape.name} has no member {unknown[0]!r}")
    for name, item in value.items():
        if item is not None:
            check(shape.members[name], item, f"{path}.{name}")
