"""The command line as a user meets it: flags, exit codes, one clear line on error."""

from pathlib import Path

import pytest

from exporter import __version__
from exporter.cli import main
from tests.processes import run_exporter

FIXTURES = Path(__file__).parent / "fixtures" / "config"


def test_version_flag_prints_the_version():
    result = run_exporter("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"aws-backup-restore-exporter {__version__}"


def test_help_lists_the_documented_flags():
    result = run_exporter("--help")
    assert result.returncode == 0
    for flag in ("--config.file", "--web.listen-address", "--log.level", "--demo", "--version"):
        assert flag in result.stdout


def test_invalid_config_exits_non_zero_naming_the_key():
    result = run_exporter("--config.file", str(FIXTURES / "invalid" / "bad-lookback.yaml"))
    assert result.returncode == 1
    assert "targets[0].discovery.lookback" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_non_zero(tmp_path):
    result = run_exporter("--config.file", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr


def test_config_check_accepts_a_valid_file():
    result = run_exporter("--config.check", "--config.file", str(FIXTURES / "valid-full.yaml"))
    assert result.returncode == 0, result.stderr
    assert "configuration OK: 2 target(s): prod-use1 (us-east-1), eu-west-1 (eu-west-1)" in (
        result.stdout
    )


def test_config_file_can_come_from_the_environment():
    import os

    env = {
        **os.environ,
        "AWS_BACKUP_RESTORE_EXPORTER_CONFIG_FILE": str(FIXTURES / "valid-full.yaml"),
    }
    result = run_exporter("--config.check", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config.file", "x.yaml", "--web.listen-address", "nowhere"], "--web.listen-address"),
        (["--config.file", "x.yaml", "--web.listen-address", ":99999"], "--web.listen-address"),
        (["--config.file", "x.yaml", "--log.level", "loud"], "--log.level"),
        (["--config.file", "x.yaml", "--web.telemetry-path", "metrics"], "--web.telemetry-path"),
        ([], "--config.file is required"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_with_usage(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("AWS_BACKUP_RESTORE_EXPORTER_CONFIG_FILE", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_port_in_use_exits_non_zero_with_one_line(tmp_path):
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text("targets:\n  - region: us-east-1\n")
    try:
        result = run_exporter(
            "--config.file", str(config), "--web.listen-address", f"127.0.0.1:{port}"
        )
    finally:
        busy.close()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
