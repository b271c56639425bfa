"""The compiled rest-json parser reads every response exactly as botocore's own parser does.

For every operation's output shape and every modeled error of the rest-json services the
exporter calls (AWS Backup, Account), generated wire bodies (members present or missing, nulls,
unknown keys, numbers in either JSON form, the odd value of the wrong type) are parsed by both:
the results, or the exception raised, must be the same. Then the flag for a 2xx body that is
not JSON, which botocore alone would read as an empty result.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestJSONParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.aws_sessions import AwsSessions, Identity, epoch_seconds
from exporter.response_parser import MALFORMED, ExporterParserFactory

SERVICES = ("backup", "account")
_LOADER = botocore.session.get_session()
# The outputs the exporter reads: these must take the compiled path, or it would buy nothing.
READ = {
    "backup": (
        "ListRestoreJobs",
        "DescribeRestoreJob",
        "ListRestoreTestingPlans",
        "ListRestoreTestingSelections",
        "ListRestoreJobSummaries",
        "ListProtectedResources",
        "DescribeProtectedResource",
    ),
    "account": ("ListRegions",),
}


def _shapes() -> list[tuple[str, str, Any]]:
    found = []
    for service in SERVICES:
        model = _LOADER.get_service_model(service)
        assert model.protocol == "rest-json", service
        for name in model.operation_names:
            shape = model.operation_model(name).output_shape
            if shape is not None:
                found.append((service, name, shape))
        for shape in model.error_shapes:
            found.append((service, f"error {shape.name}", shape))
    return found


SHAPES = _shapes()
_WRONG = st.one_of(st.text(max_size=3), st.integers(), st.lists(st.none(), max_size=1))


def wire(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """A JSON value as the service might send for ``shape``; now and then of the wrong type."""
    kind = shape.type_name
    if depth > 4:
        return st.none()
    if kind == "structure":
        members = {
            member.serialization.get("name", name): st.one_of(st.none(), wire(member, depth + 1))
            for name, member in shape.members.items()
        }
        known = st.fixed_dictionaries({}, optional=members)
        extra = st.dictionaries(st.sampled_from(["Unknown", "message", "__type"]), st.integers())
        value = st.builds(lambda a, b: {**b, **a}, known, extra)
    elif kind == "list":
        value = st.lists(st.one_of(wire(shape.member, depth + 1), st.none()), max_size=3)
    elif kind == "map":
        value = st.dictionaries(st.text(max_size=4), wire(shape.value, depth + 1), max_size=3)
    elif kind in ("integer", "long", "float", "double"):
        value = st.one_of(st.floats(-1e6, 1e6), st.integers(-(2**40), 2**40))
    elif kind == "boolean":
        value = st.one_of(st.booleans(), st.sampled_from(["true", "False", "no"]))
    elif kind == "timestamp":
        value = st.one_of(st.integers(0, 2**31), st.floats(0, 2e9), st.just("2026-12-01T10:00:00Z"))
    elif kind == "blob":
        value = st.sampled_from(["", "aGVsbG8=", "AAEC"])
    else:
        value = st.text(max_size=8)
    return st.one_of(value, _WRONG) if depth else st.one_of(value, st.none())  # a body "null"


_TRICKY = {
    "integer": 3.5,  # botocore int()s it
    "long": 7.25,
    "float": 2,  # and float()s this
    "double": 4,
    "boolean": "TRUE",  # ensure_boolean: True
    "timestamp": 1796119299,
    "blob": "aGVsbG8=",
}


def every_member(shape: Any, depth: int = 0) -> Any:
    """One body with every member of every nested shape present, each scalar in the JSON form
    that botocore converts, and a null in every list."""
    kind = shape.type_name
    if depth > 6:
        return None
    if kind == "structure":
        return {
            member.serialization.get("name", name): every_member(member, depth + 1)
            for name, member in shape.members.items()
        }
    if kind == "list":
        return [every_member(shape.member, depth + 1), None]
    if kind == "map":
        return {"key": every_member(shape.value, depth + 1)}
    return _TRICKY.get(kind, "text")


@pytest.mark.parametrize(
    ("service", "name", "shape"), SHAPES, ids=[f"{s}:{n}" for s, n, _ in SHAPES]
)
def test_every_member_is_parsed_as_botocore_does(service: str, name: str, shape: Any) -> None:
    body = json.dumps(every_member(shape)).encode()
    status = 400 if name.startswith("error ") else 200
    factory = ExporterParserFactory(timestamp_parser=epoch_seconds)
    reference = RestJSONParser(timestamp_parser=epoch_seconds)
    ours = outcome(lambda: factory.create_parser("rest-json").parse(response(body, status), shape))
    assert ours == outcome(lambda: reference.parse(response(body, status), shape))


def typed(value: Any) -> Any:
    """``value`` with each leaf's type beside it: 3 and 3.0 are equal, but not alike."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def outcome(parse: Any) -> Any:
    try:
        return typed(parse())
    except Exception as error:  # both must fail alike: the same exception type
        return type(error)


def response(body: bytes, status: int = 200) -> dict[str, Any]:
    headers = {"x-amzn-requestid": "req-1", "content-type": "application/json"}
    return {"status_code": status, "headers": headers, "body": body}


@pytest.mark.parametrize(
    ("service", "name", "shape"), SHAPES, ids=[f"{s}:{n}" for s, n, _ in SHAPES]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_parse_is_botocores(service: str, name: str, shape: Any, data: Any) -> None:
    body = json.dumps(data.draw(wire(shape))).encode()
    status = 400 if name.startswith("error ") else 200
    factory = ExporterParserFactory(timestamp_parser=epoch_seconds)
    reference = RestJSONParser(timestamp_parser=epoch_seconds)
    ours = outcome(lambda: factory.create_parser("rest-json").parse(response(body, status), shape))
    assert ours == outcome(lambda: reference.parse(response(body, status), shape))


@pytest.mark.parametrize("service", SERVICES)
def test_the_outputs_the_exporter_reads_are_compiled(service: str) -> None:
    """A botocore change that made these fall back would leave them correct but slow."""
    model = _LOADER.get_service_model(service)
    factory = ExporterParserFactory(timestamp_parser=epoch_seconds)
    for name in READ[service]:
        before = factory.compiled
        shape = model.operation_model(name).output_shape
        factory.create_parser("rest-json").parse(response(b"{}"), shape)
        assert factory.compiled == before + 1, name


def test_a_shape_is_compiled_once_for_every_client() -> None:
    """The exporter's clients of one service share the loaded model (one data loader): the
    clients of a second account compile nothing."""
    sessions = AwsSessions()
    for account in ("111111111111", "222222222222"):
        identity = Identity(role_arn=f"arn:aws:iam::{account}:role/reader")
        client = sessions.session(identity).create_client("backup", region_name="eu-west-1")
        shape = client.meta.service_model.operation_model("ListRestoreJobs").output_shape
        sessions.parsers.create_parser("rest-json").parse(response(b'{"RestoreJobs": []}'), shape)
    assert sessions.parsers.compiled == 1


@pytest.mark.parametrize(
    ("body", "status", "flagged"),
    [
        (b'{"RestoreJobs": [{"RestoreJobId": "x"', 200, True),  # truncated
        (b"<html><body>Service Unavailable</body></html>", 200, True),
        (b"\xff\xfe not utf-8", 200, True),
        (b'{"RestoreJobs": []}', 200, False),
        (b"", 200, False),
        (b"<html>Bad Gateway</html>", 502, False),  # an error: botocore's error parsing reports it
    ],
)
def test_a_2xx_body_that_is_not_json_is_flagged(body: bytes, status: int, flagged: bool) -> None:
    shape = _LOADER.get_service_model("backup").operation_model("ListRestoreJobs").output_shape
    parser = ExporterParserFactory(timestamp_parser=epoch_seconds).create_parser("rest-json")
    parsed = parser.parse(response(body, status), shape)
    assert parsed.get(MALFORMED, False) is flagged
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
