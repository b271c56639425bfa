"""Stored records other than restore jobs (restore testing plans and selections, protected
resources): their fields as one of the model's shapes names and types them, normalised when
stored and copied when read, as ``fields`` does for a job.

Timestamps go in as datetimes or epoch seconds and are kept as aware UTC datetimes cut to
milliseconds; everything else is checked against its member's shape as it is (a copy). A field
the shape does not have is a TypeError, a value that breaks the model (a pattern, a range, an
enum) a ValueError, both raised before anything is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.model import Shape

from exporter.demo.fake_backup.constraints import Violation, check
from exporter.demo.fake_backup.fields import to_datetime
from exporter.demo.fake_backup.model import structure

Record = dict[str, Any]


def member_value(shape_name: str, name: str, value: Any) -> Any:
    """``value`` as stored for member ``name`` of ``shape_name`` (see the module docstring)."""
    member = structure(shape_name).members.get(name)
    if member is None:
        raise TypeError(f"{name!r} is not a member of {shape_name}")
    return _normalised(member, value, name)


def _normalised(member: Shape, value: Any, path: str) -> Any:
    if member.type_name == "timestamp":
        if isinstance(value, bool) or not isinstance(value, datetime | int | float):
            raise TypeError(f"{path} must be a datetime or epoch seconds, not {value!r}")
        value = to_datetime(value)
    else:
        value = copy.deepcopy(value)
    try:
        check(member, value, path)
    except Violation as violation:
        raise (ValueError if violation.kind == "value" else TypeError)(str(violation)) from None
    return value


def normalised(shape_name: str, fields: Mapping[str, Any], complete: bool = True) -> Record:
    """Every field checked and normalised; ``None`` values are left out. ``complete``: the
    shape's required members must all be there (a TypeError names the first one missing)."""
    record = {
        name: member_value(shape_name, name, value)
        for name, value in fields.items()
        if value is not None
    }
    if complete:
        for name in structure(shape_name).required_members:
            if name not in record:
                raise TypeError(f"{shape_name}.{name} is required")
    return record


def project(record: Mapping[str, Any], shape_name: str) -> Record:
    """A copy of the fields of ``record`` that ``shape_name`` has (a list member, an output)."""
    members = structure(shape_name).members
    return {name: copy.deepcopy(value) for name, value in record.items() if name in members}


def copied(records: Iterable[Mapping[str, Any]]) -> list[Record]:
    return [copy.deepcopy(dict(record)) for record in records]
