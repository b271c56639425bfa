"""The config file: every valid key read as written, every invalid one named in the error."""

from pathlib import Path

import pytest
import yaml

from exporter.config import ConfigError, load_config, parse_config
from exporter.durations import format_duration, parse_duration

FIXTURES = Path(__file__).parent / "fixtures" / "config"

INVALID = yaml.safe_load((FIXTURES / "invalid-errors.yaml").read_text())  # fixture -> error


def test_every_invalid_fixture_has_an_expectation():
    on_disk = {path.name for path in (FIXTURES / "invalid").glob("*.yaml")}
    assert on_disk == set(INVALID)


@pytest.mark.parametrize(("fixture", "expected"), sorted(INVALID.items()))
def test_invalid_config_is_rejected_naming_the_key(fixture, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(FIXTURES / "invalid" / fixture)
    message = str(caught.value)
    assert "\n" not in message  # one line, fit for a log
    if fixture == "not-yaml.yaml":  # a syntax error has no key, so it names the file and line
        assert message.startswith("config file "), message
        assert expected in message, message
    else:
        assert message.startswith(expected), message


def test_full_config_is_read_as_written():
    config = load_config(FIXTURES / "valid-full.yaml")
    first, second = config.targets
    assert first.name == "prod-use1"
    assert first.role_arn == "arn:aws:iam::111122223333:role/BackupRestoreReader"
    assert first.external_id == "ext-123"
    assert first.role_session_name == "restore-exporter"
    assert first.endpoint_url == "http://127.0.0.1:5000"
    assert first.restore_job_ids == ("job-1", "job-2")
    assert first.discovery.lookback_seconds == 36 * 3600
    assert first.discovery.resource_types == ("EBS", "RDS")
    assert first.discovery.statuses == ("FAILED", "RUNNING")
    assert first.discovery.account_id == "111122223333"
    assert second.name == "eu-west-1"
    assert second.discovery.enabled is True
    assert second.discovery.lookback_seconds == 86400
    assert config.aws.retry_mode == "adaptive"
    assert config.aws.max_attempts == 6
    assert config.aws.read_timeout_seconds == 15
    assert config.sync.deadline_seconds == 9
    assert config.sync.full_resync_interval_seconds == 7200
    assert config.sync.completion_margin_seconds == 600
    assert config.rate_limit.total_per_second == 12.5
    assert config.rate_limit.describe_concurrency == 2
    assert config.metrics.per_job is False
    assert config.metrics.max_jobs_per_target == 500


def test_default_target_name_includes_the_role_account():
    config = parse_config(
        {
            "targets": [
                {"region": "us-east-1", "role_arn": "arn:aws:iam::111122223333:role/A"},
                {"region": "us-east-1", "role_arn": "arn:aws:iam::444455556666:role/A"},
            ]
        }
    )
    assert [t.name for t in config.targets] == [
        "us-east-1/111122223333",
        "us-east-1/444455556666",
    ]


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "absent.yaml")


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"^config: expected a mapping"):
        parse_config(["targets"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("3600", 3600),
        ("1w", 604800),
    ],
)
def test_durations_parse_prometheus_style(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5 m", "m5", "-3s", "1h-5m", "nan", "inf", "5y"])
def test_non_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 90, 3600, 5400, 86400, 604800, 0.5])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds
