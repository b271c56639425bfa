"""A small, fast fake of AWS Backup's restore-job API, on 127.0.0.1, for benchmarks and tests.

It speaks the wire format botocore expects from the real service (rest-json, service model
``backup`` 2018-11-15), so the exporter under test runs unmodified through a real boto3 client:

- ``GET /restore-jobs/?maxResults&nextToken&createdAfter&createdBefore&completeAfter&
  completeBefore&status&resourceType&restoreTestingPlanArn&accountId&parentJobId``
  (ListRestoreJobs): filters combine with AND; botocore sends timestamps in the query string as
  ISO 8601; pages are newest first and the next token is a cursor, so jobs added while a client
  pages through cannot shift a page and make it skip or repeat a job.
- ``GET /restore-jobs/{restoreJobId}`` (DescribeRestoreJob).
- Timestamps in responses are epoch seconds (JSON numbers, millisecond precision), as AWS sends.
- Errors as AWS sends them: the code in the ``x-amzn-ErrorType`` header and a JSON body with
  ``Code``, ``Message`` and ``Type``; the status from AWS Backup's API reference (400 for
  ResourceNotFoundException and the parameter errors, 500 for ServiceUnavailableException).

What the benchmark needs on top: a thread-safe request counter (per operation), an injectable
latency per API request (slept in the request's own thread, so concurrent requests overlap as
they do against AWS), injectable errors (``fail_next``), a seeded generator of a realistic job
mix (``generate_jobs``) and ``tick()``, which moves jobs along the way AWS would (PENDING to
RUNNING, progress, completion, restore-test validation and clean-up, new jobs).

Run it alone to point an exporter at it by hand::

    python bench/fake_backup.py --jobs 1000 --latency 0.05 --port 8080
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import collections
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
LIST_OPERATION = "ListRestoreJobs"
DESCRIBE_OPERATION = "DescribeRestoreJob"
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "ABORTED", "FAILED")
MAX_RESULTS = 1000  # the model's range for maxResults is 1..1000
DEFAULT_MAX_RESULTS = 1000  # AWS does not document a default page size

Job = dict[str, Any]

# ListRestoreJobs' query-string names (botocore's model), to the job field each one filters on.
_EQUALITY_FILTERS = {
    "status": "Status",
    "resourceType": "ResourceType",
    "accountId": "AccountId",
    "parentJobId": "ParentJobId",
}
_TIME_FILTERS = {
    "createdAfter": ("CreationDate", ">"),
    "createdBefore": ("CreationDate", "<"),
    "completeAfter": ("CompletionDate", ">"),
    "completeBefore": ("CompletionDate", "<"),
}
_KNOWN_LIST_PARAMETERS = frozenset(
    {"maxResults", "nextToken", "restoreTestingPlanArn", *_EQUALITY_FILTERS, *_TIME_FILTERS}
)


class ApiError(Exception):
    """An error response, as AWS Backup sends it."""

    def __init__(self, status: int, code: str, message: str, kind: str = "User") -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind

    def body(self) -> bytes:
        return json.dumps({"Code": self.code, "Message": self.message, "Type": self.kind}).encode()


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameterValueException", message)


def parse_timestamp(name: str, text: str) -> float:
    """A query-string timestamp: ISO 8601 (what botocore sends) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"{name}: not a timestamp: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _sort_key(job: Mapping[str, Any]) -> tuple[float, str]:
    """Newest first, then by ID: a total order a cursor can point into."""
    return -float(job["CreationDate"]), str(job["RestoreJobId"])


class FakeBackup:
    """The restore jobs of one account and region, and the accounting of requests to them."""

    def __init__(self, latency: float = 0.0, log_size: int = 10_000) -> None:
        self.latency = latency
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._order: list[Job] | None = None  # sorted view, rebuilt after a change
        self._json: dict[str, str] = {}  # each job's JSON text, dropped when the job changes
        self._counts: collections.Counter[str] = collections.Counter()
        self._failures: collections.deque[ApiError] = collections.deque()
        self.log: collections.deque[tuple[str, dict[str, str]]] = collections.deque(
            maxlen=log_size
        )
        self._ticks = 0
        self._seed = 0

    # -- jobs ------------------------------------------------------------------------------

    def reset(self, jobs: list[Job] | None = None, seed: int = 0) -> None:
        """Replace every job (and zero the counters): each benchmark run starts the same."""
        with self._lock:
            self._jobs = {job["RestoreJobId"]: dict(job) for job in jobs or []}
            self._order = None
            self._json = {}
            self._counts.clear()
            self._failures.clear()
            self.log.clear()
            self._ticks = 0
            self._seed = seed

    def put(self, job: Job) -> None:
        """Add or replace one job (a dict with the API's field names, dates as epoch seconds)."""
        with self._lock:
            self._jobs[job["RestoreJobId"]] = dict(job)
            self._changed(job["RestoreJobId"])

    def update(self, job_id: str, **fields: Any) -> None:
        """Change fields of a job; a field set to None is removed, as AWS omits empty fields."""
        with self._lock:
            job = self._jobs[job_id]
            for name, value in fields.items():
                if value is None:
                    job.pop(name, None)
                else:
                    job[name] = value
            self._changed(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return [dict(job) for job in self._jobs.values()]

    def _changed(self, job_id: str) -> None:
        self._order = None
        self._json.pop(job_id, None)

    def tick(self, now: float | None = None, new_jobs: int = 3) -> int:
        """Move jobs along as AWS would between two scrapes; return how many jobs changed.

        PENDING jobs start; RUNNING jobs progress and some finish; restore tests finish their
        validation, then their clean-up; ``new_jobs`` jobs are created (PENDING). Seeded: the
        same sequence of ticks on the same jobs gives the same changes.
        """
        now = time.time() if now is None else now
        with self._lock:
            self._ticks += 1
            rng = random.Random(f"{self._seed}/tick/{self._ticks}")
            changed = 0
            for job_id in sorted(self._jobs):
                job = self._jobs[job_id]
                if _advance(job, rng, now):
                    self._changed(job_id)
                    changed += 1
            for _ in range(new_jobs):
                job = _new_job(rng, now - rng.uniform(0, 30), status="PENDING")
                self._jobs[job["RestoreJobId"]] = job
                self._changed(job["RestoreJobId"])
                changed += 1
            return changed

    # -- accounting ------------------------------------------------------------------------

    def requests(self, operation: str | None = None) -> int:
        """API requests answered so far (errors included), for one operation or all."""
        with self._lock:
            if operation is not None:
                return self._counts[operation]
            return sum(self._counts.values())

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def fail_next(
        self, count: int, code: str = "ThrottlingException", status: int = 400,
        message: str = "Rate exceeded", kind: str = "User",
    ) -> None:
        """Answer the next ``count`` API requests with this error (throttling by default)."""
        with self._lock:
            self._failures.extend(ApiError(status, code, message, kind) for _ in range(count))

    # -- the API ---------------------------------------------------------------------------

    def handle(self, path: str, query: Mapping[str, list[str]]) -> tuple[str, bytes]:
        """Answer one API request: (operation, JSON body), or raise ApiError."""
        if path in ("/restore-jobs", "/restore-jobs/"):
            operation = LIST_OPERATION
        elif path.startswith("/restore-jobs/") and "/" not in path[len("/restore-jobs/"):]:
            operation = DESCRIBE_OPERATION
        else:
            raise ApiError(404, "UnknownOperationException", f"no operation at {path}")
        params = {name: values[-1] for name, values in query.items()}
        with self._lock:
            self._counts[operation] += 1
            self.log.append((operation, params))
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            raise failure
        if operation == LIST_OPERATION:
            return operation, self._list(params)
        return operation, self._describe(unquote(path[len("/restore-jobs/"):]))

    def _describe(self, job_id: str) -> bytes:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ApiError(
                    400, "ResourceNotFoundException", f"Restore job {job_id} not found"
                )
            return self._job_json(job).encode()

    def _list(self, params: Mapping[str, str]) -> bytes:
        unknown = set(params) - _KNOWN_LIST_PARAMETERS
        if unknown:
            raise invalid(f"unknown parameters: {', '.join(sorted(unknown))}")
        limit = _max_results(params.get("maxResults"))
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise invalid(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        equal = {field: params[name] for name, field in _EQUALITY_FILTERS.items() if name in params}
        times = [
            (field, op, parse_timestamp(name, params[name]))
            for name, (field, op) in _TIME_FILTERS.items()
            if name in params
        ]
        plan = params.get("restoreTestingPlanArn")
        fingerprint = hashlib.sha256(
            json.dumps({k: v for k, v in sorted(params.items()) if k != "nextToken"}).encode()
        ).hexdigest()[:16]
        after = _read_token(params.get("nextToken"), fingerprint)
        with self._lock:
            if self._order is None:
                self._order = sorted(self._jobs.values(), key=_sort_key)
            matches = [
                job for job in self._order if _matches(job, equal, times, plan)
            ]
            start = 0 if after is None else bisect.bisect_right(
                [_sort_key(job) for job in matches], after
            )
            page = matches[start:start + limit]
            texts = [self._job_json(job) for job in page]
            token = None
            if start + limit < len(matches):
                token = _make_token(_sort_key(page[-1]), fingerprint)
        body = '{"RestoreJobs":[' + ",".join(texts) + "]"
        if token is not None:
            body += ',"NextToken":' + json.dumps(token)
        return (body + "}").encode()

    def _job_json(self, job: Job) -> str:
        text = self._json.get(job["RestoreJobId"])
        if text is None:
            text = json.dumps(job, separators=(",", ":"))
            self._json[job["RestoreJobId"]] = text
        return text


def _max_results(text: str | None) -> int:
    if text is None:
        return DEFAULT_MAX_RESULTS
    try:
        value = int(text)
    except ValueError:
        raise invalid(f"maxResults: not an integer: {text!r}") from None
    if not 1 <= value <= MAX_RESULTS:
        raise invalid(f"maxResults: {value} is outside 1..{MAX_RESULTS}")
    return value


def _matches(
    job: Mapping[str, Any],
    equal: Mapping[str, str],
    times: list[tuple[str, str, float]],
    plan: str | None,
) -> bool:
    for field, value in equal.items():
        if job.get(field) != value:
            return False
    for field, op, bound in times:
        stamp = job.get(field)
        if stamp is None:
            return False
        if (op == ">" and not stamp > bound) or (op == "<" and not stamp < bound):
            return False
    if plan is not None:
        created_by = job.get("CreatedBy") or {}
        if created_by.get("RestoreTestingPlanArn") != plan:
            return False
    return True


def _make_token(key: tuple[float, str], fingerprint: str) -> str:
    raw = json.dumps([key[0], key[1], fingerprint]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str | None, fingerprint: str) -> tuple[float, str] | None:
    if token is None:
        return None
    try:
        creation, job_id, token_fingerprint = json.loads(base64.urlsafe_b64decode(token))
    except (binascii.Error, ValueError, TypeError):
        raise invalid("nextToken: not a token this API issued") from None
    if token_fingerprint != fingerprint:
        raise invalid("nextToken: issued for a request with other parameters")
    return float(creation), str(job_id)


# -- a realistic mix of jobs ---------------------------------------------------------------

_RESOURCE_TYPES = (
    ("EBS", 30), ("EC2", 20), ("RDS", 15), ("S3", 15), ("EFS", 10), ("DynamoDB", 5),
    ("Aurora", 5),
)
_PLANS = tuple(
    f"arn:aws:backup:{REGION}:{ACCOUNT_ID}:restore-testing-plan:plan-{name}-{index:04d}"
    for index, name in enumerate(("daily", "weekly", "critical"))
)
_FAILURES = (
    "Access denied while restoring the recovery point.",
    "The target subnet has no free IP addresses.",
    "Restore failed: the recovery point is being deleted.",
    "Insufficient capacity in the requested Availability Zone.",
)


def _stamp(value: float) -> float:
    return round(value, 3)  # AWS's precision


def _new_job(rng: random.Random, created: float, status: str) -> Job:
    types, weights = zip(*_RESOURCE_TYPES, strict=True)
    resource_type = rng.choices(types, weights)[0]
    job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    short = job_id.split("-")[0].lower()
    job: Job = {
        "AccountId": ACCOUNT_ID,
        "RestoreJobId": job_id,
        "RecoveryPointArn": f"arn:aws:backup:{REGION}:{ACCOUNT_ID}:recovery-point:rp-{short}",
        "SourceResourceArn": f"arn:aws:{resource_type.lower()}:{REGION}:{ACCOUNT_ID}:"
        f"resource/{resource_type.lower()}-{short}",
        "BackupVaultArn": f"arn:aws:backup:{REGION}:{ACCOUNT_ID}:backup-vault:vault-"
        f"{rng.randrange(4)}",
        "CreationDate": _stamp(created),
        "Status": status,
        "PercentDone": "0.00%",
        "BackupSizeInBytes": rng.randrange(1 << 20, 1 << 40),
        "IamRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/AWSBackupDefaultServiceRole",
        "ExpectedCompletionTimeMinutes": rng.randrange(2, 120),
        "ResourceType": resource_type,
        "RecoveryPointCreationDate": _stamp(created - rng.uniform(3600, 7 * 86400)),
        "IsParent": False,
    }
    if rng.random() < 0.2:
        job["CreatedBy"] = {"RestoreTestingPlanArn": rng.choice(_PLANS)}
    return job


def _finish(job: Job, rng: random.Random, completed: float) -> None:
    roll = rng.random()
    job["CompletionDate"] = _stamp(completed)
    if roll < 0.03:
        job["Status"] = "FAILED"
        job["StatusMessage"] = rng.choice(_FAILURES)
    elif roll < 0.04:
        job["Status"] = "ABORTED"
        job["StatusMessage"] = "Restore job aborted by the user."
    else:
        job["Status"] = "COMPLETED"
        job["PercentDone"] = "100.00%"
        job["CreatedResourceArn"] = job["SourceResourceArn"] + "-restored"
        if "CreatedBy" in job:
            job["ValidationStatus"] = "VALIDATING"


def _settle_restore_test(job: Job, rng: random.Random, now: float, cleanup_after: float) -> None:
    """Validation ends 20 min after completion; the clean-up starts ``cleanup_after`` seconds
    after completion and lasts 10 min (restore testing keeps the restored resource that long)."""
    since = now - job["CompletionDate"]
    if since >= 20 * 60:
        roll = rng.random()
        if roll < 0.95:
            job["ValidationStatus"] = "SUCCESSFUL"
        elif roll < 0.99:
            job["ValidationStatus"] = "FAILED"
            job["ValidationStatusMessage"] = "Validation script exited with status 1."
        else:
            job["ValidationStatus"] = "TIMED_OUT"
    if since >= cleanup_after + 10 * 60:
        if rng.random() < 0.98:
            job["DeletionStatus"] = "SUCCESSFUL"
        else:
            job["DeletionStatus"] = "FAILED"
            job["DeletionStatusMessage"] = "Could not delete the restored resource."
    elif since >= cleanup_after:
        job["DeletionStatus"] = "DELETING"


def generate_jobs(
    count: int,
    now: float | None = None,
    seed: int = 0,
    spread_seconds: float = 23 * 3600,
    cleanup_after_seconds: float = 3600.0,
) -> list[Job]:
    """``count`` jobs created over the last ``spread_seconds``: mostly COMPLETED, a few percent
    FAILED or ABORTED, recent ones still PENDING or RUNNING, about a fifth restore tests at
    every stage of validation and clean-up. Seeded, so each run and each exporter sees the
    same jobs."""
    now = time.time() if now is None else now
    rng = random.Random(f"{seed}/jobs/{count}")
    jobs: list[Job] = []
    for _ in range(count):
        created = now - rng.uniform(30, spread_seconds)
        job = _new_job(rng, created, status="RUNNING")
        age = now - created
        duration = rng.uniform(120, 3600)
        if age < 15 * 60 and rng.random() < 0.3:
            job["Status"] = "PENDING"
        elif created + duration >= now or (age < 2 * 3600 and rng.random() < 0.05):
            job["PercentDone"] = f"{min(99.0, 100 * age / duration):.2f}%"
        else:
            _finish(job, rng, created + duration)
            if "CreatedBy" in job and job["Status"] == "COMPLETED":
                _settle_restore_test(job, rng, now, cleanup_after_seconds)
        jobs.append(job)
    return jobs


def _advance(job: Job, rng: random.Random, now: float) -> bool:
    status = job["Status"]
    if status == "PENDING":
        job["Status"] = "RUNNING"
        return True
    if status == "RUNNING":
        done = float(job["PercentDone"].rstrip("%")) + rng.uniform(5, 30)
        if done >= 100 or rng.random() < 0.15:
            _finish(job, rng, now)
        else:
            job["PercentDone"] = f"{done:.2f}%"
        return True
    if job.get("ValidationStatus") == "VALIDATING" and rng.random() < 0.3:
        job["ValidationStatus"] = "SUCCESSFUL"
        return True
    if job.get("DeletionStatus") == "DELETING" and rng.random() < 0.5:
        job["DeletionStatus"] = "SUCCESSFUL"
        return True
    return False


# -- HTTP ----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        if parts.path == "/__fake/stats":  # not an API request: neither counted nor delayed
            self._send(200, json.dumps(fake.counts()).encode(), {})
            return
        started = time.monotonic()
        try:
            if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                raise ApiError(
                    403, "MissingAuthenticationTokenException", "Missing Authentication Token"
                )
            query = parse_qs(parts.query, keep_blank_values=True)
            _, body = fake.handle(parts.path, query)
            status, headers = 200, {}
        except ApiError as error:
            status, body = error.status, error.body()
            headers = {"x-amzn-ErrorType": error.code}
        remaining = fake.latency - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        self._send(status, body, headers)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # quiet: a benchmark prints its own figures


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeBackup) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


@contextmanager
def serve(fake: FakeBackup, port: int = 0) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1 (a free port by default); yield its endpoint URL."""
    server = _Server(("127.0.0.1", port), fake)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-backup", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tick", type=float, default=15.0, help="seconds between tick()s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fake = FakeBackup(latency=args.latency)
    fake.reset(generate_jobs(args.jobs, seed=args.seed), seed=args.seed)
    with serve(fake, args.port) as url:
        print(f"fake AWS Backup with {args.jobs} restore jobs at {url} (Ctrl-C stops)")
        try:
            while True:
                time.sleep(args.tick)
                fake.tick()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
