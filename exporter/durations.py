"""Prometheus-style durations ("90s", "5m", "24h", "7d", "1h30m") for the config file and flags."""

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Return the number of seconds in ``text``; raise ValueError when it is not a duration.

    A bare number is taken as seconds, so YAML's ``lookback: 3600`` works as users expect.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0 or seconds != seconds or seconds == float("inf"):
            raise ValueError(f"duration must be a finite, non-negative number: {text!r}")
        return seconds
    position = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(f"not a duration (use e.g. 30s, 5m, 24h, 7d): {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` in the units parse_duration reads."""
    if seconds == 0:
        return "0s"
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
