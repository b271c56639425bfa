"""The read calls the exporter makes to AWS Backup, on a client created at first use.

Creating the client lazily keeps start-up free of AWS calls and lets a target whose credentials
cannot be found show up as down (reason ``auth``) instead of stopping the exporter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from exporter.aws_client import DESCRIBE_OPERATION, LIST_OPERATION, BackupClient, check_parsed

if TYPE_CHECKING:
    from mypy_boto3_backup.literals import RestoreJobStatusType
    from mypy_boto3_backup.type_defs import ListRestoreJobsInputPaginateTypeDef
else:
    RestoreJobStatusType = str
    ListRestoreJobsInputPaginateTypeDef = dict

MAX_RESULTS = 1000  # the model's maximum page size for ListRestoreJobs


class ListQuery(TypedDict, total=False):
    """The filters of one ListRestoreJobs query (the model's By* names); times in Unix seconds."""

    ByAccountId: str
    ByResourceType: str
    ByStatus: RestoreJobStatusType
    ByRestoreTestingPlanArn: str
    ByCreatedAfter: float
    ByCreatedBefore: float
    ByCompleteAfter: float


_TIME_FILTERS = ("ByCreatedAfter", "ByCreatedBefore", "ByCompleteAfter")


def _request(query: ListQuery) -> ListRestoreJobsInputPaginateTypeDef:
    """The paginator's arguments for a query: times as aware datetimes, as the model types them."""
    request: dict[str, Any] = dict(query)
    for name in _TIME_FILTERS:
        if name in request:
            request[name] = datetime.fromtimestamp(request[name], UTC)
    request["PaginationConfig"] = {"PageSize": MAX_RESULTS}
    typed: ListRestoreJobsInputPaginateTypeDef = request  # type: ignore[assignment]
    return typed


class BackupApi:
    """ListRestoreJobs and DescribeRestoreJob for one target."""

    def __init__(
        self,
        client_factory: Callable[[], BackupClient],
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._on_reset = on_reset
        self._client: BackupClient | None = None
        self._paginators: dict[str, tuple[BackupClient, Any]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> BackupClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def reset(self) -> None:
        """Drop the client, and with it its session: the next call builds both anew.

        For a session AWS ended before the expiry it announced (revoked, clock skew): botocore
        would keep presenting it until 15 minutes before that expiry.
        """
        with self._lock:
            self._client = None
        if self._on_reset is not None:
            self._on_reset()  # the shared session too, so that the role is assumed anew

    def close_connections(self) -> None:
        """Close the client's idle connections and keep the client: the next call opens new
        ones. Between background syncs minutes apart, 1,000 targets would otherwise hold
        thousands of sockets that AWS's endpoints drop anyway."""
        with self._lock:
            client = self._client
        if client is not None:
            client.close()  # urllib3's pools are emptied, not disabled: the client stays usable

    def paginator(self, operation: str) -> Any:
        """The client's paginator of ``operation``, made once per client: botocore builds a new
        paginator class on every ``get_paginator``."""
        client = self.client
        with self._lock:
            cached = self._paginators.get(operation)
            if cached is not None and cached[0] is client:
                return cached[1]
        made = client.get_paginator(operation)  # type: ignore[call-overload]
        with self._lock:
            self._paginators[operation] = (client, made)
        return made

    def list_restore_jobs(self, query: ListQuery) -> Iterator[Sequence[Mapping[str, object]]]:
        """Yield the pages of ListRestoreJobs for one query, each a list of raw members."""
        for page in self.paginator("list_restore_jobs").paginate(**_request(query)):
            check_parsed(page, LIST_OPERATION)
            yield page.get("RestoreJobs") or []

    def describe_restore_job(self, restore_job_id: str) -> dict[str, Any]:
        response = dict(self.client.describe_restore_job(RestoreJobId=restore_job_id))
        check_parsed(response, DESCRIBE_OPERATION)
        response.pop("ResponseMetadata", None)
        return response


class RestoreTestingApi:
    """The read calls of restore testing and protected resources, on a target's client."""

    def __init__(self, api: BackupApi) -> None:
        self._api = api

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[Mapping[str, object]]:
        for page in self._api.paginator(operation).paginate(**params):
            check_parsed(page, operation)
            yield from page.get(key) or []

    def restore_testing_plans(self) -> list[Mapping[str, object]]:
        return list(self._pages("list_restore_testing_plans", "RestoreTestingPlans"))

    def restore_testing_selections(self, plan_name: str) -> list[Mapping[str, object]]:
        return list(
            self._pages(
                "list_restore_testing_selections",
                "RestoreTestingSelections",
                RestoreTestingPlanName=plan_name,
            )
        )

    def protected_resources(self) -> Iterator[Mapping[str, object]]:
        return self._pages("list_protected_resources", "Results")

    def describe_protected_resource(self, resource_arn: str) -> dict[str, Any]:
        response = dict(self._api.client.describe_protected_resource(ResourceArn=resource_arn))
        check_parsed(response, "DescribeProtectedResource")
        response.pop("ResponseMetadata", None)
        return response
