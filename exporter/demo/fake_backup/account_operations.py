"""The Account API's Region operations: ListRegions and GetRegionOptStatus, over an
``AccountRegistry``. Served by the same endpoint as AWS Backup, for requests whose credential
scope is ``account``; every other operation of the Account API answers InvalidAction, as an
AWS Backup operation the fake does not implement does.

Without ``AccountId`` a request is about the caller's own account; with it, about the named
account, if the registry lets the caller name it, else AccessDeniedException (403, the model's
status), shaped as AWS's: "... is not authorized to perform: account:ListRegions (<reason>)", the
reason in AWS's words where they are known (``accounts``). Input that breaks the model answers
ValidationException (``errors.input_error``).

ListRegions lists by Region name; its NextToken is a cursor, the last name returned, good only
for the query it came from (the same account and filter; the page size may change), as
ListRestoreJobs' (``query``). AWS documents no default page size: the model's maximum, 50 (so
botocore 1.44's 34 Regions come in one page unless MaxResults asks for fewer).
"""

from __future__ import annotations

from typing import Any

from exporter.demo.fake_backup.accounts import AccountRegistry, Denied
from exporter.demo.fake_backup.errors import ApiError
from exporter.demo.fake_backup.operations import Call, Handler, Output
from exporter.demo.fake_backup.query import BadTokenError, decode_token, encode_token, fingerprint

DEFAULT_MAX_RESULTS = 50


def _validation(message: str, field: str) -> ApiError:
    members = {
        "reason": "fieldValidationFailed",
        "fieldList": [{"name": field, "message": message}],
    }
    return ApiError("ValidationException", message, members=members)


class AccountOperations:
    """The handlers of the Region operations, over one registry."""

    def __init__(self, accounts: AccountRegistry) -> None:
        self.accounts = accounts

    def handlers(self) -> dict[str, Handler]:
        return {
            "ListRegions": self.list_regions,
            "GetRegionOptStatus": self.get_region_opt_status,
        }

    def _target(self, call: Call) -> str:
        try:
            return self.accounts.target(call.caller.account_id, call.params.get("AccountId"))
        except Denied as denied:
            who = f"The caller (account {call.caller.account_id})"
            raise ApiError(
                "AccessDeniedException",
                f"{who} is not authorized to perform: account:{call.operation} ({denied})",
            ) from None

    def list_regions(self, call: Call) -> Output:
        account_id = self._target(call)
        wanted = sorted(set(call.params.get("RegionOptStatusContains") or ()))
        query = fingerprint(account_id, "", {"RegionOptStatusContains": wanted or None})
        token = call.params.get("NextToken")
        try:
            after = None if token is None else decode_token(token, query)[1]
        except BadTokenError as error:
            raise _validation(f"Invalid NextToken: {error}", "NextToken") from None
        regions = [
            (name, status)
            for name, status in self.accounts.regions(account_id)
            if (not wanted or status in wanted) and (after is None or name > after)
        ]
        limit = call.params.get("MaxResults", DEFAULT_MAX_RESULTS)
        page = regions[:limit]
        output: dict[str, Any] = {
            "Regions": [{"RegionName": name, "RegionOptStatus": status} for name, status in page]
        }
        if len(regions) > limit:
            output["NextToken"] = encode_token((0, page[-1][0]), query)
        return output

    def get_region_opt_status(self, call: Call) -> Output:
        account_id = self._target(call)
        region = call.params["RegionName"]
        status = self.accounts.status(account_id, region)
        if status is None:
            raise _validation(f"{region} is not a valid Region name", "RegionName")
        return {"RegionName": region, "RegionOptStatus": status}
