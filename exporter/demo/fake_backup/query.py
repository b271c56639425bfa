"""ListRestoreJobs' semantics: what each ``By*`` filter keeps, and the pagination cursor.

Filters combine with AND. The date bounds are strict, as the model's documentation words them
("created before the specified date", "completed after ..."): a job created exactly at
``ByCreatedAfter`` is not returned. A job without a CompletionDate matches no completion bound.

Pages are newest first (then by job ID: a total order). NextToken is a cursor, the sort key of
the last job returned, so jobs added while a client pages through cannot shift a page and make it
skip or repeat a job. A token is only good for the query it came from (same account, region and
filters; the page size may change), as AWS's tokens are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from exporter.demo.fake_backup.fields import StoredJob, micros

Predicate = Callable[[StoredJob], bool]
SortKey = tuple[int, str]

FILTERS = (
    "ByAccountId",
    "ByResourceType",
    "ByCreatedBefore",
    "ByCreatedAfter",
    "ByStatus",
    "ByCompleteBefore",
    "ByCompleteAfter",
    "ByRestoreTestingPlanArn",
    "ByParentJobId",
)
_EQUAL = {
    "ByAccountId": "AccountId",
    "ByResourceType": "ResourceType",
    "ByStatus": "Status",
    "ByParentJobId": "ParentJobId",
}


class BadTokenError(ValueError):
    """A NextToken this API did not issue for this query."""


def _equal(field: str, wanted: Any) -> Predicate:
    return lambda job: job.fields.get(field) == wanted


def _plan(wanted: str) -> Predicate:
    return lambda job: (job.fields.get("CreatedBy") or {}).get("RestoreTestingPlanArn") == wanted


def _created(bound: int, after: bool) -> Predicate:
    if after:
        return lambda job: job.created_us > bound
    return lambda job: job.created_us < bound


def _completed(bound: int, after: bool) -> Predicate:
    if after:
        return lambda job: job.completed_us is not None and job.completed_us > bound
    return lambda job: job.completed_us is not None and job.completed_us < bound


def predicates(filters: Mapping[str, Any]) -> list[Predicate]:
    """One test per filter given (None values are absent filters); unknown names: KeyError."""
    tests: list[Predicate] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name in _EQUAL:
            tests.append(_equal(_EQUAL[name], value))
        elif name == "ByRestoreTestingPlanArn":
            tests.append(_plan(value))
        elif name in ("ByCreatedAfter", "ByCreatedBefore"):
            tests.append(_created(_bound(value), after=name.endswith("After")))
        elif name in ("ByCompleteAfter", "ByCompleteBefore"):
            tests.append(_completed(_bound(value), after=name.endswith("After")))
        else:
            raise KeyError(f"{name} is not a ListRestoreJobs filter")
    return tests


def _bound(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("a date bound needs a time zone")
    return micros(value)


def fingerprint(account_id: str, region: str, filters: Mapping[str, Any]) -> str:
    """What a token is bound to: everything that selects jobs, not the page size."""
    given = {k: str(v) for k, v in sorted(filters.items()) if v is not None}
    text = json.dumps([account_id, region, given])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_token(key: SortKey, query_fingerprint: str) -> str:
    raw = json.dumps([key[0], key[1], query_fingerprint]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, query_fingerprint: str) -> SortKey:
    """The cursor in a token; BadTokenError if it is not one this query could have been given."""
    try:
        created, job_id, issued_for = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        raise BadTokenError("not a token this API issued") from None
    if not isinstance(created, int) or isinstance(created, bool) or not isinstance(job_id, str):
        raise BadTokenError("not a token this API issued")
    if issued_for != query_fingerprint:
        raise BadTokenError("issued for a request with other parameters")
    return created, job_id
