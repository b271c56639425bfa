"""The README's metric table says exactly what the exporter declares: names, types, labels."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.contract import ALL_FAMILIES
from exporter.families import Family
from exporter.job_families import IDENTITY_LABELS, JOB_FAMILIES

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\| `(?P<name>aws_backup_\w+)` \| (?P<kind>\w+) \|(?P<labels>[^|]*)\|", re.M)


def documented() -> dict[str, tuple[str, list[str]]]:
    """metric name -> (type, labels) for every row of the README's metric table."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for row in ROW.finditer(README.read_text()):
        assert row["name"] not in rows, f"{row['name']} is documented twice"
        rows[row["name"]] = (row["kind"], re.findall(r"`(\w+)`", row["labels"]))
    return rows


def declared_labels(family: Family) -> list[str]:
    """Per-job rows list the labels besides the identity labels, the others all of them."""
    if family in JOB_FAMILIES:
        assert family.labels[: len(IDENTITY_LABELS)] == IDENTITY_LABELS
        return list(family.labels[len(IDENTITY_LABELS) :])
    return list(family.labels)


def test_every_declared_family_is_documented_and_nothing_else():
    assert set(documented()) == {family.sample_name for family in ALL_FAMILIES}


def test_documented_types_and_labels_are_the_declared_ones_in_order():
    rows = documented()
    for family in ALL_FAMILIES:
        kind, labels = rows[family.sample_name]
        assert (kind, labels) == (family.kind, declared_labels(family)), family.name


def test_the_table_lists_families_in_exposition_order():
    assert list(documented()) == [family.sample_name for family in ALL_FAMILIES]
