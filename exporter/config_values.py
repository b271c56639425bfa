"""Converters for the exporter's configuration: each checks one YAML value and names its key.

config.py reads the document with them; every converter takes the key path and the value, and
raises ``ConfigError`` with a message that starts with the key, so that a bad config fails
start-up with one line a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from exporter.durations import parse_duration
from exporter.sections import Section, type_name


class ConfigError(ValueError):
    """A configuration problem; the message starts with the offending key."""


class ConfigSection(Section):
    error = ConfigError
    root_name = "config"


def string(pattern: re.Pattern[str] | None = None, what: str = "") -> Callable[[str, Any], str]:
    def convert(path: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {type_name(value)} {value!r}")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(f"{path}: {value!r} is not {what}")
        return value

    return convert


def string_list(
    pattern: re.Pattern[str] | None = None, what: str = ""
) -> Callable[[str, Any], tuple[str, ...]]:
    item = string(pattern, what)

    def convert(path: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type_name(value)}")
        items = tuple(item(f"{path}[{index}]", element) for index, element in enumerate(value))
        seen: set[str] = set()
        for index, element in enumerate(items):
            if element in seen:
                raise ConfigError(f"{path}[{index}]: {element!r} is listed twice")
            seen.add(element)
        return items

    return convert


def choice(choices: Sequence[str]) -> Callable[[str, Any], str]:
    def convert(path: str, value: Any) -> str:
        if value not in choices:
            raise ConfigError(f"{path}: {value!r} is not one of {', '.join(choices)}")
        return str(value)

    return convert


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {type_name(value)} {value!r}")
    return value


def number(minimum: float, maximum: float, integer: bool = False) -> Callable[[str, Any], Any]:
    def convert(path: str, value: Any) -> Any:
        wanted = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{path}: expected {kind}, got {type_name(value)} {value!r}")
        if not minimum <= value <= maximum:
            raise ConfigError(f"{path}: {value!r} is outside {minimum:g}..{maximum:g}")
        return value if integer else float(value)

    return convert


def duration(minimum: float, maximum: float) -> Callable[[str, Any], float]:
    def convert(path: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{path}: expected a duration such as 30s, 5m or 24h, got {value!r}")
        try:
            seconds = parse_duration(str(value))
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
        if not minimum <= seconds <= maximum:
            raise ConfigError(f"{path}: {value!r} is outside {minimum:g}s..{maximum:g}s")
        return seconds

    return convert


# Patterns from botocore's service model for `backup` (2018-11-15); enumerations in model.py.
RESOURCE_TYPE_PATTERN = re.compile(
    r"^[a-zA-Z0-9\-\_\. ]{1,50}$"
)  # the model's, plus the space AWS uses
ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$")
URL_PATTERN = re.compile(r"^https?://[^\s/]+(/\S*)?$")
TARGET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:/@-]{1,128}$")
SESSION_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
DAY = 86400.0
