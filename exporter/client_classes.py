"""One botocore client class per service for the exporter's sessions, instead of one per client.

botocore builds a new class for every client it creates: a method, a lazy docstring and an
operation model for each of AWS Backup's ~130 operations, about 180 KB and 6 ms of CPU, to be
thrown away with the client. The class depends only on the service model and on the session's
``creating-client-class`` handlers, and every session the exporter makes (aws_sessions.py) is a
plain botocore session with the same built-in handlers and one shared data loader, so one class
per (service, API version) serves them all. With 1,000 targets that is 180 MB less, and what a
client costs is its endpoint, signer and event hooks (about 120 KB, 8 ms).

botocore has no public hook for this, so ``ClientCreator._create_client_class`` is wrapped, and
only for creators whose event emitter belongs to a session registered here: a boto3 session
(which adds its own methods to the class, as S3's ``upload_file``) or any other session in the
process still gets a class of its own. If a botocore release renames the method, nothing is
wrapped and clients are built as botocore builds them (tests/test_client_classes.py notices).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import botocore.client
import botocore.session

_lock = threading.Lock()
_classes: dict[tuple[str, str], type] = {}
_shared_emitters: weakref.WeakSet[Any] = weakref.WeakSet()
_original: Callable[..., type] | None = getattr(
    botocore.client.ClientCreator, "_create_client_class", None
)


def _create_client_class(creator: Any, service_name: str, service_model: Any) -> type:
    assert _original is not None
    emitter = getattr(creator, "_event_emitter", None)
    if emitter is None or emitter not in _shared_emitters:
        return _original(creator, service_name, service_model)
    key = (service_name, str(service_model.api_version))
    with _lock:
        cls = _classes.get(key)
    if cls is None:
        cls = _original(creator, service_name, service_model)
        with _lock:
            cls = _classes.setdefault(key, cls)
    return cls


if _original is not None:
    botocore.client.ClientCreator._create_client_class = _create_client_class  # type: ignore[attr-defined]


def share_client_classes(session: botocore.session.Session) -> None:
    """Let clients of ``session`` use the shared class of their service."""
    _shared_emitters.add(session.get_component("event_emitter"))


def is_wrapped() -> bool:
    """Whether this botocore is one whose class creation could be wrapped."""
    return _original is not None
