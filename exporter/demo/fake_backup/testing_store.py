"""Restore testing plans and their selections per (account, region), and the helpers that create,
change and "run" them.

The API (``testing_operations``) and the Python helpers share these methods, so a plan a test
puts is the plan a client reads, and both are refused for the same reasons: fields the model's
shapes do not allow (TypeError or ValueError, from ``records``), AWS's documented rules
(``testing_rules.Refused``, a ValueError carrying AWS's error code), an unknown plan or
selection (KeyError; each operation answers with the error its model declares for it).

Semantics, as AWS documents them: a plan's name is unique in its account and region, a
selection's within its plan (AlreadyExistsException, naming the existing ARN); a request with
the CreatorRequestId of an existing plan (of an existing selection of the plan) returns that one
and changes nothing; a plan "can only successfully" be deleted once all its selections are
(InvalidRequestException, the one error DeleteRestoreTestingPlan declares besides
ServiceUnavailableException). LastExecutionTime is never set by the fake on its own: it does not
run schedules. ``set_last_execution`` sets it, ``record_run`` simulates a run (the time and the
restore jobs the plan created, ``CreatedBy.RestoreTestingPlanArn`` set), ``put_plan_job`` adds
one such job. Jobs outlive their plan, as AWS keeps restore job history.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from exporter.demo.fake_backup.fields import to_datetime
from exporter.demo.fake_backup.records import Record, copied, member_value, normalised
from exporter.demo.fake_backup.regions import Regions
from exporter.demo.fake_backup.testing_rules import (
    Refused,
    check_creator_request_id,
    mint_plan_arn,
    plan_fields,
    selection_fields,
)

if TYPE_CHECKING:
    from datetime import datetime

    from exporter.demo.fake_backup.store import RestoreJobStore

PLAN = "RestoreTestingPlanForGet"
SELECTION = "RestoreTestingSelectionForGet"
# What ``put_plan`` gives a plan without one (the model requires it; AWS has no default).
DEFAULT_RECOVERY_POINT_SELECTION = {
    "Algorithm": "LATEST_WITHIN_WINDOW",
    "IncludeVaults": ["*"],
    "RecoveryPointTypes": ["SNAPSHOT"],
}
_ARN = "RestoreTestingPlanArn"
_PLAN_NAME = "RestoreTestingPlanName"


class _Region:
    def __init__(self) -> None:
        self.plans: dict[str, Record] = {}  # name -> RestoreTestingPlanForGet fields
        self.tags: dict[str, dict[str, str]] = {}  # plan name -> its tags (no output has them)
        self.selections: dict[str, dict[str, Record]] = {}  # plan name -> selection name -> ...

    def plan(self, name: str) -> Record:
        plan = self.plans.get(name)
        if plan is None:
            raise KeyError(f"Restore testing plan {name} not found")
        return plan

    def selection(self, plan_name: str, name: str) -> Record:
        selection = self.selections.get(plan_name, {}).get(name)
        if selection is None:
            raise KeyError(f"Restore testing selection {name} of plan {plan_name} not found")
        return selection


def _existing(records: Iterable[Record], creator_request_id: str | None) -> Record | None:
    if creator_request_id is None:
        return None
    return next((r for r in records if r.get("CreatorRequestId") == creator_request_id), None)


def _already_exists(what: str, record: Record, arn: str) -> Refused:
    members = {"Arn": arn}
    if record.get("CreatorRequestId"):
        members["CreatorRequestId"] = record["CreatorRequestId"]
    return Refused("AlreadyExistsException", f"{what} already exists", members)


class _Tables(Regions[_Region]):
    """The tables of every (account, region) and their lock, shared by the plan and the
    selection methods (two classes only to keep each short)."""

    def __init__(self, jobs: RestoreJobStore, clock: Callable[[], float] = time.time) -> None:
        super().__init__(_Region)
        self._jobs = jobs
        self.clock = clock

    def _now(self) -> datetime:
        return to_datetime(self.clock())


class _Selections(_Tables):
    """The selection methods of ``RestoreTestingStore``."""

    def create_selection(
        self,
        account_id: str,
        region: str,
        plan_name: str,
        selection: Mapping[str, Any],
        creator_request_id: str | None = None,
    ) -> Record:
        """CreateRestoreTestingSelection: ``selection`` has the members of
        RestoreTestingSelectionForCreate."""
        check_creator_request_id(creator_request_id)
        typed = normalised("RestoreTestingSelectionForCreate", selection, False)
        with self._lock:
            table = self._region(account_id, region)
            table.plan(plan_name)
            existing = _existing(table.selections[plan_name].values(), creator_request_id)
            if existing is not None:
                return copy.deepcopy(existing)
            fields = selection_fields(typed)
            name = fields["RestoreTestingSelectionName"]
            if name in table.selections[plan_name]:
                old = table.selections[plan_name][name]
                arn = table.plans[plan_name][_ARN]
                raise _already_exists(f"Restore testing selection {name}", old, arn)
            fields.update(
                CreationTime=self.clock(),
                CreatorRequestId=creator_request_id,
                RestoreTestingPlanName=plan_name,
            )
            record = table.selections[plan_name][name] = normalised(SELECTION, fields)
            return copy.deepcopy(record)

    def put_selection(self, account_id: str, region: str, plan_name: str, **fields: Any) -> str:
        """Create or replace a selection of a plan (KeyError if there is no such plan) from
        fields of RestoreTestingSelectionForGet; returns its name. Unless given: CreationTime
        now (a replaced selection keeps its own), IamRoleArn the account's
        AWSBackupDefaultServiceRole."""
        fields.setdefault(
            "IamRoleArn", f"arn:aws:iam::{account_id}:role/service-role/AWSBackupDefaultServiceRole"
        )
        typed = normalised(SELECTION, {**fields, "RestoreTestingPlanName": plan_name}, False)
        checked = selection_fields(typed)
        with self._lock:
            table = self._region(account_id, region)
            table.plan(plan_name)
            name = checked["RestoreTestingSelectionName"]
            old = table.selections[plan_name].get(name, {})
            checked.setdefault("CreationTime", old.get("CreationTime", self._now()))
            table.selections[plan_name][name] = normalised(SELECTION, checked)
            return str(name)

    def update_selection(
        self,
        account_id: str,
        region: str,
        plan_name: str,
        name: str,
        changes: Mapping[str, Any],
    ) -> tuple[Record, datetime]:
        """UpdateRestoreTestingSelection: ``changes`` has members of
        RestoreTestingSelectionForUpdate. Returns the changed selection and the update's time."""
        typed = normalised("RestoreTestingSelectionForUpdate", changes, False)
        with self._lock:
            selection = self._region(account_id, region).selection(plan_name, name)
            selection.update(selection_fields(typed, selection))
            return copy.deepcopy(selection), self._now()

    def delete_selection(self, account_id: str, region: str, plan_name: str, name: str) -> None:
        with self._lock:
            table = self._region(account_id, region)
            table.selection(plan_name, name)
            del table.selections[plan_name][name]

    def selection(self, account_id: str, region: str, plan_name: str, name: str) -> Record | None:
        with self._lock:
            found = self._region(account_id, region).selections.get(plan_name, {}).get(name)
            return None if found is None else copy.deepcopy(found)

    def selections(self, account_id: str, region: str, plan_name: str) -> list[Record]:
        """The plan's selections, by name (KeyError if there is no such plan)."""
        with self._lock:
            table = self._region(account_id, region)
            table.plan(plan_name)
            chosen = table.selections[plan_name]
            return copied(chosen[name] for name in sorted(chosen))


class RestoreTestingStore(_Selections):
    """Plans and selections of every (account, region); restore jobs go to ``jobs``. Every
    method returns copies; ``clock`` (epoch seconds) dates what the API creates and changes."""

    # -- plans -----------------------------------------------------------------------------

    def create_plan(
        self,
        account_id: str,
        region: str,
        plan: Mapping[str, Any],
        creator_request_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Record:
        """CreateRestoreTestingPlan: ``plan`` has the members of RestoreTestingPlanForCreate."""
        check_creator_request_id(creator_request_id)
        fields = plan_fields(normalised("RestoreTestingPlanForCreate", plan, False), True)
        name = fields["RestoreTestingPlanName"]
        with self._lock:
            table = self._region(account_id, region)
            existing = _existing(table.plans.values(), creator_request_id)
            if existing is not None:
                return copy.deepcopy(existing)
            if name in table.plans:
                old = table.plans[name]
                raise _already_exists(f"Restore testing plan {name}", old, old[_ARN])
            fields.update(
                CreationTime=self.clock(),
                CreatorRequestId=creator_request_id,
                RestoreTestingPlanArn=mint_plan_arn(account_id, region, name),
            )
            return self._store_plan(table, normalised(PLAN, fields), tags)

    def _store_plan(
        self, table: _Region, plan: Record, tags: Mapping[str, str] | None = None
    ) -> Record:
        name = plan["RestoreTestingPlanName"]
        table.plans[name] = plan
        table.selections.setdefault(name, {})
        table.tags[name] = dict(tags or table.tags.get(name, {}))
        return copy.deepcopy(plan)

    def put_plan(self, account_id: str, region: str, **fields: Any) -> str:
        """Create or replace a plan from fields of RestoreTestingPlanForGet; returns its ARN.
        Filled in when not given: the defaults AWS gives a new plan, CreationTime (now), the
        ARN (minted; a replaced plan keeps its ARN and CreationTime) and RecoveryPointSelection
        (``DEFAULT_RECOVERY_POINT_SELECTION``)."""
        fields.setdefault("RecoveryPointSelection", DEFAULT_RECOVERY_POINT_SELECTION)
        typed = plan_fields(normalised(PLAN, fields, False), True)
        with self._lock:
            table = self._region(account_id, region)
            old = table.plans.get(typed["RestoreTestingPlanName"], {})
            typed.setdefault("CreationTime", old.get("CreationTime", self._now()))
            typed.setdefault(
                _ARN,
                old.get(_ARN) or mint_plan_arn(account_id, region, typed[_PLAN_NAME]),
            )
            return str(self._store_plan(table, normalised(PLAN, typed))[_ARN])

    def update_plan(
        self, account_id: str, region: str, name: str, changes: Mapping[str, Any]
    ) -> Record:
        """UpdateRestoreTestingPlan: ``changes`` has members of RestoreTestingPlanForUpdate.
        Sets LastUpdateTime; returns the changed plan."""
        fields = plan_fields(normalised("RestoreTestingPlanForUpdate", changes, False), False)
        with self._lock:
            plan = self._region(account_id, region).plan(name)
            plan.update(fields, LastUpdateTime=self._now())
            return copy.deepcopy(plan)

    def set_last_execution(
        self, account_id: str, region: str, name: str, when: datetime | float | None
    ) -> None:
        """Set (None: remove) a plan's LastExecutionTime, as a run of the plan would."""
        value = None if when is None else member_value(PLAN, "LastExecutionTime", when)
        with self._lock:
            plan = self._region(account_id, region).plan(name)
            plan.pop("LastExecutionTime", None)
            if value is not None:
                plan["LastExecutionTime"] = value

    def delete_plan(self, account_id: str, region: str, name: str) -> None:
        """DeleteRestoreTestingPlan; refused while the plan has selections."""
        with self._lock:
            table = self._region(account_id, region)
            table.plan(name)
            if table.selections.get(name):
                raise Refused(
                    "InvalidRequestException",
                    f"Restore testing plan {name} has {len(table.selections[name])} restore "
                    "testing selections: delete them before the plan",
                )
            for mapping in (table.plans, table.selections, table.tags):
                mapping.pop(name, None)

    def plan(self, account_id: str, region: str, name: str) -> Record | None:
        with self._lock:
            plan = self._region(account_id, region).plans.get(name)
            return None if plan is None else copy.deepcopy(plan)

    def plans(self, account_id: str, region: str) -> list[Record]:
        """Every plan of the region, by name."""
        with self._lock:
            table = self._region(account_id, region)
            return copied(table.plans[name] for name in sorted(table.plans))

    def tags(self, account_id: str, region: str, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self._region(account_id, region).tags.get(name, {}))

    # -- runs ------------------------------------------------------------------------------

    def put_plan_job(
        self,
        account_id: str,
        region: str,
        plan_name: str,
        selection_name: str | None = None,
        **fields: Any,
    ) -> str:
        """A restore job the plan created (``RestoreJobStore.put``); returns its ID. With a
        selection: its ProtectedResourceType, IamRoleArn and (when it names specific ARNs) its
        first ARN as SourceResourceArn, unless given."""
        with self._lock:
            table = self._region(account_id, region)
            arn = table.plan(plan_name)[_ARN]
            if selection_name is not None:
                selection = table.selection(plan_name, selection_name)
                fields.setdefault("ResourceType", selection["ProtectedResourceType"])
                fields.setdefault("IamRoleArn", selection["IamRoleArn"])
                arns = selection.get("ProtectedResourceArns") or ["*"]
                if arns != ["*"]:
                    fields.setdefault("SourceResourceArn", arns[0])
        fields["CreatedBy"] = {"RestoreTestingPlanArn": arn}
        return self._jobs.put(account_id, region, **fields)

    def record_run(
        self,
        account_id: str,
        region: str,
        plan_name: str,
        when: datetime | float,
        jobs: Iterable[Mapping[str, Any]] = (),
    ) -> list[str]:
        """A run of the plan at ``when``: LastExecutionTime set to it, and one restore job per
        entry of ``jobs`` (``put_plan_job`` arguments; CreationDate ``when`` unless given)."""
        self.set_last_execution(account_id, region, plan_name, when)
        made = []
        for job in jobs:
            fields = {"CreationDate": when, **job}
            made.append(self.put_plan_job(account_id, region, plan_name, **fields))
        return made
