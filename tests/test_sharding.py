"""Sharding: ``--shard N --total-shards M`` (or their environment variables, or a StatefulSet pod
name) make a replica keep the targets whose stable hash of (account_id, region) modulo M is N.

The flags as a user passes them (a bad value is a usage error naming the flag, exit 2); the
split of 1,000 (account, region) targets over 2, 3 and 7 shards (each target in exactly one,
shares even, the same after a restart and in another process, unmoved when targets join); and
an exporter on the fake AWS Backup syncing and exposing only its own shard's targets.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from exporter.cli import build_parser, main, read_shard
from exporter.config import TargetConfig, parse_config
from exporter.demo.fake_backup import FakeBackup
from exporter.scheduler import Exporter
from exporter.targets import CombinedTargets, Shard, StaticTargets
from tests.paths import REPO
from tests.processes import run_exporter
from tests.scraped import Scraped
from tests.tables import cases

SHARD_ENV = "AWS_BACKUP_RESTORE_EXPORTER_SHARD"
TOTAL_ENV = "AWS_BACKUP_RESTORE_EXPORTER_TOTAL_SHARDS"
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1", "us-west-2", "eu-central-1")
TARGET_UP = "aws_backup_restore_exporter_target_up"


@pytest.fixture(autouse=True)
def no_shard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flags' defaults come from the environment: start every test without it."""
    for name in (SHARD_ENV, TOTAL_ENV, "AWS_BACKUP_RESTORE_EXPORTER_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


def shard_of(*argv: str) -> Shard:
    """The Shard the exporter's own parser reads from a command line."""
    parser = build_parser()
    return read_shard(parser.parse_args(["--config.file", "c.yaml", *argv]), parser)


# ---- the flags --------------------------------------------------------------------------------


@cases(
    ("argv", "shard"),
    {
        "no flags: one replica holds everything": ((), Shard(0, 1)),
        "numbers": (("--shard", "2", "--total-shards", "5"), Shard(2, 5)),
        "the = form": (("--shard=0", "--total-shards=3"), Shard(0, 3)),
        "the last shard": (("--shard", "6", "--total-shards", "7"), Shard(6, 7)),
        "a StatefulSet pod name": (("--shard", "exporter-3", "--total-shards", "4"), Shard(3, 4)),
        "a release-prefixed pod name": (
            ("--shard=prod-aws-backup-restore-exporter-0", "--total-shards=2"),
            Shard(0, 2),
        ),
        "a pod name with a two-digit ordinal": (
            ("--shard", "exporter-12", "--total-shards", "16"),
            Shard(12, 16),
        ),
        "a pod name whose release has digits": (
            ("--shard", "exporter-v2-1", "--total-shards", "2"),
            Shard(1, 2),
        ),
    },
)
def test_shard_flags(argv, shard):
    assert shard_of(*argv) == shard


@cases(
    ("environment", "shard"),
    {
        "numbers": ({SHARD_ENV: "1", TOTAL_ENV: "3"}, Shard(1, 3)),
        "the pod name from the downward API": (
            {SHARD_ENV: "exporter-2", TOTAL_ENV: "3"},
            Shard(2, 3),
        ),
        "only the total (shard 0)": ({TOTAL_ENV: "4"}, Shard(0, 4)),
    },
)
def test_shard_environment_variables(monkeypatch, environment, shard):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert shard_of() == shard


def test_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv(SHARD_ENV, "exporter-2")
    monkeypatch.setenv(TOTAL_ENV, "3")
    assert shard_of("--shard", "exporter-4", "--total-shards", "5") == Shard(4, 5)


BAD_FLAGS = {
    "total zero": (
        ("--total-shards", "0"),
        "--total-shards: expected a whole number of at least 1",
    ),
    "total negative": (("--total-shards=-2",), "--total-shards: expected a whole number"),
    "total not a number": (("--total-shards", "three"), "--total-shards: expected a whole number"),
    "total a fraction": (("--total-shards", "2.5"), "--total-shards: expected a whole number"),
    "total empty": (("--total-shards=",), "--total-shards: expected a whole number"),
    "total a superscript digit (str.isdigit, not a number)": (
        ("--total-shards", "²"),
        "--total-shards: expected a whole number",
    ),
    "shard a word": (("--shard", "first", "--total-shards", "2"), "--shard: expected a number"),
    "shard a pod name without an ordinal": (
        ("--shard", "exporter", "--total-shards", "2"),
        "--shard: expected a number or a StatefulSet pod name ending in -N",
    ),
    "shard negative (not a pod name: nothing before the -)": (
        ("--shard=-1", "--total-shards", "2"),
        "--shard: expected a number or a StatefulSet pod name ending in -N",
    ),
    "shard a fraction": (("--shard", "1.5", "--total-shards", "2"), "--shard: expected a number"),
    "shard empty": (("--shard=", "--total-shards", "2"), "--shard: expected a number"),
    "shard equal to the total": (
        ("--shard", "3", "--total-shards", "3"),
        "--shard: 3 is not below --total-shards 3",
    ),
    "a pod beyond the total": (
        ("--shard", "exporter-4", "--total-shards", "4"),
        "--shard: 4 is not below --total-shards 4",
    ),
    "a shard without a total": (("--shard", "1"), "--shard: 1 is not below --total-shards 1"),
}


@cases(("argv", "message"), BAD_FLAGS)
def test_bad_shard_flags_are_usage_errors_naming_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--config.file", "c.yaml", *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.startswith("usage: aws-backup-restore-exporter")


def test_bad_shard_environment_is_a_usage_error_naming_the_flag(monkeypatch, capsys):
    monkeypatch.setenv(SHARD_ENV, "exporter")
    monkeypatch.setenv(TOTAL_ENV, "2")
    with pytest.raises(SystemExit) as caught:
        main(["--config.file", "c.yaml"])
    assert caught.value.code == 2
    assert "--shard: expected a number or a StatefulSet pod name" in capsys.readouterr().err


def test_the_real_cli_checks_the_shard_flags(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("targets:\n  - region: us-east-1\n")
    good = run_exporter(
        "--config.check", "--config.file", str(config), "--shard=exporter-3", "--total-shards=4"
    )
    assert good.returncode == 0, good.stderr
    env = {**os.environ, SHARD_ENV: "exporter-4", TOTAL_ENV: "4"}
    bad = run_exporter("--config.check", "--config.file", str(config), env=env)
    assert bad.returncode == 2
    assert "--shard: 4 is not below --total-shards 4" in bad.stderr
    assert "Traceback" not in bad.stderr


# ---- the split of 1,000 targets ---------------------------------------------------------------

N_TARGETS = 1000
ACCOUNTS = [f"{210000000000 + 7919 * i:012d}" for i in range(N_TARGETS // len(REGIONS))]


def discovered(account: str, region: str) -> TargetConfig:
    """A target as discovery makes it: named <region>/<account_id>, keyed by both."""
    return TargetConfig(name=f"{region}/{account}", region=region, account_id=account)


TARGETS = [discovered(account, region) for account in ACCOUNTS for region in REGIONS]
SHARD_COUNTS = (2, 3, 7)


def owned(shard: Shard, targets: list[TargetConfig]) -> list[str]:
    return [target.name for target in targets if shard.owns(target)]


def test_the_targets_are_1000_distinct_account_region_pairs():
    assert len({target.key for target in TARGETS}) == N_TARGETS


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_every_target_is_in_exactly_one_shard(total):
    for target in TARGETS:
        owners = [index for index in range(total) if Shard(index, total).owns(target)]
        assert len(owners) == 1, (target.name, owners)


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_shares_are_even(total):
    # The bound: a uniform hash puts Binomial(n, 1/M) targets in a shard, whose standard
    # deviation is sqrt(n p (1-p)) (15.8 for M=2, 14.9 for M=3, 11.1 for M=7 at n=1000); each
    # share must be within 4 of them of n/M. A uniform random split breaks that with a chance
    # of about 6e-5 per shard, so this catches a skewed hash (a bad modulo, a constant part of
    # the key) and not chance. It cannot flake: SHA-256 of fixed inputs is deterministic, so
    # for these 1,000 targets it is an exact property that holds on every run or on none.
    p = 1 / total
    bound = 4 * math.sqrt(N_TARGETS * p * (1 - p))
    shares = [len(owned(Shard(index, total), TARGETS)) for index in range(total)]
    assert sum(shares) == N_TARGETS
    for share in shares:
        assert abs(share - N_TARGETS / total) <= bound, (shares, bound)


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_the_hash_is_of_account_and_region_together(total):
    # the hash is of (account, region), not of the region alone (which would put each of the
    # 5 regions wholly in one shard) nor of the account alone
    for region in REGIONS:
        in_region = [t for t in TARGETS if t.region == region]
        shares = {index: len(owned(Shard(index, total), in_region)) for index in range(total)}
        assert all(shares.values()), (region, shares)

    def shard_index(target: TargetConfig) -> int:
        return next(i for i in range(total) if Shard(i, total).owns(target))

    split_accounts = [
        account
        for account in ACCOUNTS
        if len({shard_index(discovered(account, region)) for region in REGIONS}) > 1
    ]
    assert split_accounts, "some account's regions are in different shards"


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_a_restarted_replica_takes_the_same_targets(total):
    for index in range(total):
        first = owned(Shard(index, total), TARGETS)
        again = owned(Shard(index, total), list(reversed(TARGETS)))
        assert sorted(again) == sorted(first)


PROGRAM = """
import json, sys
from exporter.config import TargetConfig
from exporter.targets import Shard
totals, pairs = json.loads(sys.stdin.read())
targets = [TargetConfig(name=f"{r}/{a}", region=r, account_id=a) for a, r in pairs]
print(json.dumps({
    f"{index}/{total}": [t.name for t in targets if Shard(index, total).owns(t)]
    for total in totals for index in range(total)
}))
"""


@pytest.mark.parametrize("seed", ["1", "4242"])
def test_a_replica_in_a_new_process_takes_the_same_targets(seed):
    # a new process, with another string hash seed: the shard must not hang on hash()
    pairs = [[t.account_id, t.region] for t in TARGETS]
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        input=json.dumps([SHARD_COUNTS, pairs]),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        f"{index}/{total}": owned(Shard(index, total), TARGETS)
        for total in SHARD_COUNTS
        for index in range(total)
    }


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_targets_joining_or_leaving_move_no_other_target(total):
    joined = [discovered(f"{390000000000 + i:012d}", REGIONS[i % 5]) for i in range(100)]
    left = TARGETS[::3]  # a third of the organisation leaves
    for index in range(total):
        shard = Shard(index, total)
        before = set(owned(shard, TARGETS))
        after = set(owned(shard, TARGETS + joined))
        assert before <= after
        assert after - before == set(owned(shard, joined))
        gone = {t.name for t in left}
        remaining = [t for t in TARGETS if t.name not in gone]
        assert set(owned(shard, remaining)) == before - gone


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_combined_targets_partition_static_and_discovered_targets(total):
    # a static target for a discovered (account, region) has another name, the same key: it
    # lands in the same shard, where it replaces the discovered one
    static = [
        TargetConfig(name=f"static-{i}", region=t.region, account_id=t.account_id)
        for i, t in enumerate(TARGETS[:40])
    ]
    sources = [StaticTargets(static), StaticTargets(TARGETS)]
    per_shard = [
        [t.name for t in CombinedTargets(sources, Shard(index, total)).targets()]
        for index in range(total)
    ]
    every = [name for names in per_shard for name in names]
    assert len(every) == len(set(every)) == N_TARGETS
    assert {f"static-{i}" for i in range(40)} <= set(every)
    assert not {t.name for t in TARGETS[:40]} & set(every)


# ---- an exporter with a shard, on the fake AWS Backup -----------------------------------------

STATIC_ACCOUNTS = [f"{500000000000 + 101 * i:012d}" for i in range(24)]


@pytest.fixture
def sharded_exporter(backup: str) -> Iterator[Callable[..., Exporter]]:
    """Exporters over the same 24 static targets (distinct account_id keys), one per shard."""
    made: list[Exporter] = []

    def build(shard: Shard | None = None, accounts: list[str] = STATIC_ACCOUNTS) -> Exporter:
        targets = [
            {
                "name": f"team-{account}",
                "region": "us-east-1",
                "account_id": account,
                "endpoint_url": backup,
                "restore_testing": {"enabled": False},
            }
            for account in accounts
        ]
        exporter = Exporter(parse_config({"targets": targets}), shard=shard)
        made.append(exporter)
        return exporter

    yield build
    for exporter in made:
        exporter.close()


def exposed_targets(exporter: Exporter) -> dict[str, str]:
    """target -> account_id of every target_up series on /metrics."""
    return {
        s.labels["target"]: s.labels["account_id"]
        for s in Scraped(exporter).samples()
        if s.name == TARGET_UP
    }


def test_an_exporter_syncs_and_exposes_only_its_shard(sharded_exporter, backup_server: FakeBackup):
    # what one target's sync costs at the fake, from an exporter of that target alone
    before = backup_server.requests()
    sharded_exporter(accounts=STATIC_ACCOUNTS[:1]).scrape()
    per_target = backup_server.requests() - before
    assert per_target >= 1

    total = 3
    seen: dict[int, dict[str, str]] = {}
    for index in range(total):
        exporter = sharded_exporter(Shard(index, total))
        before = backup_server.requests()
        exporter.scrape()
        synced = backup_server.requests() - before
        assert exporter.api_requests() == synced  # its own count agrees with the fake's
        seen[index] = exposed_targets(exporter)  # (a scrape: syncs again)
        mine = [a for a in STATIC_ACCOUNTS if Shard(index, total).owns(discovered(a, "us-east-1"))]
        assert seen[index] == {f"team-{a}": a for a in mine}
        assert synced == per_target * len(mine), (index, synced, per_target, len(mine))
        assert [s.target.name for s in exporter.syncers] == [f"team-{a}" for a in mine]
    everything = [name for targets in seen.values() for name in targets]
    assert sorted(everything) == sorted(f"team-{a}" for a in STATIC_ACCOUNTS)
    assert all(seen.values()), seen  # 24 targets over 3 shards: none empty


def test_an_unsharded_exporter_keeps_every_target(sharded_exporter):
    exporter = sharded_exporter()
    assert exporter.shard == Shard(0, 1)
    exporter.scrape()
    assert set(exposed_targets(exporter)) == {f"team-{a}" for a in STATIC_ACCOUNTS}
