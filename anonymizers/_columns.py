"""Column helpers: compute a per-value function once per distinct value.

Released columns repeat values heavily (a community, an age, a birth date, the
same mobile on every row of a household), so operators map the distinct values
and then look each cell up, which turns a Python call per cell into a C-level
dict lookup per cell.

Where the values are mostly distinct (a column of resident IDs) the cache
costs more than it saves, so a random sample of the column first estimates
the number of distinct values (birthday bound: a sample of s values drawn from
D distinct ones repeats about s**2 / 2D times); when that estimate exceeds
half the column, the values are computed directly, in order.

Python's equality makes 1 == 1.0 == True share a dict slot, while an operator
may treat them differently (str(True) is "True"). The fast path is therefore
taken only when the column's types cannot compare equal across types (str,
bytes, dates and at most one numeric type); otherwise each value is keyed by
(type, value), and unhashable values are computed one by one.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

__all__ = ["map_distinct"]

R = TypeVar("R")

# Values drawn to estimate how many distinct values a column holds.
_SAMPLE: Final = 2048
# Types whose values never equal a value of another type in this set.
_SEPARATE_TYPES: Final[frozenset[type]] = frozenset(
    {str, bytes, type(None), dt.date, dt.datetime, dt.time}
)
# Numeric types that compare equal to one another (1 == 1.0 == True).
_NUMERIC_TYPES: Final[frozenset[type]] = frozenset({bool, int, float})


def map_distinct(
    values: Sequence[object], compute: Callable[[list[object]], Sequence[R]]
) -> list[R | None]:
    """Return [f(v) for v in values], calling `compute` once on the distinct values.

    `compute` receives a list of distinct non-None values and returns their
    results in the same order (so a batch-friendly operator can vectorise).
    None always maps to None and is never passed to `compute`.
    """
    if _mostly_distinct(values):
        return _map_each(values, compute)
    types = set(map(type, values))
    numeric = types & _NUMERIC_TYPES
    if types <= _SEPARATE_TYPES | numeric and len(numeric) <= 1:
        distinct = set(values)
        distinct.discard(None)
        representatives = list(distinct)
        results = compute(representatives)
        table: dict[object, R | None] = dict(zip(representatives, results, strict=True))
        table[None] = None
        return list(map(table.__getitem__, values))
    return _map_by_type_and_value(values, compute)


def _mostly_distinct(values: Sequence[object]) -> bool:
    n = len(values)
    if n <= 2 * _SAMPLE:
        return False
    # Seeded by the length: the same column always takes the same path.
    positions = random.Random(n).sample(range(n), _SAMPLE)  # noqa: S311 -- not security
    try:
        repeats = _SAMPLE - len({values[i] for i in positions})
    except TypeError:
        return True  # unhashable values: no cache anyway
    return repeats == 0 or _SAMPLE * _SAMPLE / (2 * repeats) > n / 2


def _map_each(
    values: Sequence[object], compute: Callable[[list[object]], Sequence[R]]
) -> list[R | None]:
    present = [value for value in values if value is not None]
    results = list(compute(present))
    if len(results) != len(present):
        raise ValueError("compute must return one result per value")
    if len(present) == len(values):
        return list(results)
    out: list[R | None] = [None] * len(values)
    computed = iter(results)
    for position, value in enumerate(values):
        if value is not None:
            out[position] = next(computed)
    return out


def _map_by_type_and_value(
    values: Sequence[object], compute: Callable[[list[object]], Sequence[R]]
) -> list[R | None]:
    index: dict[object, int] = {}
    representatives: list[object] = []
    positions: list[int] = []
    for value in values:
        if value is None:
            positions.append(-1)
            continue
        key: object
        try:
            key = (type(value), value)
            hash(key)
        except TypeError:
            # Unhashable: its own slot (the object is alive, so its id is unique).
            key = (_Unhashable, id(value))
        slot = index.get(key)
        if slot is None:
            slot = index[key] = len(representatives)
            representatives.append(value)
        positions.append(slot)
    results = list(compute(representatives))
    if len(results) != len(representatives):
        raise ValueError("compute must return one result per value")
    return [None if slot < 0 else results[slot] for slot in positions]


class _Unhashable:
    """Marker type for the keys of unhashable values."""
