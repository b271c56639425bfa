"""The exporter's botocore sessions, over the wire: moto's STS assumes the roles, the fake AWS
Backup answers each request for the account its key belongs to.

What users rely on here: every client signs as its own identity even though all of them share
one client class (client_classes.py); other botocore and boto3 sessions in the process keep
their own classes; response timestamps arrive as the epoch seconds AWS sent; and no more than
``sts_concurrency`` AssumeRole calls are in flight at once when hundreds of accounts start.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from exporter.aws_sessions import AwsSessions, Identity
from exporter.client_classes import is_wrapped
from exporter.demo.fake_backup import FakeBackup, RestoreJobStore
from tests.faulty_proxy import Fault, FaultyProxy
from tests.test_organization import MANAGEMENT, account_of_key
from tests.waiting import eventually

ACCOUNTS = ("111111111111", "222222222222")
CREATED = 1_764_000_000.5


@pytest.fixture
def accounts_backup() -> Iterator[FakeBackup]:
    store = RestoreJobStore()
    for account in (MANAGEMENT, *ACCOUNTS):
        store.put(account, "us-east-1", RestoreJobId=f"job-{account}", CreationDate=CREATED)
    fake = FakeBackup(store=store, accounts=account_of_key)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def role(account: str, sts: str) -> Identity:
    return Identity(role_arn=f"arn:aws:iam::{account}:role/reader", sts_endpoint_url=sts)


def backup_client(sessions: AwsSessions, identity: Identity, fake: FakeBackup) -> Any:
    session = sessions.session(identity)
    return session.create_client("backup", region_name="us-east-1", endpoint_url=fake.url)


def test_every_identity_shares_one_client_class_and_signs_as_itself(moto, accounts_backup):
    assert is_wrapped(), "botocore renamed ClientCreator._create_client_class: see client_classes"
    sessions = AwsSessions()
    identities = [Identity(), *(role(account, moto) for account in ACCOUNTS)]
    clients = [backup_client(sessions, identity, accounts_backup) for identity in identities]
    assert len({type(client) for client in clients}) == 1
    # one cache of aliased event names for every client (aws_sessions._SharedAliases); a botocore
    # that renames its cache would leave each client working out its aliases afresh
    assert len({id(client.meta.events._alias_name_cache) for client in clients}) == 1
    for client, account in zip(clients, (MANAGEMENT, *ACCOUNTS), strict=True):
        (job,) = client.list_restore_jobs()["RestoreJobs"]
        assert job["RestoreJobId"] == f"job-{account}"  # its own account's, not another's
        assert job["AccountId"] == account
        assert job["CreationDate"] == CREATED  # epoch seconds, not a datetime
        described = client.describe_restore_job(RestoreJobId=job["RestoreJobId"])
        assert described["CreationDate"] == CREATED


def test_sessions_of_others_keep_their_own_classes_and_datetimes(accounts_backup):
    sessions = AwsSessions()
    ours = backup_client(sessions, Identity(), accounts_backup)
    theirs = boto3.client("backup", region_name="us-east-1", endpoint_url=accounts_backup.url)
    assert type(theirs) is not type(ours)
    (job,) = theirs.list_restore_jobs()["RestoreJobs"]
    assert job["CreationDate"].timestamp() == CREATED  # boto3's datetimes, as it documents
    assert hasattr(boto3.client("s3", region_name="us-east-1"), "upload_file")  # boto3's own


def threads_waiting_in(function: str, threads: list[threading.Thread]) -> int:
    """How many of ``threads`` are blocked acquiring a lock inside ``function``."""
    frames = sys._current_frames()
    waiting = 0
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        names = []
        while frame is not None:
            names.append(frame.f_code.co_name)
            frame = frame.f_back
        if function in names and "acquire" in names:
            waiting += 1
    return waiting


def test_no_more_than_sts_concurrency_assume_role_calls_at_once(moto):
    proxy = FaultyProxy(moto)
    proxy.default = Fault(hold=True, then_forward=True)
    sessions = AwsSessions(sts_concurrency=2)
    accounts = [f"{n:012d}" for n in range(300_000_000_001, 300_000_000_007)]
    keys: dict[str, str] = {}

    def assume(account: str) -> None:
        credentials = sessions.session(role(account, proxy.url)).get_credentials()
        keys[account] = credentials.get_frozen_credentials().access_key

    threads = [threading.Thread(target=assume, args=(a,), daemon=True) for a in accounts]
    try:
        for thread in threads:
            thread.start()

        def two_held_four_waiting() -> None:
            assert proxy.holding == 2
            assert threads_waiting_in("fetch", threads) == 4

        eventually(two_held_four_waiting, timeout=20, what="two AssumeRole calls, four waiting")
        assert proxy.requests == 2  # the four waiting never reached STS
        proxy.release()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        proxy.close()
    assert proxy.requests == len(accounts)
    assert sorted(keys) == accounts
    assert all(account_of_key(key) == account for account, key in keys.items())


def handlers_for(session: Any, event_name: str) -> list[Any]:
    """The handlers botocore would call for ``event_name`` in ``session``, in order. (The
    emitter's prefix tree is botocore's private structure: reading it is the only way to ask
    "what would fire" without firing handlers that change requests.)"""
    emitter = session.get_component("event_emitter")._emitter
    return list(emitter._handlers.prefix_search(event_name))


def test_a_client_session_keeps_every_built_in_handler_its_services_can_fire():
    import botocore.handlers
    import botocore.session

    from exporter.aws_sessions import CLIENT_SERVICES

    full = botocore.session.Session()
    ours = AwsSessions().session(Identity())
    kinds = {spec[0].split(".")[0] for spec in botocore.handlers.BUILTIN_HANDLERS}
    kinds |= {"before-send", "response-received", "needs-retry", "after-call-error"}
    checked = 0
    for service in sorted(CLIENT_SERVICES):
        model = full.get_service_model(service)
        prefix = model.service_id.hyphenize()
        for operation in model.operation_names:
            for kind in sorted(kinds - {"docs"}):
                for name in (kind, f"{kind}.{prefix}", f"{kind}.{prefix}.{operation}"):
                    assert handlers_for(ours, name) == handlers_for(full, name), name
                    checked += 1
    assert checked > 1000
    fired = {h for kind in kinds for h in handlers_for(ours, f"{kind}.sts.AssumeRoleWithSAML")}
    assert botocore.handlers.disable_signing in fired  # a service-specific one is kept
    # ... and the set is the small one: S3's dozens of handlers are not copied into each client
    s3 = "before-parameter-build.s3.PutObject"
    assert len(handlers_for(ours, s3)) < len(handlers_for(full, s3))


def test_a_client_session_refuses_a_service_whose_handlers_it_does_not_carry():
    session = AwsSessions().session(Identity())
    with pytest.raises(ValueError, match="CLIENT_SERVICES"):
        session.create_client("s3", region_name="us-east-1")
