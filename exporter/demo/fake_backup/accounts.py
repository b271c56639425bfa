"""The Account API's state: each account's Region opt-in statuses, and who may ask about whom.

An account sees every Region of the commercial partition (``aws``; the list botocore ships in
its endpoints data, so a botocore upgrade that adds a Region adds it here). The Regions launched
before 20 March 2019 are ENABLED_BY_DEFAULT and cannot be enabled or disabled (AWS Account
Management reference, "Enable or disable AWS Regions in your account"); every later one is an
opt-in Region, DISABLED until enabled. Tests set a status with ``set_region``.

Who may name an account (``AccountId``): an identity of the organisation's management account
or of a delegated administrator, about a member account of the same organisation, with trusted
access for Account Management enabled; nobody about the management account itself, which is
managed only "in standalone context", without ``AccountId`` (the model's note on
``AccountId``). ``members`` None: every account but the management account is a member.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import botocore.session

from exporter.demo.fake_backup.constraints import check
from exporter.demo.fake_backup.model import service_model

SERVICE = "account"
PARTITION = "aws"
ENABLED_BY_DEFAULT = "ENABLED_BY_DEFAULT"
DISABLED = "DISABLED"
# Launched before 20 March 2019: enabled in every account, for good.
DEFAULT_REGIONS = frozenset(
    {
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
        "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2",
        "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip


@cache
def partition_regions() -> tuple[str, ...]:
    """Every Region of the commercial partition, sorted."""
    loader = botocore.session.get_session().get_component("data_loader")
    partitions = loader.load_data("endpoints")["partitions"]
    regions = next(p["regions"] for p in partitions if p["partition"] == PARTITION)
    return tuple(sorted(regions))


def default_status(region: str) -> str:
    return ENABLED_BY_DEFAULT if region in DEFAULT_REGIONS else DISABLED


class Denied(Exception):  # noqa: N818 (a refusal, answered as AccessDeniedException)
    """The caller may not ask about that account; the reason is AWS's wording where known."""


@dataclass
class _Organisation:
    management_account: str | None = None
    delegated_admins: set[str] = field(default_factory=set)
    members: set[str] | None = None
    trusted_access: bool = True


class AccountRegistry:
    """Thread-safe Region statuses of every account, and the organisation they are in."""

    def __init__(
        self,
        management_account: str | None = None,
        delegated_admins: Iterable[str] = (),
        members: Iterable[str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._initial = (management_account, frozenset(delegated_admins), members)
        self._statuses: dict[tuple[str, str], str] = {}
        self._organisation = _Organisation()
        self.reset()

    def reset(self) -> None:
        """Back to the organisation given to the constructor, every Region at its default."""
        management, admins, members = self._initial
        with self._lock:
            self._statuses.clear()
            self._organisation = _Organisation(
                management, set(admins), None if members is None else set(members)
            )

    # -- the organisation --------------------------------------------------------------------

    def set_organisation(
        self,
        management_account: str | None,
        delegated_admins: Iterable[str] = (),
        members: Iterable[str] | None = None,
        trusted_access: bool = True,
    ) -> None:
        """The organisation's management account (None: no organisation), its delegated
        administrators for Account Management, its members (None: every other account) and
        whether trusted access for Account Management is enabled."""
        with self._lock:
            self._organisation = _Organisation(
                management_account,
                set(delegated_admins),
                None if members is None else set(members),
                trusted_access,
            )

    @property
    def management_account(self) -> str | None:
        with self._lock:
            return self._organisation.management_account

    @management_account.setter
    def management_account(self, account_id: str | None) -> None:
        with self._lock:
            self._organisation.management_account = account_id

    def target(self, caller_account: str, account_id: str | None) -> str:
        """The account a request is about: the caller's own without ``AccountId``, else the
        named one if the caller may name it (``Denied`` otherwise)."""
        if account_id is None:
            return caller_account
        with self._lock:
            org = self._organisation
            admins = ({org.management_account} | org.delegated_admins) - {None}
            if account_id == org.management_account:
                raise Denied(
                    "The management account can only be managed using the standalone context "
                    "from the management account"
                )
            if caller_account not in admins:
                raise Denied(
                    "Only the organization's management account or a delegated administrator "
                    "can specify AccountId"
                )
            if not org.trusted_access:
                raise Denied(
                    "Your organization must first enable trusted access with AWS Account "
                    "Management."
                )
            if org.members is not None and account_id not in org.members:
                raise Denied(f"Account {account_id} is not a member of the organization")
        return account_id

    # -- Region statuses ---------------------------------------------------------------------

    def set_region(self, account_id: str, region: str, status: str) -> None:
        """One account's status for one Region (a RegionOptStatus of the model: ``Violation``
        otherwise). A default Region is only ENABLED_BY_DEFAULT, an opt-in Region never is
        (ValueError otherwise)."""
        shapes = service_model(SERVICE)
        check(shapes.shape_for("AccountId"), account_id, "account_id")
        check(shapes.shape_for("RegionName"), region, "region")
        check(shapes.shape_for("RegionOptStatus"), status, "status")
        if (status == ENABLED_BY_DEFAULT) != (region in DEFAULT_REGIONS):
            raise ValueError(
                f"{region} is {'a default' if region in DEFAULT_REGIONS else 'an opt-in'} "
                f"Region: it cannot be {status}"
            )
        with self._lock:
            self._statuses[(account_id, region)] = status

    def regions(self, account_id: str) -> list[tuple[str, str]]:
        """(Region, status) of every Region of the account, by name: the partition's and any
        other a test set."""
        with self._lock:
            own = {r: s for (a, r), s in self._statuses.items() if a == account_id}
        names = sorted(set(partition_regions()) | set(own))
        return [(name, own.get(name, default_status(name))) for name in names]

    def status(self, account_id: str, region: str) -> str | None:
        """The account's status for one Region; None for a Region it does not have."""
        return dict(self.regions(account_id)).get(region)
