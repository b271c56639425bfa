"""The service models as botocore ships them: the one source of the fake's names and shapes.

Routes, parameter locations and types, constraints and error shapes are all read from here, so
the fake speaks exactly the API the real clients were generated from, and a botocore upgrade
that changes the API changes the fake with it. Every function takes the service's botocore name
(``backup`` unless given; ``account`` for the Account API's ListRegions).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, StructureShape

SERVICE = "backup"


@cache
def service_model(service: str = SERVICE) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def _description(service: str) -> dict[str, Any]:
    """The model as botocore loads it (for traits its Shape objects drop, such as ``fault``)."""
    loader = botocore.session.get_session().get_component("data_loader")
    description: dict[str, Any] = loader.load_service_model(service, "service-2")
    return description


def shape_traits(name: str, service: str = SERVICE) -> dict[str, Any]:
    """Every trait of a named shape as the model writes it ({} for an unknown name)."""
    traits: dict[str, Any] = _description(service)["shapes"].get(name, {})
    return traits


@cache
def operation(name: str, service: str = SERVICE) -> OperationModel:
    return service_model(service).operation_model(name)


@cache
def structure(name: str, service: str = SERVICE) -> StructureShape:
    shape = service_model(service).shape_for(name)
    if not isinstance(shape, StructureShape):
        raise TypeError(f"{name} is a {shape.type_name}, not a structure")
    return shape


def declared_errors(operation_name: str, service: str = SERVICE) -> frozenset[str]:
    """The error codes the model lists for one operation."""
    return frozenset(shape.name for shape in operation(operation_name, service).error_shapes)


@cache
def common_error_members(service: str = SERVICE) -> tuple[str, ...]:
    """The body members every error shape of the service has, in the model's order: the layout
    of an error the model does not define (backup: Code, Message, Type, Context; account:
    message)."""
    shapes = [structure(shape.name, service) for shape in service_model(service).error_shapes]
    first, *others = [
        [name for name, member in shape.members.items() if not member.serialization.get("location")]
        for shape in shapes
    ]
    return tuple(name for name in first if all(name in other for other in others))
