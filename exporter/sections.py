"""Reading a YAML mapping key by key, for the exporter's config and its web config alike.

Each read remembers its key path (``targets[1].discovery``) so that every error can name the key
it is about, and which keys were used, so that an unknown key (a typo) is an error rather than
silently nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self, TypeVar, overload

import yaml

T = TypeVar("T")


def type_name(value: Any) -> str:
    """How a value reads in an error message."""
    return "nothing" if value is None else type(value).__name__


class Section:
    """A mapping being read. Subclasses set the error they raise and the root's name."""

    error: type[ValueError] = ValueError
    root_name = "config"

    def __init__(self, path: str, data: Any) -> None:
        where = path or self.root_name
        if not isinstance(data, Mapping):
            raise self.error(f"{where}: expected a mapping, got {type_name(data)}")
        for key in data:
            if not isinstance(key, str):
                raise self.error(f"{where}: keys must be strings, got {key!r}")
        self.path = path
        self.data: Mapping[str, Any] = data
        self.used: set[str] = set()
        self.refused: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    @overload
    def get(self, key: str, convert: Callable[[str, Any], T]) -> T | None: ...

    @overload
    def get(self, key: str, convert: Callable[[str, Any], T], default: T) -> T: ...

    def get(self, key: str, convert: Callable[[str, Any], T], default: T | None = None) -> T | None:
        self.used.add(key)
        if self.data.get(key) is None:
            return default
        return convert(self.key_path(key), self.data[key])

    def require(self, key: str, convert: Callable[[str, Any], T]) -> T:
        self.used.add(key)
        if self.data.get(key) is None:
            raise self.error(f"{self.key_path(key)}: required key is missing")
        return convert(self.key_path(key), self.data[key])

    def section(self, key: str) -> Self:
        self.used.add(key)
        value = self.data.get(key)
        return type(self)(self.key_path(key), {} if value is None else value)

    def refuse(self, key: str, why: str) -> None:
        """A key of the format that we deliberately do not support: an error when set."""
        if self.has(key):
            raise self.error(f"{self.key_path(key)}: {why}")
        self.used.add(key)
        self.refused.add(key)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used - self.refused))
            raise self.error(f"{self.key_path(unknown[0])}: unknown key (known keys: {known})")


def read_yaml_file(path: str | Path, error: type[ValueError], what: str) -> Any:
    """Parse a YAML file; an unreadable file or bad YAML raises ``error`` naming the file and,
    for a syntax error, the line and column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"{what} {str(path)!r}: {problem.strerror or problem}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)!r}: not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(problem, "problem", None) or str(problem)
        raise error(f"{what} {str(path)!r}: invalid YAML{where}: {detail}") from None
