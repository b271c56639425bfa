"""Input values that AWS's API reference allows where botocore's model refuses them.

The model is what the fake checks every request against, and it is right nearly everywhere. The
one known exception: ListRestoreJobSummaries' ``AccountId`` has the model's pattern
``^[0-9]{12}$``, yet the same member's documentation (in the model and on AWS's API reference
page) lets the management and delegated-administrator accounts pass ``ANY`` (job counts of every
account of the organisation) and ``AGGREGATE_ALL`` (their sum). botocore does not check
patterns on the client side, so those values reach AWS, and AWS answers them; the fake must
too. Members listed here are checked against the model only when their value is not one of the
documented extras; the operation's handler gives the extras their meaning.
"""

from __future__ import annotations

from typing import Any

# (operation, input member) -> values the documentation allows beyond the model's constraints
DOCUMENTED_EXTRAS: dict[tuple[str, str], frozenset[str]] = {
    ("ListRestoreJobSummaries", "AccountId"): frozenset({"ANY", "AGGREGATE_ALL"}),
}


def beyond_model(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the members whose value is a documented extra (for the model check)."""
    return {
        name: value
        for name, value in params.items()
        if not (isinstance(value, str) and value in DOCUMENTED_EXTRAS.get((operation, name), ()))
    }
