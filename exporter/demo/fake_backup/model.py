"""AWS Backup's service model as botocore ships it: the one source of the fake's names and shapes.

Routes, parameter locations and types, constraints and error shapes are all read from here, so
the fake speaks exactly the API the real clients were generated from, and a botocore upgrade
that changes the API changes the fake with it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, StructureShape

SERVICE = "backup"


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


@cache
def _description() -> dict[str, Any]:
    """The model as botocore loads it (for traits its Shape objects drop, such as ``fault``)."""
    loader = botocore.session.get_session().get_component("data_loader")
    description: dict[str, Any] = loader.load_service_model(SERVICE, "service-2")
    return description


def shape_traits(name: str) -> dict[str, Any]:
    """Every trait of a named shape as the model writes it ({} for an unknown name)."""
    traits: dict[str, Any] = _description()["shapes"].get(name, {})
    return traits


@cache
def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


@cache
def structure(name: str) -> StructureShape:
    shape = service_model().shape_for(name)
    if not isinstance(shape, StructureShape):
        raise TypeError(f"{name} is a {shape.type_name}, not a structure")
    return shape


def declared_errors(operation_name: str) -> frozenset[str]:
    """The error codes the model lists for one operation."""
    return frozenset(shape.name for shape in operation(operation_name).error_shapes)
