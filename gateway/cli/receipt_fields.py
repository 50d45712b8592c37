"""What a run response says beside its receipt, compared with what its entry records.

``cdg audit verify-receipt`` proves the entry is in the log and the rows match its
result digest; this module finds every other field of the response that contradicts
the entry. A field is compared when the response or the entry carries it. An entry
without a count (``suppressed_cells``, ``withheld_values``: a DP entry, or one written
before the count existed) records 0; one without ``cached`` or ``privacy_cost``
records a release that was not differentially private. ``truncated`` is compared when
the entry records it (entries written before it was recorded do not). A count must be
an integer (not 41.0, not true) and a flag a boolean, on either side: JSON's 41.0 equals
41 in Python, and the comparison is of what was written, not of what it would convert to.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.queries.schemas import DPInfo, ReceiptOut, RunResult

# What a run response holds, and what its receipt holds: a file is one or the other.
RESPONSE_FIELDS = frozenset(RunResult.model_fields)
RECEIPT_FIELDS = frozenset(ReceiptOut.model_fields)
DP_FIELDS = frozenset(DPInfo.model_fields)

# (response field, entry field): the same value on both sides.
_SAME = (
    ("query_id", "approved_query"),
    ("kind", "kind"),
    ("purpose", "purpose"),
    ("policy_version", "policy_version"),
)
_COUNTS = ("row_count", "suppressed_cells", "withheld_values")
_MISSING = object()


def shape_problem(data: dict[str, Any]) -> str | None:
    """Why ``data`` is neither a whole run response nor a bare receipt (None when it is
    one). A response must carry its rows and columns, or a tampered answer could pass
    for "the receipt only" by dropping them; and neither may carry fields the check does
    not know, which would stand beside the proof unverified."""
    if "receipt" in data:
        unknown = sorted(set(data) - RESPONSE_FIELDS)
        if unknown:
            return "fields a run response does not have: " + ", ".join(unknown)
        dp = data.get("dp")
        unknown = sorted(set(dp) - DP_FIELDS) if isinstance(dp, dict) else []
        if unknown:
            return "fields a run response's dp does not have: " + ", ".join(unknown)
        missing = [name for name in ("columns", "rows") if name not in data]
        if missing:
            return "a run response without its " + " and ".join(missing)
        return None
    unknown = sorted(set(data) - RECEIPT_FIELDS)
    if unknown:
        return "fields a receipt does not have: " + ", ".join(unknown)
    return None


def recorded_at_differs(receipt: dict[str, Any], entry: dict[str, Any]) -> bool:
    """The receipt's recorded_at, when it carries one (the console's download does not),
    against the entry's: the same moment (the API writes it in its own ISO form, the entry
    in the log's)."""
    if "recorded_at" not in receipt:
        return False
    said, recorded = receipt["recorded_at"], entry.get("recorded_at")
    if type(said) is not str or type(recorded) is not str or not said.isprintable():
        return True
    try:
        return datetime.fromisoformat(said) != datetime.fromisoformat(recorded)
    except ValueError:
        return True


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _count_differs(response: dict[str, Any], entry: dict[str, Any], name: str) -> bool:
    said, recorded = response.get(name, _MISSING), entry.get(name, _MISSING)
    if said is _MISSING and recorded is _MISSING:
        return False
    if name == "row_count" and (said is _MISSING or recorded is _MISSING):
        return True  # every run response and every run entry carries its row count
    said = 0 if said is _MISSING else said
    recorded = 0 if recorded is _MISSING else recorded
    return not (_is_count(said) and _is_count(recorded) and said == recorded)


def _epsilon_differs(epsilon: Any, cost: Any) -> bool:
    """The response's ε (a JSON number) against the entry's privacy_cost (decimal text,
    six places): equal as decimals, so 0.5000001 does not pass for 0.500000."""
    if type(epsilon) not in (int, float) or type(cost) is not str:
        return True
    try:
        return Decimal(repr(epsilon)) != Decimal(cost)
    except InvalidOperation:
        return True


def _dp_differs(response: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    dp = response.get("dp")
    recorded_dp = "privacy_cost" in entry or "cached" in entry
    if dp is None:
        return ["dp"] if recorded_dp else []
    if not isinstance(dp, dict) or not recorded_dp:
        return ["dp"]
    differing = []
    if dp.get("window_start") != entry.get("budget_window"):
        differing.append("dp.window_start")
    if _epsilon_differs(dp.get("epsilon"), entry.get("privacy_cost")):
        differing.append("dp.epsilon")
    cached, recorded = dp.get("cached"), entry.get("cached")
    if type(cached) is not bool or type(recorded) is not bool or cached != recorded:
        differing.append("dp.cached")
    return differing


def differing_fields(response: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """Names of the response's fields that contradict its entry (the rows are checked
    apart, against the result digest), in a fixed order; empty when all agree."""
    differing = [
        name
        for name, recorded in _SAME
        if (name in response or recorded in entry)
        and response.get(name, _MISSING) != entry.get(recorded, _MISSING)
    ]
    differing += [name for name in _COUNTS if _count_differs(response, entry, name)]
    rows = response.get("rows")
    if (
        "row_count" not in differing
        and isinstance(rows, list)
        and response.get("row_count") != len(rows)
    ):
        differing.append("row_count")  # the count must be that of the rows beside it
    if "truncated" in entry:
        said, recorded = response.get("truncated"), entry["truncated"]
        if type(said) is not bool or type(recorded) is not bool or said != recorded:
            differing.append("truncated")
    columns = entry.get("columns")
    if "treatments" in response or isinstance(columns, list):
        recorded_treatments = (
            {c.get("name"): c.get("treatment") for c in columns if isinstance(c, dict)}
            if isinstance(columns, list)
            else None
        )
        if response.get("treatments") != recorded_treatments:
            differing.append("treatments")
    return differing + _dp_differs(response, entry)
