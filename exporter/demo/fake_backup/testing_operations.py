"""The restore testing and protected-resource operations, over the store's ``testing`` and
``protected`` parts: CreateRestoreTestingPlan, GetRestoreTestingPlan, ListRestoreTestingPlans,
UpdateRestoreTestingPlan, DeleteRestoreTestingPlan, the same five for selections,
DescribeProtectedResource and ListProtectedResources.

Each handler maps what the store refuses onto the error its operation declares: a rule broken
(``testing_rules.Refused``) answers with the code the rule names; an unknown plan or selection
with ResourceNotFoundException, except for DeleteRestoreTestingPlan, whose model declares only
InvalidRequestException and ServiceUnavailableException (Terraform's AWS provider expects
ResourceNotFoundException there; the fake keeps to the model). ConflictException ("until it
finishes performing a previous action") and CreateRestoreTestingPlan's LimitExceededException
(an account quota) are declared too, but the fake has no action in progress and no quota: only
``FakeBackup.fail_next`` sends them.

Lists are by name (resources by ARN); their NextToken is a cursor, the last name returned, good
only for the query it came from (as ListRestoreJobs' in ``query``). AWS documents no default
page size: the model's maximum, 1000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.operations import Call, Handler, Output
from exporter.demo.fake_backup.query import BadTokenError, decode_token, encode_token, fingerprint
from exporter.demo.fake_backup.records import Record, project
from exporter.demo.fake_backup.store import RestoreJobStore
from exporter.demo.fake_backup.testing_rules import Refused

DEFAULT_MAX_RESULTS = 1000
_SUMMARY = ("CreationTime", "RestoreTestingPlanArn", "RestoreTestingPlanName")
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def _answered(missing: str = "ResourceNotFoundException") -> Iterator[None]:
    """Store refusals as the API errors AWS sends; an unknown name answers ``missing``."""
    try:
        yield
    except Refused as refused:
        raise ApiError(refused.code, refused.message, members=refused.members) from None
    except KeyError as error:
        raise ApiError(missing, str(error.args[0] if error.args else error)) from None


def _in_region(
    call: Call, act: Callable[Concatenate[str, str, P], R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """``act`` (a store method) in the caller's account and region, its refusals answered."""
    with _answered():
        return act(call.caller.account_id, call.caller.region, *args, **kwargs)


def _page(
    call: Call, records: Sequence[Record], key: str, scope: str
) -> tuple[list[Record], str | None]:
    """One page of ``records`` (sorted by ``key``) after the call's NextToken, and the next
    token (None on the last page). ``scope`` names what is listed (a token is good for it only)."""
    who = call.caller
    query = fingerprint(who.account_id, who.region, {"List": scope})
    token = call.params.get("NextToken")
    try:
        after = None if token is None else decode_token(token, query)[1]
    except BadTokenError as error:
        raise ApiError("InvalidParameterValueException", f"Invalid NextToken: {error}") from None
    remaining = [r for r in records if after is None or r[key] > after]
    limit = call.params.get("MaxResults", DEFAULT_MAX_RESULTS)
    page = remaining[:limit]
    more = len(remaining) > limit
    return page, encode_token((0, page[-1][key]), query) if more else None


def _listed(name: str, page: list[Record], token: str | None, shape: str) -> dict[str, Any]:
    output: dict[str, Any] = {name: [project(record, shape) for record in page]}
    if token is not None:
        output["NextToken"] = token
    return output


class RestoreTestingOperations:
    """The handlers of the operations above, over one store (see ``store.RestoreJobStore``)."""

    def __init__(self, store: RestoreJobStore) -> None:
        self.testing = store.testing
        self.protected = store.protected

    def handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Callable[[Call], Output]] = {
            "CreateRestoreTestingPlan": self.create_plan,
            "GetRestoreTestingPlan": self.get_plan,
            "ListRestoreTestingPlans": self.list_plans,
            "UpdateRestoreTestingPlan": self.update_plan,
            "DeleteRestoreTestingPlan": self.delete_plan,
            "CreateRestoreTestingSelection": self.create_selection,
            "GetRestoreTestingSelection": self.get_selection,
            "ListRestoreTestingSelections": self.list_selections,
            "UpdateRestoreTestingSelection": self.update_selection,
            "DeleteRestoreTestingSelection": self.delete_selection,
            "DescribeProtectedResource": self.describe_protected_resource,
            "ListProtectedResources": self.list_protected_resources,
        }
        return handlers

    # -- plans -----------------------------------------------------------------------------

    def create_plan(self, call: Call) -> Output:
        params = call.params
        plan = _in_region(
            call,
            self.testing.create_plan,
            params["RestoreTestingPlan"],
            params.get("CreatorRequestId"),
            params.get("Tags"),
        )
        return {name: plan[name] for name in _SUMMARY}

    def get_plan(self, call: Call) -> Output:
        who, name = call.caller, call.params["RestoreTestingPlanName"]
        plan = self.testing.plan(who.account_id, who.region, name)
        if plan is None:
            raise ApiError("ResourceNotFoundException", f"Restore testing plan {name} not found")
        return {"RestoreTestingPlan": plan}

    def list_plans(self, call: Call) -> Output:
        who = call.caller
        plans = self.testing.plans(who.account_id, who.region)
        page, token = _page(call, plans, "RestoreTestingPlanName", "plans")
        return _listed("RestoreTestingPlans", page, token, "RestoreTestingPlanForList")

    def update_plan(self, call: Call) -> Output:
        params = call.params
        plan = _in_region(
            call,
            self.testing.update_plan,
            params["RestoreTestingPlanName"],
            params["RestoreTestingPlan"],
        )
        return {**{name: plan[name] for name in _SUMMARY}, "UpdateTime": plan["LastUpdateTime"]}

    def delete_plan(self, call: Call) -> Output:
        who = call.caller
        with _answered(missing="InvalidRequestException"):
            self.testing.delete_plan(
                who.account_id, who.region, call.params["RestoreTestingPlanName"]
            )
        return {}

    # -- selections ------------------------------------------------------------------------

    def create_selection(self, call: Call) -> Output:
        who, params = call.caller, call.params
        plan_name = params["RestoreTestingPlanName"]
        with _answered():
            selection = self.testing.create_selection(
                who.account_id,
                who.region,
                plan_name,
                params["RestoreTestingSelection"],
                params.get("CreatorRequestId"),
            )
            plan = self._plan(call, plan_name)
        return {
            "CreationTime": selection["CreationTime"],
            "RestoreTestingPlanArn": plan["RestoreTestingPlanArn"],
            "RestoreTestingPlanName": plan_name,
            "RestoreTestingSelectionName": selection["RestoreTestingSelectionName"],
        }

    def _plan(self, call: Call, name: str) -> Record:
        plan = self.testing.plan(call.caller.account_id, call.caller.region, name)
        if plan is None:  # deleted meanwhile
            raise KeyError(f"Restore testing plan {name} not found")
        return plan

    def get_selection(self, call: Call) -> Output:
        who, params = call.caller, call.params
        plan_name, name = params["RestoreTestingPlanName"], params["RestoreTestingSelectionName"]
        selection = self.testing.selection(who.account_id, who.region, plan_name, name)
        if selection is None:
            raise ApiError(
                "ResourceNotFoundException",
                f"Restore testing selection {name} of plan {plan_name} not found",
            )
        return {"RestoreTestingSelection": selection}

    def list_selections(self, call: Call) -> Output:
        plan_name = call.params["RestoreTestingPlanName"]
        selections = _in_region(call, self.testing.selections, plan_name)
        page, token = _page(call, selections, "RestoreTestingSelectionName", f"plan {plan_name}")
        return _listed("RestoreTestingSelections", page, token, "RestoreTestingSelectionForList")

    def update_selection(self, call: Call) -> Output:
        who, params = call.caller, call.params
        plan_name, name = params["RestoreTestingPlanName"], params["RestoreTestingSelectionName"]
        with _answered():
            selection, when = self.testing.update_selection(
                who.account_id, who.region, plan_name, name, params["RestoreTestingSelection"]
            )
            plan = self._plan(call, plan_name)
        return {
            "CreationTime": selection["CreationTime"],
            "RestoreTestingPlanArn": plan["RestoreTestingPlanArn"],
            "RestoreTestingPlanName": plan_name,
            "RestoreTestingSelectionName": name,
            "UpdateTime": when,
        }

    def delete_selection(self, call: Call) -> Output:
        params = call.params
        _in_region(
            call,
            self.testing.delete_selection,
            params["RestoreTestingPlanName"],
            params["RestoreTestingSelectionName"],
        )
        return {}

    # -- protected resources ---------------------------------------------------------------

    def describe_protected_resource(self, call: Call) -> Output:
        who, arn = call.caller, call.params["ResourceArn"]
        resource = self.protected.describe(who.account_id, who.region, arn)
        if resource is None:
            raise ApiError("ResourceNotFoundException", f"Protected resource {arn} not found")
        return resource

    def list_protected_resources(self, call: Call) -> Output:
        who = call.caller
        resources = self.protected.resources(who.account_id, who.region)
        page, token = _page(call, resources, "ResourceArn", "protected resources")
        return _listed("Results", page, token, "ProtectedResource")
