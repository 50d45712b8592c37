"""What the store keeps beside each entry, derived from the hashed entry text only.

The API filters, sums and pages on columns of ``audit_entries`` and finds a
resident's history through ``audit_subjects``. Neither is hashed, so both are
defined here as functions of the entry: the writer fills them with these
functions and verification recomputes them, so an edited column or a thinned
subject index is found like an edited entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

# The columns of audit_entries that copy something of the entry (all but index/entry/leaf_hash).
INDEXED_COLUMNS = (
    "recorded_at",
    "principal",
    "dataset",
    "purpose",
    "event",
    "decision",
    "row_count",
    "privacy_cost",
)


def subjects_digest(refs: Iterable[str]) -> str:
    """Commitment to a release's SubjectRefs: SHA-256 of the sorted, distinct refs, one a line.

    SubjectRefs are keyed pseudonyms already, so the digest reveals nothing without the key;
    it lets verification prove the index holds exactly these rows for the entry.
    """
    text = "".join(f"{ref}\n" for ref in sorted(set(refs)))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _decision(entry: Mapping[str, Any]) -> str:
    decision = entry.get("decision")
    allowed = decision.get("allowed") if isinstance(decision, dict) else None
    if allowed is None:
        return "none"
    return "allowed" if allowed is True else "denied"


def _cost(value: Any) -> float | None:
    # Costs travel in entries as decimal strings (no floats in canonical JSON).
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def recorded_at(entry: Mapping[str, Any]) -> datetime | None:
    """When the entry entered the log (written by the appender into the entry itself).

    Entries written before the time was committed carry only ``time``; theirs is None.
    """
    value = entry.get("recorded_at")
    if not isinstance(value, str):
        return None
    return _parse_time(value) if type(value) is str else _parse(value)


def _parse(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# The entries of one appended batch share their time, and the writer and verification
# read it for every entry: parsed once per batch.
_parse_time = lru_cache(maxsize=256)(_parse)


def indexed_values(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of ``INDEXED_COLUMNS`` for this entry, in that order (the one definition
    of them; verification calls it once per entry, so it builds no dict)."""
    get = entry.get
    return (
        recorded_at(entry),
        _text(get("principal")) or "",
        _text(get("dataset")),
        _text(get("purpose")),
        _text(get("event")) or "",
        _decision(entry),
        _count(get("row_count")),
        _cost(get("privacy_cost")),
    )


def indexed_columns(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``INDEXED_COLUMNS`` for this entry, by name."""
    return dict(zip(INDEXED_COLUMNS, indexed_values(entry), strict=True))


def stored_text(instant: datetime) -> str:
    """The exact text SQLite keeps for ``instant`` in a UTC column (SQLAlchemy's storage form).

    SQLite stores the column as text and the API's time filters compare that text, so
    another spelling of the same instant ('T', 'Z', '+0000', a week date) would move an
    entry in or out of a view: only this form is the derived value.
    """
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _same_instant(stored: Any, derived: datetime | None) -> bool:
    if derived is None:
        return True  # an entry from before the time was committed: nothing to compare
    if isinstance(stored, str):
        return stored == stored_text(derived)
    if not isinstance(stored, datetime):
        return False
    have: datetime = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    # A store without sub-second precision (MariaDB DATETIME) keeps whole seconds.
    close = abs((have - derived).total_seconds()) < 1.0
    return close and (have == derived or have.microsecond == 0)


def column_mismatches(
    entry: Mapping[str, Any], stored: Sequence[Any] | Mapping[str, Any]
) -> list[str]:
    """Names of the stored columns (given in ``INDEXED_COLUMNS`` order) that do not equal
    what the entry says.

    Compared exactly: ``recorded_at`` as stored (text on SQLite, see ``stored_text``) and
    ``privacy_cost`` as the float of the entry's decimal string, the value the writer stored.
    """
    if isinstance(stored, Mapping):
        stored = tuple(stored.values())
    derived = indexed_columns(entry)
    when = derived["recorded_at"]
    if isinstance(stored[0], str) and when is not None:
        derived["recorded_at"] = stored_text(when)
    if tuple(derived.values()) == tuple(stored):
        return []  # the common case, decided in one comparison
    wrong = []
    for name, have in zip(INDEXED_COLUMNS, stored, strict=True):
        want = derived[name]
        if name == "recorded_at":
            ok = _same_instant(have, when)
        else:
            ok = have == want and type(have) is type(want)
        if not ok:
            wrong.append(name)
    return wrong


def subject_mismatch(entry: Mapping[str, Any], refs: list[str]) -> str | None:
    """Why the subject index rows of this entry differ from what the entry commits to."""
    committed = entry.get("subjects_digest")
    if isinstance(committed, str):
        return None if subjects_digest(refs) == committed else "rows differ from the commitment"
    count = entry.get("subject_count")
    if isinstance(count, int) and not isinstance(count, bool):
        # Entries written before the commitment carry the count only.
        return None if len(refs) == count else "row count differs from the entry's"
    return "the entry names no residents but the index lists some" if refs else None
