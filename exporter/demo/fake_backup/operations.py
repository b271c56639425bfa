"""The restore-job operations: StartRestoreJob, DescribeRestoreJob, ListRestoreJobs.

A handler takes one ``Call`` (the operation's input, already parsed and checked against the
model, and the caller's account and region) and returns the operation's output as a dict of
model member names, or ``Raw`` JSON for the whole body. ``handlers()`` is the seam where an
operation plugs in: a later module (restore testing plans and selections, protected resources)
brings its own handlers over its own store, and the API serves the union; routing, parsing,
validation and errors need nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.demo.fake_backup.encode import Raw, to_json
from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.fields import Job
from exporter.demo.fake_backup.model import structure
from exporter.demo.fake_backup.query import (
    FILTERS,
    BadTokenError,
    decode_token,
    encode_token,
    fingerprint,
    predicates,
)
from exporter.demo.fake_backup.sigv4 import Caller
from exporter.demo.fake_backup.store import RestoreJobStore

# AWS does not document ListRestoreJobs' default page size; the model's maximum it is.
DEFAULT_MAX_RESULTS = 1000
_STARTED_FIELDS = ("RecoveryPointArn", "IamRoleArn", "ResourceType")


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]
    caller: Caller


Output = dict[str, Any] | Raw
Handler = Callable[[Call], Output]


def _renderer(shape_name: str) -> Callable[[Job], str]:
    shape = structure(shape_name)
    return lambda job: to_json(shape, job)


class RestoreJobOperations:
    """The handlers of the restore-job operations, over one store."""

    def __init__(self, store: RestoreJobStore) -> None:
        self.store = store
        self._describe = _renderer("DescribeRestoreJobOutput")
        self._member = _renderer("RestoreJobsListMember")

    def handlers(self) -> dict[str, Handler]:
        return {
            "StartRestoreJob": self.start_restore_job,
            "DescribeRestoreJob": self.describe_restore_job,
            "ListRestoreJobs": self.list_restore_jobs,
        }

    def start_restore_job(self, call: Call) -> Output:
        fields = {name: call.params.get(name) for name in _STARTED_FIELDS}
        who = call.caller
        token = call.params.get("IdempotencyToken")
        job_id = self.store.start(who.account_id, who.region, token, **fields)
        return {"RestoreJobId": job_id}

    def describe_restore_job(self, call: Call) -> Output:
        job_id = call.params["RestoreJobId"]
        who = call.caller
        text = self.store.rendered(
            who.account_id, who.region, job_id, "DescribeRestoreJobOutput", self._describe
        )
        if text is None:
            raise ApiError("ResourceNotFoundException", f"Restore job {job_id} not found")
        return Raw(text)

    def list_restore_jobs(self, call: Call) -> Output:
        who = call.caller
        filters = {name: call.params.get(name) for name in FILTERS}
        query = fingerprint(who.account_id, who.region, filters)
        token = call.params.get("NextToken")
        try:
            after = None if token is None else decode_token(token, query)
        except BadTokenError as error:
            raise ApiError(
                "InvalidParameterValueException", f"Invalid NextToken: {error}"
            ) from None
        limit = call.params.get("MaxResults", DEFAULT_MAX_RESULTS)
        texts, last = self.store.page(
            who.account_id,
            who.region,
            predicates(filters),
            after,
            limit,
            "RestoreJobsListMember",
            self._member,
        )
        output: dict[str, Any] = {"RestoreJobs": [Raw(text) for text in texts]}
        if last is not None:
            output["NextToken"] = encode_token(last, query)
        return output
