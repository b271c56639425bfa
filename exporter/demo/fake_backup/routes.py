"""Which operation a request is: the model's HTTP method and ``requestUri`` of every operation.

``/restore-jobs/{restoreJobId}`` becomes a pattern with one label (``{Key+}`` labels are greedy);
a literal query in the template (``/x?tagging``) must be present. Labels are matched on the raw
path (botocore percent-encodes them, ``/`` included) and decoded afterwards. A trailing slash is
optional, so ``/restore-jobs`` and ``/restore-jobs/`` are the same path, told apart by method.
When several templates match, the one with the most literal text wins. Each service's routes are
its own model's (the server picks the service from the request's credential scope first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qs, unquote

from exporter.demo.fake_backup.model import SERVICE, operation, service_model

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]  # label names, in the order of the pattern's groups
    required_query: tuple[str, ...]
    literal_length: int

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> dict[str, str] | None:
        if method != self.method or any(name not in query for name in self.required_query):
            return None
        found = self.pattern.fullmatch(path.rstrip("/") or "/")
        if found is None:
            return None
        return {
            name: unquote(value) for name, value in zip(self.labels, found.groups(), strict=True)
        }


def compile_route(name: str, service: str = SERVICE) -> Route:
    """The route of one operation of the model."""
    http = operation(name, service).http
    template, _, literal_query = http["requestUri"].partition("?")
    template = template.rstrip("/") or "/"
    labels: list[str] = []
    pattern, literal_length, position = "", 0, 0
    for found in _LABEL.finditer(template):
        literal = template[position : found.start()]
        pattern += re.escape(literal)
        literal_length += len(literal)
        label = found.group(1)
        labels.append(label.rstrip("+"))
        pattern += "(.+)" if label.endswith("+") else "([^/]+)"
        position = found.end()
    pattern += re.escape(template[position:])
    literal_length += len(template) - position
    required = tuple(parse_qs(literal_query, keep_blank_values=True))
    return Route(name, http["method"], re.compile(pattern), tuple(labels), required, literal_length)


@cache
def all_routes(service: str = SERVICE) -> tuple[Route, ...]:
    """Every operation of the model, most specific first."""
    routes = (compile_route(name, service) for name in service_model(service).operation_names)
    return tuple(sorted(routes, key=lambda route: -route.literal_length))


def find(
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    routes: Iterable[Route] | None = None,
    service: str = SERVICE,
) -> tuple[str, dict[str, str]] | None:
    """(operation name, decoded labels) of the first route that matches, or None."""
    for route in all_routes(service) if routes is None else routes:
        labels = route.match(method, path, query)
        if labels is not None:
            return route.operation, labels
    return None
