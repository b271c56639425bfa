"""botocore's rest-json response parsing, compiled once per output shape, not walked per value.

botocore parses a JSON response by walking the output shape for every value: a method lookup
by type name, a dict of members and a header check per string. For a ListRestoreJobs page of 50
jobs that is about 1 ms of CPU, five times the ``json.loads`` under it, and at 1,000 targets it is
the largest part of a first sync after the requests themselves. Here each output shape is
turned, once per process, into nested converters that apply exactly botocore's rules (JSON
member names, nulls dropped, ``int``/``float``/``ensure_boolean``, the session's timestamp and
blob parsers, sparse lists); tests/test_response_parser.py checks them against botocore's own
parser on generated responses for every operation of the services the exporter calls.

The parser also flags a 2xx body that is not JSON (``MALFORMED``): botocore's parser
would read it as an empty result, so a truncated ListRestoreJobs page would read as "no jobs"
and hide data. Flagging it while parsing saves a second ``json.loads`` of every body.

Shapes this does not compile (document types, tagged unions, payload members, recursion)
and errors are parsed by botocore itself. The converters are cached by the loaded model dict of
the output shape, which every client of a service shares (one data loader per process); a
botocore whose shapes lack that dict gets botocore's parsing unchanged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.parsers import ResponseParser, ResponseParserFactory, RestJSONParser
from botocore.utils import ensure_boolean

MALFORMED = "_ExporterMalformedBody"  # flag in a parsed response whose body was not JSON

Converter = Callable[[Any], Any]
_IDENTITY = None  # a value botocore passes through unchanged: no call at all
_SCALARS: dict[str, Converter] = {
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "boolean": ensure_boolean,
}


class _NotCompiledError(Exception):
    """A shape outside what the converters reproduce: botocore parses it."""


class _Compiler:
    def __init__(self, timestamp: Converter, blob: Converter) -> None:
        self._timestamp = timestamp
        self._blob = blob
        self._open: set[str] = set()  # structures being compiled: a cycle is not compiled

    def shape(self, shape: Any) -> Converter | None:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return _list(self.shape(shape.member))
        if kind == "map":
            return _map(self.shape(shape.key), self.shape(shape.value))
        if kind == "string":
            if shape.serialization.get("location"):
                raise _NotCompiledError(shape.name)  # header strings may be JSON values
            return _IDENTITY
        if kind == "timestamp":
            return self._timestamp
        if kind == "blob":
            return self._blob
        if kind in _SCALARS:
            return _SCALARS[kind]
        raise _NotCompiledError(f"{shape.name}: {kind}")

    def _structure(self, shape: Any) -> Converter:
        if shape.is_document_type or shape.is_tagged_union or shape.name in self._open:
            raise _NotCompiledError(shape.name)
        self._open.add(shape.name)
        try:
            fields = []
            for name, member in shape.members.items():
                if member.serialization.get("location") or member.serialization.get("eventstream"):
                    raise _NotCompiledError(f"{shape.name}.{name}")
                fields.append((name, member.serialization.get("name", name), self.shape(member)))
        finally:
            self._open.discard(shape.name)
        return _structure(tuple(fields))


def _structure(fields: tuple[tuple[str, str, Converter | None], ...]) -> Converter:
    def convert(value: Any) -> Any:
        if value is None:
            return None  # botocore returns a JSON null structure unchanged
        out = {}
        get = value.get  # not a dict: AttributeError, as botocore raises
        for name, key, member in fields:
            raw = get(key)
            if raw is not None:
                out[name] = raw if member is None else member(raw)
        return out

    return convert


def _list(member: Converter | None) -> Converter:
    if member is None:
        return list  # botocore copies a list of strings as it is, nulls included
    return lambda items: [None if item is None else member(item) for item in items]


def _map(key: Converter | None, value: Converter | None) -> Converter:
    def convert(items: Any) -> dict[Any, Any]:
        return {
            k if key is None else key(k): v if value is None else value(v) for k, v in items.items()
        }

    return convert


class _Converters:
    """Compiled output shapes, by the identity of their loaded model dict (held, so that the
    identity stays theirs), shared by every parser of one factory; None for a shape botocore
    parses itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[int, tuple[object, Converter | None]] = {}

    def get(self, shape: Any, timestamp: Converter, blob: Converter) -> Converter | None:
        model = getattr(shape, "_shape_model", None)
        if model is None:
            return None
        entry = self._by_model.get(id(model))
        if entry is not None and entry[0] is model:
            return entry[1]
        try:
            converter: Converter | None = _Compiler(timestamp, blob).shape(shape)
        except _NotCompiledError:
            converter = None
        with self._lock:
            self._by_model[id(model)] = (model, converter)
        return converter

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for _, converter in self._by_model.values() if converter is not None)


class CompiledRestJSONParser(RestJSONParser):
    """RestJSONParser with compiled body parsing and the malformed-body flag; one per response,
    as botocore makes them."""

    def __init__(self, converters: _Converters, **defaults: Any) -> None:
        super().__init__(**defaults)
        self._converters = converters
        self._malformed = False
        # what botocore made of the defaults (its own when none were given); private in the stubs
        self._timestamp: Converter = vars(self)["_timestamp_parser"]
        self._blob: Converter = vars(self)["_blob_parser"]

    def parse(self, response: Mapping[str, Any], shape: Any) -> Any:
        parsed = super().parse(response, shape)
        if self._malformed and 200 <= response["status_code"] < 300 and isinstance(parsed, dict):
            parsed[MALFORMED] = True
        return parsed

    def _parse_body_as_json(self, body_contents: bytes) -> Any:
        if not body_contents:
            return {}
        try:
            return json.loads(body_contents.decode(self.DEFAULT_ENCODING))
        except ValueError:  # not JSON, or not UTF-8: botocore's reading, flagged
            self._malformed = True
            return {"message": body_contents.decode(self.DEFAULT_ENCODING, "replace")}

    def _parse_payload(
        self, response: dict[str, Any], shape: Any, member_shapes: Any, final_parsed: Any
    ) -> None:
        converter = None
        if "payload" not in shape.serialization:
            converter = self._converters.get(shape, self._timestamp, self._blob)
        if converter is None:  # (botocore's private methods are missing from its stubs)
            super()._parse_payload(response, shape, member_shapes, final_parsed)  # type: ignore[misc]
            return
        body = self._initial_body_parse(response["body"])  # type: ignore[attr-defined]
        final_parsed.update(converter(body))


class ExporterParserFactory(ResponseParserFactory):
    """The response parsers of the exporter's client sessions: botocore's, with rest-json's
    body parsing compiled (AWS Backup and Account). ``compiled`` counts the shapes compiled."""

    def __init__(self, **defaults: Any) -> None:
        super().__init__()
        self._parser_defaults: dict[str, Any] = {}
        self.set_parser_defaults(**defaults)
        self._converters = _Converters()

    def set_parser_defaults(self, **kwargs: Any) -> None:
        super().set_parser_defaults(**kwargs)
        self._parser_defaults.update(kwargs)

    def create_parser(self, protocol_name: str) -> ResponseParser:
        if protocol_name == "rest-json":
            return CompiledRestJSONParser(self._converters, **self._parser_defaults)
        parser: ResponseParser = super().create_parser(protocol_name)
        return parser

    @property
    def compiled(self) -> int:
        return len(self._converters)
