"""k-anonymity counts distinct persons: three rows of one resident are a class of one."""

from __future__ import annotations

from collections import defaultdict

import pytest

from anonymizers.errors import SuppressionError
from anonymizers.kanonymity import enforce_k_anonymity

# (name, rows as (person, building, age band), k, rows expected unchanged)
CASES = [
    ("one person's three rows are not three people", [("p1", 3, "80-89")] * 3, 2, 0),
    (
        "two persons share a class",
        [("p1", 3, "80-89"), ("p1", 3, "80-89"), ("p2", 3, "80-89")],
        2,
        3,
    ),
    (
        "a repeated person cannot carry a neighbour into a class",
        [("p1", 3, "80-89"), ("p1", 3, "80-89"), ("p2", 4, "80-89"), ("p3", 4, "80-89")],
        2,
        2,
    ),
]


def classes(rows: list[list[object]], persons: list[str]) -> dict[tuple[object, ...], set[str]]:
    out: dict[tuple[object, ...], set[str]] = defaultdict(set)
    for row, person in zip(rows, persons, strict=True):
        out[tuple(row)].add(person)
    return out


@pytest.mark.parametrize(("rows", "k", "unchanged"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_classes_hold_k_persons(rows: list[tuple[str, int, str]], k: int, unchanged: int) -> None:
    persons = [r[0] for r in rows]
    data = [[r[1], r[2]] for r in rows]
    out, report = enforce_k_anonymity(data, [0, 1], k, persons=persons)
    assert sum(1 for a, b in zip(out, data, strict=True) if a == b) == unchanged
    for key, who in classes(out, persons).items():
        assert key == (None, None) or len(who) >= k
    assert report.classes_below_k_after == 0
    # Counted by rows (the old behaviour) the first case looked k-anonymous already.
    _, by_rows = enforce_k_anonymity(data, [0, 1], k)
    if unchanged == 0:
        assert by_rows.cells_suppressed == 0 < report.cells_suppressed


def test_persons_must_match_the_rows() -> None:
    with pytest.raises(SuppressionError):
        enforce_k_anonymity([[1], [2]], [0], 2, persons=["p1"])
