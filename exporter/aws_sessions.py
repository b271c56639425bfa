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

A client session carries only the built-in botocore handlers that can fire for the services it
makes clients for (``CLIENT_SERVICES``): 11 of botocore's 127; the rest are for S3, EC2,
Glacier, the documentation generator and others. botocore copies a session's handlers into every
client it makes, as a prefix tree of about 190 nodes with the full set: at 1,000 targets those
copies were 1.1 of the process's 1.6 million garbage-collected objects, and each of the dozen
full collections while an organisation started scanned them all (8 of 57 s of CPU).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.handlers
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import NoCredentialsError
from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.utils import parse_timestamp

from exporter.client_classes import share_client_classes
from exporter.response_parser import ExporterParserFactory
from exporter.tls_context import share_tls_context

# The services whose clients a client session makes (aws_client.py, organization.py); a client of
# any other service would miss that service's built-in handlers, so a client session refuses it.
CLIENT_SERVICES = frozenset({"backup", "organizations", "account", "sts"})


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


def fires_for(event_name: str, services: frozenset[str]) -> bool:
    """Whether a handler registered for ``event_name`` can fire for a client of ``services``.

    botocore's events are ``<event>.<service>.<operation>`` (``docs.<kind>.<service>...`` for the
    documentation generator), matched by prefix with ``*`` for any part: a name without a service
    part, or with ``*`` there, fires for every service."""
    parts = event_name.split(".")
    position = 2 if parts[0] == "docs" else 1
    return len(parts) <= position or parts[position] in services or parts[position] == "*"


class _SharedAliases(EventAliaser):
    """botocore's event aliaser, with one cache of aliased names for the session and every copy
    botocore makes of it (one per client). A name's alias depends only on the name and on
    botocore's fixed table of aliases, but each copy started with an empty cache, so every new
    client's first request worked out some 30 aliases afresh: 7.6% of an organisation's
    start-up CPU."""

    def __init__(self, emitter: HierarchicalEmitter, cache: dict[str, str]) -> None:
        super().__init__(emitter)
        self._handlers = emitter
        self._alias_name_cache = cache

    def __copy__(self) -> _SharedAliases:
        return _SharedAliases(copy.copy(self._handlers), self._alias_name_cache)


class _ClientSession(botocore.session.Session):
    """A session with the built-in handlers of ``CLIENT_SERVICES`` only, whose clients share
    one TLS context per CA bundle (tls_context.py)."""

    def create_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if service_name not in CLIENT_SERVICES:
            raise ValueError(
                f"the exporter's client sessions carry botocore's handlers for "
                f"{sorted(CLIENT_SERVICES)} only, not {service_name!r}: add it to CLIENT_SERVICES"
            )
        client = super().create_client(service_name, *args, **kwargs)
        share_tls_context(client)
        return client


def _register_handlers(hooks: HierarchicalEmitter, services: frozenset[str]) -> None:
    """botocore's built-in handlers that can fire for ``services``, registered into ``hooks`` the
    way botocore registers all of them (first, last or in between, through a session's event
    aliases)."""
    session = botocore.session.Session(event_hooks=hooks, include_builtin_handlers=False)
    for spec in botocore.handlers.BUILTIN_HANDLERS:
        event_name, handler = spec[0], spec[1]
        if not fires_for(event_name, services):
            continue
        placement = spec[2] if len(spec) > 2 else None
        if placement is botocore.handlers.REGISTER_FIRST:
            session.get_component("event_emitter").register_first(event_name, handler)
        elif placement is botocore.handlers.REGISTER_LAST:
            session.get_component("event_emitter").register_last(event_name, handler)
        else:
            session.register(event_name, handler)


class AwsSessions:
    """The process's botocore sessions, by identity; thread-safe."""

    def __init__(self, sts_concurrency: int = 4) -> None:
        self._lock = threading.Lock()
        # botocore's built-in handlers, registered once: registering them costs a new session
        # about 16 ms of CPU (one session per account), copying them about 2 ms. Source
        # sessions get them all; client sessions those of CLIENT_SERVICES.
        self._hooks = HierarchicalEmitter()
        base = botocore.session.Session(event_hooks=self._hooks)
        self._loader = base.get_component("data_loader")
        self._client_hooks = HierarchicalEmitter()
        _register_handlers(self._client_hooks, CLIENT_SERVICES)
        self._aliased: dict[str, str] = {}  # event names and their aliases, for every session
        # one for every client session: the compiled output shapes are shared by all clients
        self.parsers = ExporterParserFactory(timestamp_parser=epoch_seconds)
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

        session = self._new_session(identity.profile, _ClientSession, self._client_hooks)
        chain = CredentialResolver([_IdentityProvider(load)])
        session.register_component("credential_provider", chain)
        session.register_component("response_parser_factory", self.parsers)
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

    def _new_session(
        self,
        profile: str | None,
        kind: type[botocore.session.Session] = botocore.session.Session,
        hooks: HierarchicalEmitter | None = None,
    ) -> botocore.session.Session:
        events = copy.copy(self._hooks if hooks is None else hooks)
        session = kind(profile=profile, event_hooks=events, include_builtin_handlers=False)
        session.register_component("data_loader", self._loader)
        # what create_client hands its clients; the session's own events share the handlers
        session.register_component("event_emitter", _SharedAliases(events, self._aliased))
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
