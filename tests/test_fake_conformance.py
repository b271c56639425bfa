"""Every response the fake AWS Backup sends conforms to botocore's service model, and so does
every one it sends as the Account API (ListRegions and GetRegionOptStatus, for requests scoped to
``account``), checked against the ``account`` model.

The fake's ``on_response`` hook records every response while real boto3 clients (and raw signed
requests, for what a client never sends) drive each operation to success and to every error it
can give: the restore-job operations, the restore testing plan and selection operations and
the protected-resource ones (``OPERATIONS``: every one the fake serves), paginated lists, every
filter, every job, plan, selection and protected resource of the demo population and of the
benchmarks' generator, hostile strings, injected faults. The walker below then checks each one
against the model on its own terms (it shares no code with the fake; the statuses of AWS's
common errors come from the fake's table, checked against AWS's page): the content type and
request ID; for a success, the operation's output shape (types, required members, no unknown
members, enums, patterns, lengths and ranges, timestamps as epoch seconds with millisecond
precision), or no body at all for a 204 the model gives; for an error, the code in
``x-amzn-ErrorType``, declared by the operation or one of AWS's common errors, its status (the
model's faults 500, its other errors 400, the common errors' from AWS's Common Errors page), a
body with the members of the error shape; and that botocore's own parser reads each response
back as that output or that error.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import Shape
from botocore.parsers import create_parser

from exporter.demo.fake_backup import FakeBackup, errors, generate_jobs
from exporter.demo.scenario import DemoScenario
from tests.test_fake_api import FULL_JOB, send

SESSION = botocore.session.get_session()
MODELS = {name: SESSION.get_service_model(name) for name in ("backup", "account")}
MODEL = MODELS["backup"]
SHAPES = {
    name: SESSION.get_component("data_loader").load_service_model(name, "service-2")["shapes"]
    for name in MODELS
}
OPERATIONS = (
    "StartRestoreJob", "DescribeRestoreJob", "ListRestoreJobs",
    "CreateRestoreTestingPlan", "GetRestoreTestingPlan", "ListRestoreTestingPlans",
    "UpdateRestoreTestingPlan", "DeleteRestoreTestingPlan",
    "CreateRestoreTestingSelection", "GetRestoreTestingSelection", "ListRestoreTestingSelections",
    "UpdateRestoreTestingSelection", "DeleteRestoreTestingSelection",
    "DescribeProtectedResource", "ListProtectedResources", "ListRestoreJobSummaries",
)  # fmt: skip
ACCOUNT_OPERATIONS = ("ListRegions", "GetRegionOptStatus")
SERVED = {"backup": OPERATIONS, "account": ACCOUNT_OPERATIONS}
ACCOUNT, MEMBER, REGION = "123456789012", "222222222222", "us-east-1"
# AWS Backup API reference, "Common Errors": the errors not in the model that the fake may send
# (the traffic must show each), with the statuses of the fake's table of them (which has more);
# test_common_errors_carry_the_statuses_aws_documents checks those against that page.
COMMON_ERRORS = {
    code: errors.COMMON_ERRORS[code]
    for code in (
        "AccessDeniedException", "IncompleteSignature", "InternalFailure", "InvalidAction",
        "InvalidClientTokenId", "MissingAuthenticationToken", "ServiceUnavailable",
        "ThrottlingException",
    )
}  # fmt: skip


@dataclass(frozen=True)
class Seen:
    operation: str | None
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    target: str
    injected: bool = False
    service: str = "backup"


# -- the walker -------------------------------------------------------------------------------


def walk(shape: Shape, value: Any, path: str) -> Iterator[str]:
    """Every way ``value`` (decoded JSON) breaks ``shape``."""
    kind = shape.type_name
    checks = {
        "structure": _structure,
        "list": _list,
        "map": _map,
        "string": _string,
        "integer": _integer,
        "long": _integer,
        "float": _number,
        "double": _number,
        "boolean": _boolean,
        "timestamp": _timestamp,
        "blob": _blob,
    }
    yield from checks[kind](shape, value, path)


def _bounds(shape: Shape, measure: float, path: str, what: str) -> Iterator[str]:
    if "min" in shape.metadata and measure < shape.metadata["min"]:
        yield f"{path}: {what} {measure} below the model's min {shape.metadata['min']}"
    if "max" in shape.metadata and measure > shape.metadata["max"]:
        yield f"{path}: {what} {measure} above the model's max {shape.metadata['max']}"


def _structure(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{path}: a {shape.name} must be a JSON object, not {value!r}"
        return
    body_members = {
        member.serialization.get("name", name): member
        for name, member in shape.members.items()
        if not member.serialization.get("location")
    }
    for name in shape.required_members:
        if name not in value:
            yield f"{path}: required member {name} missing"
    for key, item in value.items():
        if key not in body_members:
            yield f"{path}: {key!r} is not a member of {shape.name}"
        elif item is None:
            yield f"{path}.{key}: null (AWS leaves absent members out)"
        else:
            yield from walk(body_members[key], item, f"{path}.{key}")


def _list(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, list):
        yield f"{path}: must be a JSON array"
        return
    yield from _bounds(shape, len(value), path, "length")
    for index, item in enumerate(value):
        yield from walk(shape.member, item, f"{path}[{index}]")


def _map(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{path}: must be a JSON object"
        return
    for key, item in value.items():
        yield from walk(shape.key, key, f"{path} key")
        yield from walk(shape.value, item, f"{path}[{key!r}]")


def _string(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, str):
        yield f"{path}: must be a string, not {value!r}"
        return
    if shape.enum and value not in shape.enum:
        yield f"{path}: {value!r} not in the model's enum {shape.enum}"
    pattern = shape.metadata.get("pattern")
    if pattern and not re.search(pattern, value):
        yield f"{path}: {value!r} does not match the model's pattern {pattern}"
    yield from _bounds(shape, len(value), path, "length")


def _integer(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        yield f"{path}: must be an integer, not {value!r}"
        return
    yield from _bounds(shape, value, path, "value")


def _number(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        yield f"{path}: must be a number, not {value!r}"


def _boolean(shape: Shape, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, bool):
        yield f"{path}: must be true or false, not {value!r}"


def _timestamp(shape: Shape, value: Any, path: str) -> Iterator[str]:
    fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
    if fmt != "unixTimestamp":
        yield f"{path}: the fake's model has only epoch-second timestamps in bodies, not {fmt}"
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        yield f"{path}: a timestamp must be epoch seconds, not {value!r}"
    elif round(value, 3) != value:
        yield f"{path}: {value!r} is finer than AWS's millisecond precision"
    elif not 0 <= value < datetime(3000, 1, 1, tzinfo=UTC).timestamp():
        yield f"{path}: {value!r} is no date AWS could have"


def _blob(shape: Shape, value: Any, path: str) -> Iterator[str]:
    try:
        base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        yield f"{path}: a blob must be base64 text"


def _error_layout(service: str) -> set[str]:
    """The body members every error shape of the service has: all an error the model does not
    define can carry (AWS Backup: Code, Message, Type, Context; the Account API: message)."""
    model = MODELS[service]
    layouts = [
        {n for n, m in model.shape_for(e.name).members.items() if "location" not in m.serialization}
        for e in model.error_shapes
    ]
    return set.intersection(*layouts)


def _botocore_reads(operation: Any, seen: Seen) -> dict[str, Any]:
    """The response as botocore's own parser reads it ({"Error": ...} if it cannot)."""
    parser = create_parser("rest-json")
    headers = HeadersDict(seen.headers)
    response = {"status_code": seen.status, "headers": headers, "body": seen.body}
    try:
        return parser.parse(response, operation.output_shape)
    except Exception as error:  # the walker reports it; botocore would raise to the caller
        return {"Error": {"Code": f"unreadable: {error!r}"}}


def problems(seen: Seen) -> list[str]:
    """Every way one response differs from what AWS would send."""
    found: list[str] = []
    if seen.headers.get("content-type") != "application/json":
        found.append(f"Content-Type {seen.headers.get('content-type')!r}")
    if not seen.headers.get("x-amzn-requestid"):
        found.append("no x-amzn-RequestId header")
    if int(seen.headers.get("content-length", -1)) != len(seen.body):
        found.append("Content-Length does not match the body")
    if seen.status == 204:  # No Content: the model's empty outputs (the Delete operations)
        return found + _no_content_problems(seen)
    try:
        document = json.loads(seen.body)
    except ValueError:
        return [*found, f"the body is not JSON: {seen.body[:200]!r}"]
    model = MODELS[seen.service]
    if seen.operation is not None and seen.operation not in SERVED[seen.service]:  # refused
        if seen.status < 400:
            found.append(f"answered as {seen.operation}, which the fake does not serve")
        return found + _error_problems(None, seen, document)
    operation = model.operation_model(seen.operation) if seen.operation else None
    success = int(operation.http.get("responseCode", 200)) if operation else None
    if operation is not None and seen.status == success:
        found += walk(operation.output_shape, document, operation.output_shape.name)
        parsed = _botocore_reads(operation, seen)
        if "Error" in parsed:
            found.append(f"botocore reads a success as an error: {parsed['Error']}")
        return found
    return found + _error_problems(operation, seen, document)


def _no_content_problems(seen: Seen) -> list[str]:
    model = MODELS[seen.service]
    operation = model.operation_model(seen.operation) if seen.operation else None
    if operation is None or operation.http.get("responseCode") != 204:
        return [f"204 from {seen.operation}, whose model answers {operation and operation.http}"]
    found = [f"a 204 with a body: {seen.body[:200]!r}"] if seen.body else []
    if "Error" in _botocore_reads(operation, seen):
        found.append("botocore reads a 204 as an error")
    return found


def _error_problems(operation: Any, seen: Seen, document: Any) -> list[str]:
    found: list[str] = []
    code = seen.headers.get("x-amzn-errortype", "").split(":")[0]
    declared = {shape.name for shape in operation.error_shapes} if operation else set()
    if code in declared:
        traits = SHAPES[seen.service][code]
        wanted = traits.get("error", {}).get("httpStatusCode")
        wanted = wanted or (500 if traits.get("fault") else 400)
        found += walk(MODELS[seen.service].shape_for(code), document, code)
    elif code in COMMON_ERRORS:
        wanted = COMMON_ERRORS[code]
        layout = _error_layout(seen.service)
        message = next(name for name in layout if name.lower() == "message")
        if not isinstance(document, dict) or not isinstance(document.get(message), str):
            found.append(f"{code}: no {message} in {document!r}")
        elif set(document) - layout:
            found.append(f"{code}: {sorted(set(document) - layout)} not in {seen.service}'s errors")
    else:
        return [*found, f"error {code!r} is neither declared by {seen.operation} nor common"]
    if seen.status != wanted:
        found.append(f"{code} sent with status {seen.status}, AWS sends {wanted}")
    if seen.status >= 500 and not seen.injected:
        found.append(f"a {seen.status} the test did not inject: {document!r}")
    if operation is not None:
        parsed = _botocore_reads(operation, seen)
        if parsed.get("Error", {}).get("Code") != code:
            found.append(f"botocore reads {parsed.get('Error')} for {code}")
    return found


# -- the traffic -----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.injecting = False

    def __call__(self, request: Any, response: Any) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        headers["content-length"] = str(len(response.body))  # what the server sends with it
        query = "&".join(f"{name}={values[-1]}" for name, values in request.query.items())
        target = request.path + (f"?{query}" if query else "")
        self.seen.append(
            Seen(
                response.operation,
                response.status,
                headers,
                response.body,
                target,
                self.injecting,
                response.service,
            )
        )


HOSTILE = {
    "StatusMessage": 'quotes " and \\ backslashes, </script>, \n newlines, \u2028, \U0001f4a5',
    "ValidationStatusMessage": "\x00\x1f control characters",
    "DeletionStatusMessage": "x" * 5000,
}


def _client(url: str, region: str = REGION, **config: Any) -> Any:
    return boto3.client(
        "backup",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="testing",  # explicitly: module fixtures run before the autouse ones
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def _signed(url: str, method: str, target: str, body: bytes = b"", service: str = "backup") -> None:
    request = AWSRequest(method=method, url=url + target, data=body)
    SigV4Auth(Credentials("testing", "testing"), service, REGION).add_auth(request)
    send(request.url, method, dict(request.headers.items()), body)


def _fill(fake: FakeBackup) -> None:
    for region in (REGION, "eu-west-1"):
        DemoScenario(ACCOUNT, region, store=fake.store).seed()
    fake.store.load(ACCOUNT, REGION, generate_jobs(150, seed=5))
    fake.store.put(ACCOUNT, REGION, **FULL_JOB)
    for job in [*generate_jobs(150, seed=5)[:40], FULL_JOB]:  # their restore fields derived
        fake.store.protected.put(
            ACCOUNT, REGION, ResourceArn=job["SourceResourceArn"],
            ResourceType=job["ResourceType"], LastBackupTime=job["RecoveryPointCreationDate"],
            LastRecoveryPointArn=job["RecoveryPointArn"], LastBackupVaultArn=job["BackupVaultArn"],
        )  # fmt: skip
    fake.store.put(ACCOUNT, REGION, RestoreJobId="hostile", Status="FAILED", **HOSTILE)
    fake.store.protected.put(
        ACCOUNT, REGION, ResourceArn="arn:aws:s3:::hostile", ResourceName=HOSTILE["StatusMessage"]
    )
    fake.store.put(ACCOUNT, REGION, SourceResourceArn="arn:aws:s3:::hostile", Status="RUNNING")
    for n in range(12):
        arn = fake.store.testing.put_plan(ACCOUNT, REGION, RestoreTestingPlanName=f"seeded_{n}")
        fake.store.testing.set_last_execution(ACCOUNT, REGION, f"seeded_{n}", 1_767_225_600 + n)
        fake.store.testing.put_selection(
            ACCOUNT, REGION, f"seeded_{n}", RestoreTestingSelectionName="all",
            ProtectedResourceType="EBS", ProtectedResourceArns=["*"],
            RestoreMetadataOverrides={"hostile": HOSTILE["StatusMessage"]},
        )  # fmt: skip
        fake.store.put(ACCOUNT, REGION, CreatedBy={"RestoreTestingPlanArn": arn})


def _successes(url: str, fake: FakeBackup) -> None:
    client = _client(url)
    for region in (REGION, "eu-west-1"):
        pages = _client(url, region).get_paginator("list_restore_jobs")
        for page in pages.paginate(PaginationConfig={"PageSize": 7}):
            for job in page["RestoreJobs"]:
                _client(url, region).describe_restore_job(RestoreJobId=job["RestoreJobId"])
    client.list_restore_jobs(MaxResults=1000)
    plan = FULL_JOB["CreatedBy"]["RestoreTestingPlanArn"]
    for filters in (
        {"ByAccountId": ACCOUNT, "ByResourceType": "EBS", "ByStatus": "COMPLETED"},
        {"ByCreatedAfter": datetime(2026, 1, 1, tzinfo=UTC), "ByCreatedBefore": datetime.now(UTC)},
        {
            "ByCompleteAfter": datetime(2026, 1, 1, tzinfo=UTC),
            "ByCompleteBefore": datetime.now(UTC),
        },
        {"ByRestoreTestingPlanArn": plan, "ByParentJobId": "grandparent"},
        {"ByStatus": "ABORTED", "MaxResults": 1},
    ):
        client.list_restore_jobs(**filters)
    client.start_restore_job(RecoveryPointArn="arn:aws:backup:rp", Metadata={"a": "b"})
    for _ in range(2):
        client.start_restore_job(
            RecoveryPointArn="arn:aws:backup:rp",
            Metadata={},
            IamRoleArn=f"arn:aws:iam::{ACCOUNT}:role/restore",
            IdempotencyToken="same",
            ResourceType="EFS",
            CopySourceTagsToRestoredResource=True,
        )


RECOVERY_POINTS = {
    "Algorithm": "RANDOM_WITHIN_WINDOW",
    "IncludeVaults": ["*"],
    "RecoveryPointTypes": ["SNAPSHOT", "CONTINUOUS"],
}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/restore"
VOLUME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0"


def _plan(name: str, **fields: Any) -> dict[str, Any]:
    return {"RestoreTestingPlanName": name, "ScheduleExpression": "",
            "RecoveryPointSelection": RECOVERY_POINTS, **fields}  # fmt: skip


def _selection(name: str, **fields: Any) -> dict[str, Any]:
    return {"RestoreTestingSelectionName": name, "ProtectedResourceType": "EBS",
            "IamRoleArn": ROLE, "ProtectedResourceArns": [VOLUME], **fields}  # fmt: skip


def _testing_successes(url: str) -> None:
    """Every restore testing and protected-resource operation, paginated where it lists."""
    client = _client(url)
    for n in range(3):
        client.create_restore_testing_plan(
            RestoreTestingPlan=_plan(f"walked_{n}", StartWindowHours=n + 1),
            CreatorRequestId=f"walk-{n}", Tags={"n": str(n)},
        )  # fmt: skip
    client.create_restore_testing_plan(RestoreTestingPlan=_plan("x"), CreatorRequestId="walk-0")
    conditions = {"StringEquals": [{"Key": "restore", "Value": "yes"}]}
    for name, fields in (
        ("arns", {}),
        ("tagged", {"ProtectedResourceArns": ["*"], "ProtectedResourceConditions": conditions}),
        ("full", {"ValidationWindowHours": 3, "RestoreMetadataOverrides": {"a": "b"}}),
    ):
        client.create_restore_testing_selection(
            RestoreTestingPlanName="walked_0", RestoreTestingSelection=_selection(name, **fields),
            CreatorRequestId=f"sel-{name}",
        )  # fmt: skip
    client.update_restore_testing_plan(
        RestoreTestingPlanName="walked_1",
        RestoreTestingPlan={
            "ScheduleExpression": "cron(0 3 ? * 1 *)",
            "ScheduleExpressionTimezone": "America/New_York",
            "RecoveryPointSelection": {**RECOVERY_POINTS, "SelectionWindowDays": 7},
        },
    )  # fmt: skip
    client.update_restore_testing_selection(
        RestoreTestingPlanName="walked_0", RestoreTestingSelectionName="arns",
        RestoreTestingSelection={"ValidationWindowHours": 168, "IamRoleArn": ROLE},
    )  # fmt: skip
    for region in (REGION, "eu-west-1"):
        regional = _client(url, region)
        plans = regional.get_paginator("list_restore_testing_plans")
        for page in plans.paginate(PaginationConfig={"PageSize": 4}):
            for plan in page["RestoreTestingPlans"]:
                name = plan["RestoreTestingPlanName"]
                regional.get_restore_testing_plan(RestoreTestingPlanName=name)
                selections = regional.get_paginator("list_restore_testing_selections")
                for listed in selections.paginate(
                    RestoreTestingPlanName=name, PaginationConfig={"PageSize": 1}
                ):
                    for selection in listed["RestoreTestingSelections"]:
                        regional.get_restore_testing_selection(
                            RestoreTestingPlanName=name,
                            RestoreTestingSelectionName=selection["RestoreTestingSelectionName"],
                        )
        resources = regional.get_paginator("list_protected_resources")
        for page in resources.paginate(PaginationConfig={"PageSize": 5}):
            for resource in page["Results"]:
                regional.describe_protected_resource(ResourceArn=resource["ResourceArn"])
    client.list_protected_resources(MaxResults=1000)
    client.delete_restore_testing_selection(
        RestoreTestingPlanName="walked_0", RestoreTestingSelectionName="tagged"
    )
    client.delete_restore_testing_plan(RestoreTestingPlanName="walked_2")


def _summaries(url: str, fake: FakeBackup) -> None:
    """ListRestoreJobSummaries: every AccountId form (ANY and AGGREGATE_ALL beyond the model's
    pattern), filters and periods, pages followed with empty ones among them, and its refusals
    (a member account asking for the organisation, MaxResults over AWS's 500, bad values)."""
    now = datetime.now(UTC)
    for n, account in enumerate(("111122223333", "444455556666", ACCOUNT)):
        for days in range(1, 16):
            fake.store.put(account, REGION, CreationDate=now - timedelta(days=days),
                           Status=("COMPLETED", "FAILED", "ABORTED")[days % 3],
                           ResourceType=("EBS", "RDS", "EFS")[(days + n) % 3])  # fmt: skip
        fake.store.put(account, REGION, CreationDate=now - timedelta(days=2), Status="RUNNING")
    client, unchecked = _client(url), _client(url, parameter_validation=False)
    for account in ("ANY", "AGGREGATE_ALL", ACCOUNT, "111122223333", None):
        for period in ("ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS"):
            given = _given({"AccountId": account, "AggregationPeriod": period})
            client.list_restore_job_summaries(**given)
    for filters in ({"State": "FAILED", "ResourceType": "EBS"}, {"State": "AGGREGATE_ALL"},
                    {"ResourceType": "AGGREGATE_ALL", "State": "ANY"}, {}):  # fmt: skip
        client.list_restore_job_summaries(AccountId="ANY", **filters)
    fake.summaries.empty_pages = 1
    token: str | None = None
    for _ in range(200):
        page = client.list_restore_job_summaries(
            AccountId="ANY", MaxResults=7, **_given({"NextToken": token})
        )
        token = page.get("NextToken")
        if token is None:
            break
    fake.summaries.empty_pages = 0
    fake.summaries.administrators = set()  # the caller is now a member account
    calls = [lambda account=account: client.list_restore_job_summaries(AccountId=account)
             for account in ("ANY", "AGGREGATE_ALL", "111122223333")]  # fmt: skip
    _refused(url, calls, [])
    client.list_restore_job_summaries(AccountId=ACCOUNT)  # its own jobs: allowed
    fake.summaries.reset()
    calls = [
        lambda: unchecked.list_restore_job_summaries(MaxResults=501),
        lambda: unchecked.list_restore_job_summaries(MaxResults=0),
        lambda: unchecked.list_restore_job_summaries(AccountId="12"),
        lambda: unchecked.list_restore_job_summaries(AggregationPeriod="ONE_WEEK"),
        lambda: unchecked.list_restore_job_summaries(State="DONE"),
        lambda: unchecked.list_restore_job_summaries(NextToken="garbage!"),
    ]
    raw = [("GET", "/audit/restore-job-summaries?MaxResults=ten", b"")]
    _refused(url, calls, raw)


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _refused(url: str, calls: list[Callable[[], Any]], raw: list[tuple[str, str, bytes]]) -> None:
    """Each of ``calls`` raises a ClientError; each raw (method, target, body) is sent signed
    (what a client never sends: the walker checks the answers)."""
    for call in calls:
        with pytest.raises(ClientError):
            call()
    for method, target, body in raw:
        _signed(url, method, target, body)


def _testing_errors(url: str) -> None:
    """What AWS refuses, one refusal of each kind the restore testing operations can give."""
    unchecked = _client(url, parameter_validation=False)

    def plan(**fields: Any) -> Any:
        body = _given(_plan("walked_0") | fields)
        return lambda: unchecked.create_restore_testing_plan(RestoreTestingPlan=body)

    def selection(plan_name: str = "walked_0", **fields: Any) -> Any:
        body = _given(_selection("arns") | fields)
        return lambda: unchecked.create_restore_testing_selection(
            RestoreTestingPlanName=plan_name, RestoreTestingSelection=body
        )

    names = {"RestoreTestingPlanName": "walked_0", "RestoreTestingSelectionName": "gone"}
    calls = [
        plan(),  # AlreadyExistsException
        plan(RestoreTestingPlanName="bad-name"),
        plan(StartWindowHours=169),
        plan(RecoveryPointSelection={"Algorithm": "LATEST_WITHIN_WINDOW"}),
        plan(RestoreTestingPlanName=None),
        plan(StartWindowHours="soon"),
        lambda: unchecked.create_restore_testing_plan(RestoreTestingPlan=_plan("y"),
                                                      CreatorRequestId="no spaces"),
        lambda: unchecked.get_restore_testing_plan(RestoreTestingPlanName="gone"),
        lambda: unchecked.list_restore_testing_plans(MaxResults=0),
        lambda: unchecked.list_restore_testing_plans(NextToken="garbage!"),
        lambda: unchecked.update_restore_testing_plan(
            RestoreTestingPlanName="gone", RestoreTestingPlan={"StartWindowHours": 2}),
        lambda: unchecked.update_restore_testing_plan(
            RestoreTestingPlanName="walked_0", RestoreTestingPlan={"ScheduleExpression": "daily"}),
        lambda: unchecked.update_restore_testing_plan(RestoreTestingPlanName="walked_0"),
        lambda: unchecked.delete_restore_testing_plan(RestoreTestingPlanName="walked_0"),
        lambda: unchecked.delete_restore_testing_plan(RestoreTestingPlanName="gone"),
        selection(),  # AlreadyExistsException
        selection("gone"),
        selection(RestoreTestingSelectionName="other", ProtectedResourceType="Redshift"),
        selection(RestoreTestingSelectionName="other", ProtectedResourceArns=None),
        selection(RestoreTestingSelectionName="other",
                  ProtectedResourceArns=[f"{VOLUME}{n}" for n in range(31)]),
        selection(IamRoleArn=None),
        lambda: unchecked.get_restore_testing_selection(**names),
        lambda: unchecked.list_restore_testing_selections(RestoreTestingPlanName="gone"),
        lambda: unchecked.list_restore_testing_selections(RestoreTestingPlanName="walked_0",
                                                          MaxResults=1001),
        lambda: unchecked.update_restore_testing_selection(
            **names, RestoreTestingSelection={"ValidationWindowHours": 1}),
        lambda: unchecked.update_restore_testing_selection(
            **names | {"RestoreTestingSelectionName": "arns"},
            RestoreTestingSelection={"ValidationWindowHours": -1}),
        lambda: unchecked.update_restore_testing_selection(
            **names | {"RestoreTestingSelectionName": "arns"},
            RestoreTestingSelection={"ProtectedResourceConditions": {"StringEquals": [
                {"Key": "k", "Value": "v"}]}}),
        lambda: unchecked.update_restore_testing_selection(**names),
        lambda: unchecked.delete_restore_testing_selection(**names),
        lambda: unchecked.describe_protected_resource(ResourceArn="arn:aws:s3:::nothing"),
        lambda: unchecked.list_protected_resources(MaxResults=1001),
        lambda: unchecked.list_protected_resources(NextToken="garbage!"),
    ]  # fmt: skip
    raw = [
        ("PUT", "/restore-testing/plans", b"not json"),
        ("PUT", "/restore-testing/plans", b'{"RestoreTestingPlan": []}'),
        ("PUT", "/restore-testing/plans/walked_0/selections", b"{}"),
        ("GET", "/restore-testing/plans/walked_0/selections?MaxResults=ten", b""),
        ("GET", "/resources/?maxResults=ten", b""),
        ("DELETE", "/resources/x", b""),
    ]
    _refused(url, calls, raw)


def _client_errors(url: str) -> None:
    unchecked = _client(url, parameter_validation=False)
    calls = [
        lambda: unchecked.describe_restore_job(RestoreJobId="no-such-job"),
        lambda: unchecked.list_restore_jobs(ByStatus="DONE"),
        lambda: unchecked.list_restore_jobs(MaxResults=0),
        lambda: unchecked.list_restore_jobs(MaxResults=1001),
        lambda: unchecked.list_restore_jobs(ByAccountId="12"),
        lambda: unchecked.list_restore_jobs(NextToken="garbage!"),
        lambda: unchecked.start_restore_job(RecoveryPointArn="arn:aws:backup:rp"),
        lambda: unchecked.start_restore_job(Metadata={}, ResourceType="SAP HANA"),
        lambda: unchecked.start_restore_job(RecoveryPointArn="rp", Metadata={}, ResourceType="+"),
        lambda: _client(url, signature_version=UNSIGNED).list_restore_jobs(),
    ]
    raw = [
        ("GET", "/restore-jobs/?maxResults=ten", b""),
        ("GET", "/restore-jobs/?createdAfter=yesterday", b""),
        ("GET", "/restore-jobs/?completeBefore=2026-02-30T00:00:00Z", b""),
        ("PUT", "/restore-jobs", b"not json"),
        ("PUT", "/restore-jobs", b'{"RecoveryPointArn": ["x"], "Metadata": {}}'),
        ("GET", "/restore-jobs/x/metadata", b""),
        ("GET", "/nowhere", b""),
    ]
    _refused(url, calls, raw)
    _signed(url, "GET", "/restore-jobs/", service="s3")
    send(f"{url}/restore-jobs/", "GET", {"Authorization": "AWS4-HMAC-SHA256 nonsense"})


def _injected(url: str, fake: FakeBackup, recorder: Recorder) -> None:
    recorder.injecting = True
    client = _client(url)
    describe = lambda: client.describe_restore_job(RestoreJobId="demo-rds-failed")  # noqa: E731
    plan, selection = {"RestoreTestingPlanName": "p"}, {"RestoreTestingSelectionName": "s"}
    calls = {
        "ListRestoreJobs": client.list_restore_jobs,
        "DescribeRestoreJob": describe,
        "StartRestoreJob": lambda: client.start_restore_job(RecoveryPointArn="rp", Metadata={}),
        "CreateRestoreTestingPlan": lambda: client.create_restore_testing_plan(
            RestoreTestingPlan=_plan("p")),
        "GetRestoreTestingPlan": lambda: client.get_restore_testing_plan(**plan),
        "ListRestoreTestingPlans": client.list_restore_testing_plans,
        "UpdateRestoreTestingPlan": lambda: client.update_restore_testing_plan(
            **plan, RestoreTestingPlan={}),
        "DeleteRestoreTestingPlan": lambda: client.delete_restore_testing_plan(**plan),
        "CreateRestoreTestingSelection": lambda: client.create_restore_testing_selection(
            **plan, RestoreTestingSelection=_selection("s")),
        "GetRestoreTestingSelection": lambda: client.get_restore_testing_selection(
            **plan, **selection),
        "ListRestoreTestingSelections": lambda: client.list_restore_testing_selections(**plan),
        "UpdateRestoreTestingSelection": lambda: client.update_restore_testing_selection(
            **plan, **selection, RestoreTestingSelection={}),
        "DeleteRestoreTestingSelection": lambda: client.delete_restore_testing_selection(
            **plan, **selection),
        "DescribeProtectedResource": lambda: client.describe_protected_resource(ResourceArn="a"),
        "ListProtectedResources": client.list_protected_resources,
        "ListRestoreJobSummaries": client.list_restore_job_summaries,
    }  # fmt: skip
    assert set(calls) == set(OPERATIONS)
    for name, call in calls.items():
        codes = [shape.name for shape in MODEL.operation_model(name).error_shapes]
        common = ["ThrottlingException", "AccessDeniedException", "InternalFailure"]
        for code in [*codes, *common, "ServiceUnavailable"]:
            fake.fail_next(1, code, f"injected {code}")
            with pytest.raises(ClientError):
                call()
    recorder.injecting = False


def _account(url: str, key: str = "testing", **config: Any) -> Any:
    return boto3.client(
        "account", region_name=REGION, endpoint_url=url, aws_access_key_id=key,
        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}, **config),
    )  # fmt: skip


def _account_successes(url: str, fake: FakeBackup) -> None:
    """ListRegions and GetRegionOptStatus of the caller's account and of a member's (the
    caller is the management account), every status, paged and filtered."""
    statuses = {"af-south-1": "ENABLED", "ap-east-1": "ENABLING", "me-south-1": "DISABLING"}
    for region, status in statuses.items():
        fake.accounts.set_region(MEMBER, region, status)
    account = _account(url)
    for who in ({}, {"AccountId": MEMBER}):
        for size in (1, 7, 50):
            pages = account.get_paginator("list_regions")
            list(pages.paginate(**who, PaginationConfig={"PageSize": size}))
        account.list_regions(**who)
        account.list_regions(**who, RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"])
        account.list_regions(**who, RegionOptStatusContains=["ENABLING", "DISABLING"], MaxResults=1)
        for region in ("us-east-1", *statuses, "eu-south-2"):
            account.get_region_opt_status(**who, RegionName=region)


def _account_errors(url: str) -> None:
    """Each refusal the Account API operations can give: AccessDenied (a member naming an
    account, the management account naming itself), the model's constraints, a foreign token,
    an operation of the model the fake does not implement, a request for no operation."""
    unchecked = _account(url, parameter_validation=False)
    member = _account(url, "member")
    token = unchecked.list_regions(MaxResults=1)["NextToken"]
    calls = [
        lambda: member.list_regions(AccountId=ACCOUNT),
        lambda: member.get_region_opt_status(AccountId=ACCOUNT, RegionName="us-east-1"),
        lambda: unchecked.list_regions(AccountId=ACCOUNT),
        lambda: unchecked.list_regions(MaxResults=0),
        lambda: unchecked.list_regions(MaxResults=51),
        lambda: unchecked.list_regions(AccountId="12"),
        lambda: unchecked.list_regions(RegionOptStatusContains=["ON"]),
        lambda: unchecked.list_regions(NextToken="garbage!"),
        lambda: unchecked.list_regions(NextToken=token, AccountId=MEMBER),
        lambda: unchecked.get_region_opt_status(),
        lambda: unchecked.get_region_opt_status(RegionName="nowhere-1"),
        lambda: unchecked.get_region_opt_status(RegionName="x" * 51),
        lambda: unchecked.get_contact_information(),
        lambda: _account(url, signature_version=UNSIGNED).list_regions(),
    ]
    for call in calls:
        with pytest.raises(ClientError):
            call()
    for target, body in (
        ("/listRegions", b"not json"),
        ("/listRegions", b"[]"),
        ("/listRegions", b'{"MaxResults": "ten"}'),
        ("/nowhere", b"{}"),
    ):
        _signed(url, "POST", target, body, service="account")
    _signed(url, "POST", "/listRegions", b"{}", service="ec2")
    scope = "Credential=testing/20260110/us-east-1/account/aws4_request"
    no_date = {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}
    send(f"{url}/listRegions", "POST", no_date, b"{}")  # an Account API request, signed badly


def _account_injected(url: str, fake: FakeBackup) -> None:
    account = _account(url)
    calls = {
        "ListRegions": account.list_regions,
        "GetRegionOptStatus": lambda: account.get_region_opt_status(RegionName="us-east-1"),
    }
    assert set(calls) == set(ACCOUNT_OPERATIONS)
    for name, call in calls.items():
        codes = [shape.name for shape in MODELS["account"].operation_model(name).error_shapes]
        for code in [*codes, "ThrottlingException", "InternalFailure", "ServiceUnavailable"]:
            fake.fail_next(1, code, f"injected {code}")
            with pytest.raises(ClientError):
                call()


@pytest.fixture(scope="module")
def traffic() -> list[Seen]:
    recorder = Recorder()
    accounts = {"testing": ACCOUNT, "member": MEMBER}
    fake = FakeBackup(
        on_response=recorder,
        accounts=lambda key: accounts.get(key, ACCOUNT),
        management_account=ACCOUNT,
    )
    _fill(fake)
    with fake.serving() as url:
        _successes(url, fake)
        _testing_successes(url)
        _account_successes(url, fake)
        _client_errors(url)
        _testing_errors(url)
        _account_errors(url)
        _summaries(url, fake)
        _injected(url, fake, recorder)
        recorder.injecting = True
        _account_injected(url, fake)
        recorder.injecting = False
        fake.api.accounts = accounts.get  # now an access key the resolver does not know:
        with pytest.raises(ClientError):
            boto3.client(
                "backup", region_name=REGION, endpoint_url=url, aws_access_key_id="AKIASTRANGER",
                aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}),
            ).list_restore_jobs()  # fmt: skip
        with pytest.raises(ClientError):
            _account(url, "AKIASTRANGER").list_regions()
    return recorder.seen


def test_every_response_the_fake_sends_conforms_to_the_model(traffic):
    found = {
        f"{seen.operation} {seen.status} {seen.target}: {problem}"
        for seen in traffic
        for problem in problems(seen)
    }
    assert not found, "\n".join(sorted(found))


def test_common_errors_carry_the_statuses_aws_documents():
    # AWS's "Common Errors" page: 403 for a missing or unknown credential, 500 and 503 for AWS's
    # own failures, 400 for every other one the fake sends.
    assert {code: status for code, status in COMMON_ERRORS.items() if status != 400} == {
        "InternalFailure": 500,
        "InvalidClientTokenId": 403,
        "MissingAuthenticationToken": 403,
        "ServiceUnavailable": 503,
    }


def test_the_traffic_covers_every_operation_and_every_error(traffic):
    for service, names in SERVED.items():
        model = MODELS[service]
        for name in names:
            seen_here = [s for s in traffic if (s.service, s.operation) == (service, name)]
            success = int(model.operation_model(name).http.get("responseCode", 200))
            assert success in {seen.status for seen in seen_here}, name
            declared = {shape.name for shape in model.operation_model(name).error_shapes}
            codes = {seen.headers.get("x-amzn-errortype") for seen in seen_here}
            assert declared <= codes, (name, declared - codes)
            assert any(not seen.injected and seen.status >= 400 for seen in seen_here), name
        # a request with no credential scope is AWS Backup's (its MissingAuthenticationToken)
        unscoped = {"MissingAuthenticationToken"} if service != "backup" else set()
        common = set(COMMON_ERRORS) - unscoped
        codes = {s.headers.get("x-amzn-errortype") for s in traffic if s.service == service}
        assert common <= codes, (service, common - codes)
    lists = [
        json.loads(seen.body)
        for seen in traffic
        if seen.operation == "ListRestoreJobs" and seen.status == 200
    ]
    assert sum("NextToken" in page for page in lists) > 10  # paginated
    assert max(len(page["RestoreJobs"]) for page in lists) > 150  # a big page too
    assert any("nextToken=" in s.target and s.status == 200 for s in traffic)
    assert any(seen.operation is None for seen in traffic)  # requests for no operation at all
    regions = [
        json.loads(s.body) for s in traffic if s.operation == "ListRegions" and s.status == 200
    ]
    assert sum("NextToken" in page for page in regions) > 30  # paginated
    statuses = {r["RegionOptStatus"] for page in regions for r in page["Regions"]}
    assert statuses == set(MODELS["account"].shape_for("RegionOptStatus").enum)
    for name, key in (
        ("ListRestoreTestingPlans", "RestoreTestingPlans"),
        ("ListRestoreTestingSelections", "RestoreTestingSelections"),
        ("ListProtectedResources", "Results"),
    ):
        pages = [json.loads(s.body) for s in traffic if s.operation == name and s.status == 200]
        assert sum("NextToken" in page for page in pages) >= 2, name  # paginated
        assert all(page[key] for page in pages if "NextToken" in page), name
    pages = [
        json.loads(s.body)
        for s in traffic
        if s.operation == "ListRestoreJobSummaries" and s.status == 200
    ]
    paged = [page["RestoreJobSummaries"] for page in pages if "NextToken" in page]
    assert [] in paged  # an empty page before the end, as AWS may send
    assert sum(len(summaries) == 7 for summaries in paged) >= 2  # and full ones
    assert len(traffic) > 200


# -- the walker has teeth -------------------------------------------------------------------


def _ok(
    operation: str, body: Any, status: int = 200, service: str = "backup", **headers: str
) -> Seen:
    raw = json.dumps(body).encode()
    names = {"content-type": "application/json", "x-amzn-requestid": "r", **headers}
    length = {"content-length": str(len(raw))}
    return Seen(operation, status, {**names, **length}, raw, "/", service=service)


def _account_error(operation: str, code: str, body: Any, status: int = 400) -> Seen:
    return _ok(operation, body, status, "account", **{"x-amzn-errortype": code})


US_EAST = {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"}


GOOD_JOB = {"RestoreJobId": "a", "AccountId": ACCOUNT, "CreationDate": 1_700_000_000.123}


@pytest.mark.parametrize(
    ("seen", "complaint"),
    [
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "Status": "DONE"}), "enum"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "AccountId": "12"}), "pattern"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "Colour": "x"}), "not a member"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "IsParent": "yes"}), "true or false"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "BackupSizeInBytes": 1.5}), "integer"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "CreationDate": "2026-01-01"}), "epoch seconds"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "CreationDate": 1.0000001}), "millisecond"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "CreatedBy": {"Plan": "x"}}), "not a member"),
        (_ok("DescribeRestoreJob", {**GOOD_JOB, "StatusMessage": None}), "null"),
        (_ok("ListRestoreJobs", {"RestoreJobs": {"a": 1}}), "JSON array"),
        (_ok("ListRestoreJobs", {"RestoreJobs": [], "NextToken": 7}), "string"),
        (_ok("ListRestoreJobs", []), "JSON object"),
        (_ok("ListRestoreJobs", {}, **{"content-type": "text/plain"}), "Content-Type"),
        (
            _ok("DescribeRestoreJob", {"Message": "m"}, 404, **{"x-amzn-errortype": "NotThere"}),
            "neither declared",
        ),
        (
            _ok(
                "DescribeRestoreJob",
                {"Message": "m"},
                404,
                **{"x-amzn-errortype": "ResourceNotFoundException"},
            ),
            "AWS sends 400",
        ),
        (
            _ok(
                "ListRestoreJobs",
                {"Message": 5},
                400,
                **{"x-amzn-errortype": "InvalidParameterValueException"},
            ),
            "must be a string",
        ),
        (
            _ok("ListRestoreJobs", {}, 500, **{"x-amzn-errortype": "ServiceUnavailableException"}),
            "did not inject",
        ),
        (_ok("ListBackupJobs", {}), "does not serve"),
        (_ok("GetRestoreTestingPlan", {"RestoreTestingPlan": {}}), "required member"),
        (_ok("DeleteRestoreTestingPlan", {}, 204), "a 204 with a body"),
        (_ok("DescribeRestoreJob", {}, 204), "whose model answers"),
        (
            _ok("ListProtectedResources", {"Results": [{"LatestRestoreJobCreationDate": 1.0}]}),
            "not a member",
        ),
    ],
)
def test_the_walker_finds_each_kind_of_mismatch(seen, complaint):
    found = problems(seen)
    assert any(complaint in problem for problem in found), found


@pytest.mark.parametrize(
    ("seen", "complaint"),
    [
        (_ok("ListRegions", {"Regions": [{**US_EAST, "RegionOptStatus": "ON"}]}, service="account"),
         "enum"),
        (_ok("ListRegions", {"Regions": [{**US_EAST, "RegionName": ""}]}, service="account"),
         "below the model's min"),
        (_ok("ListRegions", {"Regions": [US_EAST], "NextToken": 1}, service="account"), "string"),
        (_ok("GetRegionOptStatus", {**US_EAST, "Status": "x"}, service="account"), "not a member"),
        (_ok("GetContactInformation", {}, service="account"), "does not serve"),
        (_account_error("ListRegions", "AccessDeniedException", {"Message": "m"}, 403),
         "not a member"),
        (_account_error("ListRegions", "AccessDeniedException", {"message": "m"}), "AWS sends 403"),
        (_account_error("ListRegions", "ValidationException", {"message": "m", "reason": "x"}),
         "enum"),
        (_account_error("ListRegions", "InvalidAction", {"Message": "m"}), "no message"),
        (_account_error("ListRegions", "InvalidAction", {"message": "m", "Type": "User"}),
         "not in account's errors"),
        (_account_error("ListRegions", "ResourceNotFoundException", {"message": "m"}, 404),
         "neither declared"),
    ],
)  # fmt: skip
def test_the_walker_finds_each_kind_of_account_mismatch(seen, complaint):
    found = problems(seen)
    assert any(complaint in problem for problem in found), found


def test_the_walker_passes_a_response_aws_could_send():
    assert problems(_ok("DescribeRestoreJob", {**GOOD_JOB, "Status": "RUNNING"})) == []
    listed = {"Regions": [US_EAST], "NextToken": "t"}
    assert problems(_ok("ListRegions", listed, service="account")) == []
    denied = _account_error("ListRegions", "AccessDeniedException", {"message": "m"}, 403)
    assert problems(denied) == []
