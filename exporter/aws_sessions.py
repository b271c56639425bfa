"""botocore sessions, shared: one per set of credentials, all on one loaded service model.

A botocore session loads and parses the service models, endpoint rules and partitions of its
own: about 9 MB and 0.2 s of CPU each. An organisation has hundreds of targets, so every
session here shares one data loader (the models are read once per process), and targets that
read the same account with the same role share one session, and with it one set of assumed-role
credentials: STS calls scale with accounts, not with targets. botocore refreshes those
credentials before they expire (15 minutes ahead, advisory; 10, mandatory); ``sts_concurrency``
bounds how many AssumeRole calls run at once when hundreds come due together at start-up.

Two kinds of session, so that each can be set up for its job:

- a *source* session per profile resolves the default credential chain (environment, IRSA's
  web identity, Pod Identity, a profile's role) and signs AssumeRole, exactly as botocore
  configures it: its STS clients must see ``Expiration`` as the datetime botocore expects;
- a *client* session per identity makes the AWS Backup, Organizations and Account clients. Its
  credential chain is one provider, that identity's credentials, and its responses keep
  timestamps as the epoch seconds AWS sent: botocore would turn each into a datetime in the
  local time zone (about 38 microseconds, 5 ms for a page of 50 jobs) only for the exporter to
  turn it back into seconds.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import NoCredentialsError
from botocore.hooks import HierarchicalEmitter
from botocore.utils import parse_timestamp

from exporter.client_classes import share_client_classes


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


class _IdentityProvider(CredentialProvider):
    """A client session's whole credential chain: its identity's credentials, loaded on first
    use (start-up makes no AWS call) and refreshed by botocore from then on."""

    METHOD = "exporter-identity"
    CANONICAL_NAME = "ExporterIdentity"

    def __init__(self, load: Callable[[], Credentials | None]) -> None:
        self._load = load

    def load(self) -> Credentials | None:
        return self._load()


def epoch_seconds(value: Any) -> float:
    """A response timestamp as Unix seconds: AWS's JSON protocols send numbers, kept as they
    are; anything else (ISO 8601 text) is parsed the way botocore parses it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    seconds: float = parse_timestamp(value).timestamp()
    return seconds


class AwsSessions:
    """The process's botocore sessions, by identity; thread-safe."""

    def __init__(self, sts_concurrency: int = 4) -> None:
        self._lock = threading.Lock()
        # botocore's built-in handlers, registered once: registering them costs a new session
        # about 16 ms of CPU (one session per account), copying them about 2 ms.
        self._hooks = HierarchicalEmitter()
        base = botocore.session.Session(event_hooks=self._hooks)
        self._loader = base.get_component("data_loader")
        self._sessions: dict[Identity, botocore.session.Session] = {}
        self._sources: dict[str | None, botocore.session.Session] = {}
        self._sts_clients: dict[tuple[str | None, str, str | None], Any] = {}
        self._sts_gate = threading.BoundedSemaphore(sts_concurrency)

    def session(self, identity: Identity) -> botocore.session.Session:
        """The client session of an identity, made on first use and shared from then on."""
        with self._lock:
            session = self._sessions.get(identity)
        if session is not None:
            return session
        if identity.role_arn is not None:
            fetch = self._assume_role(identity)

            def load() -> Credentials | None:
                return DeferredRefreshableCredentials(fetch, method="assume-role-exporter")

        else:

            def load() -> Credentials | None:
                return self._source(identity.profile).get_credentials()

        session = self._new_session(identity.profile)
        chain = CredentialResolver([_IdentityProvider(load)])
        session.register_component("credential_provider", chain)
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=epoch_seconds
        )
        share_client_classes(session)
        with self._lock:
            return self._sessions.setdefault(identity, session)

    def forget(self, identity: Identity) -> None:
        """Drop an identity's session (and its credentials): the next use assumes anew, or
        reads the default chain afresh. For a session AWS ended before the expiry it announced
        (revoked, clock skew)."""
        with self._lock:
            self._sessions.pop(identity, None)
            if identity.role_arn is None:
                self._sources.pop(identity.profile, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _new_session(self, profile: str | None) -> botocore.session.Session:
        session = botocore.session.Session(
            profile=profile, event_hooks=copy.copy(self._hooks), include_builtin_handlers=False
        )
        session.register_component("data_loader", self._loader)
        return session

    def _source(self, profile: str | None) -> botocore.session.Session:
        """The source session of a profile: botocore's own default chain, as configured."""
        with self._lock:
            source = self._sources.get(profile)
        if source is None:
            source = self._new_session(profile)
            share_client_classes(source)
            with self._lock:
                source = self._sources.setdefault(profile, source)
        return source

    def _sts_client(self, identity: Identity) -> tuple[Any, Credentials]:
        """One STS client per source (profile, region, endpoint), shared by every role, and the
        source credentials it signs with."""
        source = self._source(identity.profile)
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
