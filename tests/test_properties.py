"""Bad input, generated: the config loader and the job-to-metric mapping under hypothesis.

- ``parse_config`` over random YAML-like documents (and over near-valid ones, to reach deep
  keys) either returns a Config or raises ConfigError whose message starts with a key path;
  never any other exception.
- Any restore job botocore's shape allows (every field optional, any value of the field's type,
  hostile Unicode in every string) renders as exposition text that prometheus-client's parsers
  read back with exactly the samples the job families declare.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math

import botocore.session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import Config, ConfigError, parse_config
from exporter.exposition import JobTextCache, body_text, render
from exporter.families import RenderContext
from exporter.job_families import JOB_FAMILIES
from exporter.model import RestoreJob

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPENMETRICS = "application/openmetrics-text;version=1.0.0"

# -- the config loader -----------------------------------------------------------------------

ROOTS = ("targets", "aws", "sync", "rate_limit", "metrics")
INTERESTING = (
    "",
    " ",
    "us-east-1",
    "eu-west-1",
    "US-EAST-1",
    "arn:aws:iam::123456789012:role/Reader",
    "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p",
    "123456789012",
    "1234",
    "http://127.0.0.1:1",
    "https://backup.example",
    "ftp://x",
    "standard",
    "adaptive",
    "forever",
    "30s",
    "1h30m",
    "7d",
    "0s",
    "-5m",
    "1e400",
    "nan",
    "inf",
    "10",
    "5 m",
    "EBS",
    "RUNNING",
    "DONE",
    "true",
    "~",
    "\u0000",
    "\u202e",
    "💾",
)
durations = st.sampled_from(("30s", "5m", "1h30m", "24h", "7d", 3600, 0, "0s", "-1s", "a day", 1e9))
numbers = st.integers(min_value=-2, max_value=30) | st.floats(min_value=-1, max_value=2000)
# Per key, values that are mostly plausible, sometimes anything: deep keys get reached.
PLAUSIBLE = {
    "name": st.sampled_from(("prod", "us-east-1", "a/b@c", "", "bad name")),
    "region": st.sampled_from(("us-east-1", "eu-west-1", "ap-southeast-2", "mars-1")),
    "role_arn": st.sampled_from(("arn:aws:iam::123456789012:role/Reader", "arn:aws:iam::1:role/x")),
    "external_id": st.sampled_from(("external-id", "x")),
    "role_session_name": st.sampled_from(("exporter", "a")),
    "profile": st.sampled_from(("prod", "two words")),
    "endpoint_url": st.sampled_from(("http://127.0.0.1:1", "https://backup.example/x", "ftp://x")),
    "sts_endpoint_url": st.sampled_from(("http://127.0.0.1:1", "no url")),
    "restore_job_ids": st.lists(st.sampled_from(("job-1", "job-2", "with space")), max_size=3),
    "enabled": st.booleans(),
    "lookback": durations,
    "resource_types": st.lists(st.sampled_from(("EBS", "RDS", "S3", "bad/type!")), max_size=3),
    "restore_testing_plan_arns": st.lists(
        st.sampled_from(("arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p", "x")),
        max_size=2,
    ),
    "statuses": st.lists(st.sampled_from(("RUNNING", "FAILED", "DONE")), max_size=3),
    "account_id": st.sampled_from(("123456789012", 123456789012, "1234")),
    "retry_mode": st.sampled_from(("standard", "adaptive", "legacy", "forever")),
    "max_attempts": numbers,
    "connect_timeout": durations,
    "read_timeout": durations,
    "deadline": durations,
    "min_interval": durations,
    "full_resync_interval": durations,
    "completion_margin": durations,
    "stale_data_max_age": durations,
    "describe_per_second": numbers,
    "list_per_second": numbers,
    "total_per_second": numbers,
    "describe_concurrency": numbers,
    "per_job": st.booleans(),
    "max_jobs_per_target": numbers,
    "message_max_length": numbers,
}


KEYS = (*ROOTS, "discovery", *PLAUSIBLE)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.sampled_from(INTERESTING)
    | st.text(max_size=12)
    | st.dates()
)
keys = st.sampled_from(KEYS) | st.text(max_size=8) | st.integers(-3, 3) | st.none() | st.booleans()
yamlish = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=25,
)


def mostly(key):
    return PLAUSIBLE[key] | PLAUSIBLE[key] | PLAUSIBLE[key] | yamlish


def section(names):
    return st.fixed_dictionaries({}, optional={name: mostly(name) for name in names})


discovery = section(
    ("enabled", "lookback", "resource_types", "restore_testing_plan_arns", "statuses", "account_id")
)
target = st.fixed_dictionaries(
    {"region": mostly("region")},
    optional={
        **{
            key: mostly(key)
            for key in (
                "name",
                "role_arn",
                "external_id",
                "role_session_name",
                "profile",
                "endpoint_url",
                "sts_endpoint_url",
                "restore_job_ids",
            )
        },
        "discovery": discovery | yamlish,
    },
)
near_valid = st.fixed_dictionaries(
    {"targets": st.lists(target | target | yamlish, min_size=1, max_size=3)},
    optional={
        "aws": section(("retry_mode", "max_attempts", "connect_timeout", "read_timeout")),
        "sync": section(
            (
                "deadline",
                "min_interval",
                "full_resync_interval",
                "completion_margin",
                "stale_data_max_age",
            )
        ),
        "rate_limit": section(
            ("describe_per_second", "list_per_second", "total_per_second", "describe_concurrency")
        ),
        "metrics": section(("per_job", "max_jobs_per_target", "message_max_length")),
        "extra": yamlish,
    },
)


def starts_with_a_key_path(message, data):
    """``targets[0].discovery.lookback: ...``, ``metric: unknown key``, ``config: ...``."""
    roots = {"config", *ROOTS}
    if isinstance(data, dict):
        roots |= {key for key in data if isinstance(key, str)}
    return any(
        message.startswith(root) and message[len(root) : len(root) + 1] in (":", ".", "[")
        for root in roots
    )


def check_config(data):
    try:
        config = parse_config(data)
    except ConfigError as error:
        message = str(error)
        assert starts_with_a_key_path(message, data), message
    else:
        assert isinstance(config, Config)
        assert config.targets


@PROPERTY
@given(yamlish)
def test_any_document_is_a_config_or_a_config_error_naming_a_key(data):
    check_config(data)


@PROPERTY
@given(near_valid)
def test_any_near_valid_document_is_a_config_or_a_config_error_naming_a_key(data):
    check_config(data)


def test_the_near_valid_strategy_reaches_valid_configs():
    """So that the property above exercises the deep keys, not only the first check."""
    found = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(near_valid)
    def collect(data):
        with contextlib.suppress(ConfigError):
            found.append(parse_config(data))

    collect()
    assert found


# -- the job-to-metric mapping ---------------------------------------------------------------

SERVICE = botocore.session.get_session().get_service_model("backup")
LIST_MEMBER = SERVICE.shape_for("RestoreJobsListMember")
DESCRIBE_OUTPUT = SERVICE.operation_model("DescribeRestoreJob").output_shape

# Strings a user or AWS may put in a name or a message: quotes, backslashes, escapes in the
# text format's own syntax, newlines of every kind, bidi controls, astral characters, NULs.
HOSTILE = (
    "",
    '"',
    "\\",
    "\\n",
    '\\"',
    "\n",
    "\r\n",
    "\u2028",
    "\u0085",
    "\x00",
    "\t",
    "} 1\n# EOF",
    'a="b",c="d"',
    "# TYPE x counter",
    "\u202eevil",
    "💾🔥",
    "e\u0301",
    "x" * 300,
)
# Valid Unicode text: everything JSON can carry except lone surrogates (see the xfail below).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.sampled_from(HOSTILE)
timestamps = st.datetimes(
    min_value=datetime.datetime(1, 1, 2),
    max_value=datetime.datetime(9999, 12, 30),
    timezones=st.just(datetime.UTC) | st.timezones(),
)


percent_done = st.sampled_from(("0.00%", "37.5", "37.50%", "100.00%", "100", "101%", "-1", ".5"))


def for_shape(shape, name=""):
    """Any value the shape allows, as botocore's parser hands it over."""
    kind = shape.type_name
    if kind == "string":
        if name == "PercentDone":  # a string in the model; numbers with or without % in practice
            return percent_done | text
        return st.sampled_from(shape.enum) | text if shape.enum else text
    if kind == "timestamp":
        return timestamps
    if kind in ("long", "integer"):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "double":
        return st.floats()
    if kind == "structure":
        members = {member: for_shape(shape.members[member], member) for member in shape.members}
        return st.fixed_dictionaries({}, optional=members)
    raise AssertionError(f"no strategy for {kind}")


jobs = for_shape(LIST_MEMBER) | for_shape(DESCRIBE_OUTPUT)
# Values botocore's shape would not allow but a buggy endpoint or a future model might send.
odd_values = (
    st.none()
    | st.floats()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    | text
    | st.integers()
    | st.booleans()
)
odd_jobs = st.dictionaries(
    st.sampled_from(sorted(DESCRIBE_OUTPUT.members)), odd_values, max_size=12
)


def expected_samples(job, now, limit):
    samples = {}
    for family in JOB_FAMILIES:
        for values, value in family.series(job, RenderContext(now, limit)):
            labels = dict(zip(family.labels, values, strict=True))
            key = (family.name, frozenset(labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = value
    return samples


def parsed_samples(body, parser):
    samples = {}
    for family in parser(body.decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return samples


def rendered(job, now, limit, accept=None):
    body, _ = render(JobTextCache(limit), [job], [], now, accept)
    return body_text(body)


def check_round_trip(data, now, limit):
    job = RestoreJob.from_api(data, "us-east-1")
    expected = expected_samples(job, now, limit)
    assert all(math.isfinite(value) for value in expected.values())
    assert parsed_samples(rendered(job, now, limit), text_string_to_metric_families) == expected
    openmetrics = rendered(job, now, limit, OPENMETRICS)
    assert parsed_samples(openmetrics, parse_openmetrics) == expected


NOW = st.floats(min_value=0, max_value=4e9)
LIMIT = st.integers(min_value=0, max_value=300)


@PROPERTY
@given(jobs, NOW, LIMIT)
def test_any_job_the_model_allows_renders_text_that_parses_back_to_its_samples(data, now, limit):
    check_round_trip(data, now, limit)


@PROPERTY
@given(odd_jobs, NOW, LIMIT)
def test_odd_values_outside_the_model_never_break_the_exposition(data, now, limit):
    check_round_trip(data, now, limit)


def test_a_lone_surrogate_from_the_wire_does_not_break_the_scrape():
    data = json.loads('{"RestoreJobId": "job-1", "Status": "FAILED", "StatusMessage": "\\ud800"}')
    check_round_trip(data, 0.0, 256)
