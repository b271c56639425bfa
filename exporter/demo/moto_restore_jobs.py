"""AWS Backup restore jobs for moto, which has no restore-job API (up to moto 5.2.x at least).

``install()`` adds StartRestoreJob, DescribeRestoreJob and ListRestoreJobs to moto's backup
service, for ``moto.mock_aws`` and for ``moto.server.ThreadedMotoServer`` alike, so that tests and
``--demo`` drive the exporter through real boto3 clients. Call it before the first request: a
moto server builds (and caches) its URL map for a service on that service's first request, so
routes added later are never served by that server. ``mock_aws`` reads the routes per request.

Jobs live on moto's per-(account, region) ``BackupBackend`` object, so moto's reset (leaving
``mock_aws``, ``/moto-api/reset``) clears them like any other moto state. Field names, types and
enums come from botocore's service model (``DescribeRestoreJobOutput``), the same source the
real clients use, so a job that could not come from AWS is refused when it is stored.

The helpers below (``put_restore_job`` ...) change jobs directly, without HTTP: a server thread
may be answering while a test or the demo changes jobs, so every access holds one lock.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape
from moto.backup import urls as backup_urls
from moto.backup.exceptions import (
    BackupClientError,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from moto.backup.models import backup_backends
from moto.backup.responses import BackupResponse

Job = dict[str, Any]

LIST_PATH = "{0}/restore-jobs/?$"
JOB_PATH = "{0}/restore-jobs/(?P<restoreJobId>[^/]+)$"
DEFAULT_MAX_RESULTS = 100  # AWS does not document its default page size

_LOCK = threading.RLock()
_ATTR = "exporter_restore_jobs"  # attribute on the backend object, gone after moto's reset
_PYTHON_TYPES: dict[str, type] = {"string": str, "long": int, "boolean": bool, "structure": dict}


class MissingParameterValueException(BackupClientError):  # noqa: N818 (AWS's error name)
    """The model's error for a missing required parameter (moto's backup module lacks it)."""

    def __init__(self, msg: str) -> None:
        super().__init__("MissingParameterValueException", msg)


@cache
def _members() -> dict[str, Shape]:
    """Every field a restore job can have, with its botocore shape."""
    model = botocore.session.get_session().get_service_model("backup")
    output = model.shape_for("DescribeRestoreJobOutput")
    assert isinstance(output, StructureShape)
    return dict(output.members)


def _to_datetime(value: datetime | float) -> datetime:
    """Aware UTC, cut to milliseconds: AWS's precision, so dates read back compare equal."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return datetime.fromtimestamp(round(float(value), 3), UTC)


def _checked(name: str, value: Any) -> Any:
    """``value`` as stored for field ``name``; TypeError/ValueError if AWS could not send it."""
    shape = _members().get(name)
    if shape is None:
        raise TypeError(f"{name!r} is not a field of a restore job")
    if shape.type_name == "timestamp":
        if isinstance(value, bool) or not isinstance(value, datetime | int | float):
            raise TypeError(f"{name} must be a datetime or epoch seconds, not {value!r}")
        return _to_datetime(value)
    expected = _PYTHON_TYPES[shape.type_name]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TypeError(f"{name} must be a {shape.type_name}, not {value!r}")
    enum = getattr(shape, "enum", None)  # only string shapes carry one
    if enum and value not in enum:
        raise ValueError(f"{name} must be one of {enum}, not {value!r}")
    if isinstance(value, dict):
        assert isinstance(shape, StructureShape)
        members = shape.members
        if set(value) - set(members) or not all(isinstance(v, str) for v in value.values()):
            raise TypeError(f"{name} takes only string fields {sorted(members)}, not {value!r}")
        return dict(value)
    return value


def _jobs(account_id: str, region: str) -> dict[str, Job]:
    """The region's job table, created on first use. Call with ``_LOCK`` held."""
    backend = backup_backends[account_id][region]
    jobs: dict[str, Job] | None = getattr(backend, _ATTR, None)
    if jobs is None:
        jobs = {}
        setattr(backend, _ATTR, jobs)
    return jobs


def _sort_key(job: Job) -> tuple[int, str]:
    """Newest first, then by ID, so that pages stay stable while jobs are added."""
    return (-round(job["CreationDate"].timestamp() * 1000), job["RestoreJobId"])


def _encode_token(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_token(token: str) -> tuple[int, str]:
    try:
        millis, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InvalidParameterValueException(f"Invalid NextToken: {token}") from error
    if not isinstance(millis, int) or not isinstance(job_id, str):
        raise InvalidParameterValueException(f"Invalid NextToken: {token}")
    return millis, job_id


def _wire(job: Job) -> dict[str, Any]:
    """A job as rest-json sends it: timestamps as epoch seconds. By hand rather than through
    moto's ``ActionResult``, whose model-driven serializer costs ~0.6 ms per job: 1000-job pages
    would take most of a second."""
    return {k: v.timestamp() if isinstance(v, datetime) else v for k, v in job.items()}


def _aware(value: datetime | None) -> datetime | None:
    """moto's request parser yields naive UTC datetimes."""
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


def _matches(job: Job, query: dict[str, Any]) -> bool:
    """Every ``By*`` filter of ListRestoreJobsInput. AWS does not document whether the date
    bounds are inclusive; they are here, so a job on a boundary shows twice rather than never."""
    created, completed = job["CreationDate"], job.get("CompletionDate")
    plan = job.get("CreatedBy", {}).get("RestoreTestingPlanArn")
    tests: dict[str, Callable[[Any], bool]] = {
        "ByAccountId": lambda v: job.get("AccountId") == v,
        "ByResourceType": lambda v: job.get("ResourceType") == v,
        "ByStatus": lambda v: job.get("Status") == v,
        "ByRestoreTestingPlanArn": lambda v: plan == v,
        "ByParentJobId": lambda v: job.get("ParentJobId") == v,
        "ByCreatedBefore": lambda v: created <= _aware(v),
        "ByCreatedAfter": lambda v: created >= _aware(v),
        "ByCompleteBefore": lambda v: completed is not None and completed <= _aware(v),
        "ByCompleteAfter": lambda v: completed is not None and completed >= _aware(v),
    }
    return all(test(query[name]) for name, test in tests.items() if query.get(name) is not None)


_LIST_FILTERS = (
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


class RestoreJobResponse(BackupResponse):
    """The three restore-job operations; moto picks the method from botocore's model."""

    def __init__(self) -> None:
        super().__init__()
        # Parameters parsed per the model: read them by member name (MaxResults, ByStatus).
        self.automated_parameter_parsing = True

    def start_restore_job(self) -> str:
        for name in ("RecoveryPointArn", "Metadata"):
            if self._get_param(name) is None:
                raise MissingParameterValueException(f"{name} is required")
        fields = {n: self._get_param(n) for n in ("RecoveryPointArn", "IamRoleArn", "ResourceType")}
        job_id = put_restore_job(self.current_account, self.region, **fields)
        return json.dumps({"RestoreJobId": job_id})

    def describe_restore_job(self) -> str:
        job_id = self._get_param("RestoreJobId")
        with _LOCK:
            job = _jobs(self.current_account, self.region).get(job_id)
            if job is None:
                raise ResourceNotFoundException(f"Restore job {job_id} not found")
            return json.dumps(_wire(job))

    def list_restore_jobs(self) -> str:
        limit = self._get_param("MaxResults", DEFAULT_MAX_RESULTS)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidParameterValueException("MaxResults must be between 1 and 1000")
        token = self._get_param("NextToken")
        after = _decode_token(token) if token else None
        query = {name: self._get_param(name) for name in _LIST_FILTERS}
        with _LOCK:
            jobs = [
                j for j in _jobs(self.current_account, self.region).values() if _matches(j, query)
            ]
            jobs.sort(key=_sort_key)
            if after is not None:
                jobs = [j for j in jobs if _sort_key(j) > after]
            page = [_wire(job) for job in jobs[:limit]]
            more = {"NextToken": _encode_token(_sort_key(jobs[limit - 1]))} if jobs[limit:] else {}
            return json.dumps({"RestoreJobs": page} | more)


def install() -> None:
    """Serve the restore-job API from moto's backup service; safe to call more than once.

    Must run before the first backup request to a ``ThreadedMotoServer`` (see module doc)."""
    with _LOCK:
        for path in (LIST_PATH, JOB_PATH):
            backup_urls.url_paths.setdefault(path, RestoreJobResponse.dispatch)


def put_restore_job(account_id: str, region: str, **fields: Any) -> str:
    """Create or replace a job; returns its ID. Fills RestoreJobId (a new UUID), AccountId,
    CreationDate (now) and Status (PENDING) when not given; ``None`` values are left out."""
    job = {name: _checked(name, value) for name, value in fields.items() if value is not None}
    job.setdefault("RestoreJobId", str(uuid.uuid4()).upper())
    job.setdefault("AccountId", account_id)
    job.setdefault("CreationDate", _to_datetime(datetime.now(UTC)))
    job.setdefault("Status", "PENDING")
    with _LOCK:
        _jobs(account_id, region)[job["RestoreJobId"]] = job
    return str(job["RestoreJobId"])


def update_restore_job(account_id: str, region: str, job_id: str, **fields: Any) -> None:
    """Change some fields of an existing job (KeyError if there is none); ``None`` removes one."""
    if "RestoreJobId" in fields:
        raise TypeError("RestoreJobId cannot change")
    for required in ("AccountId", "CreationDate", "Status"):
        if required in fields and fields[required] is None:
            raise TypeError(f"{required} cannot be removed")
    changes = {name: _checked(name, value) for name, value in fields.items() if value is not None}
    with _LOCK:
        job = _jobs(account_id, region)[job_id]
        for name in [name for name, value in fields.items() if value is None]:
            job.pop(name, None)
        job.update(changes)


def delete_restore_job(account_id: str, region: str, job_id: str) -> None:
    """Forget one job (the demo drops old generated ones); no error if it is gone already."""
    with _LOCK:
        _jobs(account_id, region).pop(job_id, None)


def clear_restore_jobs(account_id: str, region: str) -> None:
    """Forget every job of one account and region."""
    with _LOCK:
        _jobs(account_id, region).clear()


def restore_jobs(account_id: str, region: str) -> list[Job]:
    """Copies of the region's jobs, newest first (ListRestoreJobs's order)."""
    with _LOCK:
        return sorted(copy.deepcopy(list(_jobs(account_id, region).values())), key=_sort_key)
