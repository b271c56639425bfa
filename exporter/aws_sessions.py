"""botocore sessions, shared: one per set of credentials, all on one loaded service model.

A botocore session loads and parses the service models, endpoint rules and partitions of its
own: about 9 MB and 0.2 s of CPU each. An organisation has hundreds of targets, so every
session here shares one data loader (the models are read once per process), and targets that
read the same account with the same role share one session, and with it one set of assumed-role
credentials: STS calls scale with accounts, not with targets. botocore refreshes those
credentials before they expire (15 minutes ahead, advisory; 10, mandatory); ``sts_concurrency``
bounds how many AssumeRole calls run at once when hundreds come due together at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import NoCredentialsError


@dataclass(frozen=True)
class Identity:
    """Whose credentials a client signs with: the default chain (or a profile), optionally
    through an assumed role."""

    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str = "aws-backup-restore-exporter"
    sts_region: str = "us-east-1"  # where AssumeRole goes: the regional endpoint
    sts_endpoint_url: str | None = None


class _AssumedRoleProvider(CredentialProvider):
    """Credentials of a role assumed from the default chain's; botocore refreshes them."""

    METHOD = "assume-role-exporter"
    CANONICAL_NAME = "AssumeRoleExporter"

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch

    def load(self) -> Credentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)


class AwsSessions:
    """The process's botocore sessions, by identity; thread-safe."""

    def __init__(self, sts_concurrency: int = 4) -> None:
        self._lock = threading.Lock()
        base = botocore.session.Session()
        self._loader = base.get_component("data_loader")
        self._sessions: dict[Identity, botocore.session.Session] = {}
        self._sts_clients: dict[tuple[str | None, str, str | None], Any] = {}
        self._sts_gate = threading.BoundedSemaphore(sts_concurrency)

    def session(self, identity: Identity) -> botocore.session.Session:
        """The session of an identity, made on first use and shared from then on."""
        with self._lock:
            session = self._sessions.get(identity)
        if session is not None:
            return session
        session = self._new_session(identity.profile)
        if identity.role_arn is not None:
            provider = _AssumedRoleProvider(self._assume_role(identity))
            session.get_component("credential_provider").insert_before("env", provider)
        with self._lock:
            return self._sessions.setdefault(identity, session)

    def forget(self, identity: Identity) -> None:
        """Drop an identity's session (and its credentials): the next use assumes anew. For a
        session AWS ended before the expiry it announced (revoked, clock skew)."""
        with self._lock:
            self._sessions.pop(identity, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _new_session(self, profile: str | None) -> botocore.session.Session:
        session = botocore.session.Session(profile=profile)
        session.register_component("data_loader", self._loader)
        return session

    def _sts_client(self, identity: Identity) -> tuple[Any, Credentials]:
        """One STS client per source (profile, region, endpoint), shared by every role, and the
        source credentials it signs with."""
        source = self.session(Identity(profile=identity.profile))
        credentials = source.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        key = (identity.profile, identity.sts_region, identity.sts_endpoint_url)
        with self._lock:
            client = self._sts_clients.get(key)
        if client is None:
            client = source.create_client(
                "sts", region_name=identity.sts_region, endpoint_url=identity.sts_endpoint_url
            )
            with self._lock:
                client = self._sts_clients.setdefault(key, client)
        return client, credentials

    def _assume_role(self, identity: Identity) -> Callable[[], dict[str, Any]]:
        """The refresh function of an assumed role's credentials, gated by ``sts_concurrency``."""
        role_arn = identity.role_arn
        assert role_arn is not None
        extra: dict[str, Any] = {"RoleSessionName": identity.role_session_name}
        if identity.external_id:
            extra["ExternalId"] = identity.external_id
        fetcher: AssumeRoleCredentialFetcher | None = None

        def fetch() -> dict[str, Any]:
            nonlocal fetcher
            with self._sts_gate:
                if fetcher is None:  # the source credentials are looked up on first use only
                    client, credentials = self._sts_client(identity)
                    fetcher = AssumeRoleCredentialFetcher(
                        client_creator=lambda service, **_: client,
                        source_credentials=credentials,
                        role_arn=role_arn,
                        extra_args=extra,
                    )
                result: dict[str, Any] = fetcher.fetch_credentials()
                return result

        return fetch
