"""A request's input as the model lays it out: each member read from where the model puts it
(``uri`` label, ``querystring``, ``header``, or the JSON body) and turned into a typed value.

Text that does not parse as the member's type (``maxResults=ten``, a date that is not ISO 8601)
raises ``Violation("type", ...)``; the constraints (ranges, patterns, enums, required members)
are checked afterwards, on the typed values, by ``constraints.check``. Unknown query parameters
and body members are ignored, as AWS ignores them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from exporter.demo.fake_backup.constraints import Violation

_INTEGER = re.compile(r"-?[0-9]+")
_DEFAULT_TIME_FORMAT = {"querystring": "iso8601", "uri": "iso8601", "header": "rfc822"}


def parse_input(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input members, by model name; absent members are left out."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    body_members = {}
    named_in_query = {
        m.serialization.get("name", n)
        for n, m in shape.members.items()
        if m.serialization.get("location") == "querystring"
    }
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = from_text(member, labels[wire], "uri", name)
        elif location == "querystring" and isinstance(member, MapShape):
            rest = {k: v[-1] for k, v in query.items() if k not in named_in_query}
            params[name] = rest or None
        elif location == "querystring" and wire in query:
            params[name] = _from_query(member, query[wire], name)
        elif location == "header" and wire.lower() in headers:
            params[name] = from_text(member, headers[wire.lower()], "header", name)
        elif location is None:
            body_members[name] = member
    if body_members and body:
        params.update(_from_body(shape, body_members, body))
    return {name: value for name, value in params.items() if value is not None}


def _from_query(shape: Shape, values: list[str], path: str) -> Any:
    if isinstance(shape, ListShape):
        return [from_text(shape.member, value, "querystring", path) for value in values]
    return from_text(shape, values[-1], "querystring", path)


def from_text(shape: Shape, text: str, location: str, path: str) -> Any:
    """One value of a URI label, query parameter or header."""
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        if not _INTEGER.fullmatch(text):
            raise Violation("type", path, f"{text!r} is not an integer")
        return int(text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise Violation("type", path, f"{text!r} is not a number") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise Violation("type", path, f"{text!r} is not true or false")
        return text == "true"
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", _DEFAULT_TIME_FORMAT[location])
        return parse_timestamp(text, fmt, path)
    raise Violation("type", path, f"a {kind} cannot be given as text")


def parse_timestamp(value: Any, fmt: str, path: str) -> datetime:
    """A timestamp in the format the model gives: iso8601, rfc822 (HTTP date) or unixTimestamp."""
    try:
        if fmt == "iso8601" and isinstance(value, str):
            moment = datetime.fromisoformat(value)
        elif fmt == "rfc822" and isinstance(value, str):
            moment = parsedate_to_datetime(value)
        elif fmt == "unixTimestamp" and not isinstance(value, bool):
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            raise ValueError(value)
    except (ValueError, TypeError, OverflowError, OSError):
        raise Violation("type", path, f"{value!r} is not a timestamp ({fmt})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _from_body(shape: StructureShape, members: Mapping[str, Shape], body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Violation("type", shape.name, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise Violation("type", shape.name, "the body is not a JSON object")
    values = {}
    for name, member in members.items():
        wire = member.serialization.get("name", name)
        if wire in document and document[wire] is not None:
            values[name] = from_json(member, document[wire], name)
    return values


def from_json(shape: Shape, value: Any, path: str) -> Any:
    """One value of a JSON body, recursively; JSON of the wrong type is left for ``check``."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            name: from_json(member, value[member.serialization.get("name", name)], path)
            for name, member in shape.members.items()
            if value.get(member.serialization.get("name", name)) is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [from_json(shape.member, item, f"{path}[]") for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: from_json(shape.value, item, f"{path}[]") for key, item in value.items()}
    if shape.type_name == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        return parse_timestamp(value, fmt, path)
    if shape.type_name == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Violation("type", path, "not base64") from None
    if shape.type_name in ("float", "double") and isinstance(value, int | float):
        return float(value) if not isinstance(value, bool) else value
    return value
