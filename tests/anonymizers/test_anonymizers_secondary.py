"""Secondary suppression: no hidden cell of a grouped table can be recomputed from its margins.

The check below is independent of the implementation: a hidden cell is recoverable when
its unit vector lies in the row space of the margin equations (numpy matrix ranks).
"""

from __future__ import annotations

import itertools
import random

import pytest

from anonymizers.kanonymity import suppress_small_groups
from anonymizers.secondary import complementary_suppression
from tests.sdc import recoverable

K = 5


# (name, keys, sizes, cells expected hidden)
TABLES = [
    (
        "one small among many: the next-smallest joins it",
        [(b,) for b in "abcd"],
        [50, 40, 3, 30],
        {2, 3},
    ),
    ("two small already protect each other", [(b,) for b in "abcd"], [50, 2, 3, 30], {1, 2}),
    ("nothing small, nothing hidden", [(b,) for b in "abc"], [50, 40, 30], set()),
    ("a lone group is its own total", [("a",)], [3], {0}),
    ("a grand total has no margins", [()], [3], {0}),
    (
        "2x2 with one small cell hides the square",
        [("x", "f"), ("x", "m"), ("y", "f"), ("y", "m")],
        [3, 20, 30, 40],
        {0, 1, 2, 3},
    ),
]


@pytest.mark.parametrize(
    ("keys", "sizes", "expected"), [pytest.param(*t[1:], id=t[0]) for t in TABLES]
)
def test_tables(keys: list[tuple[str, ...]], sizes: list[int], expected: set[int]) -> None:
    primary = {i for i, n in enumerate(sizes) if n < K}
    hidden = complementary_suppression(keys, sizes, primary)
    assert hidden == expected
    assert recoverable(keys, hidden, total=False) == set()


def test_a_bridge_between_two_protected_blocks_is_hidden_too() -> None:
    # Rows r1,r2 and columns c1,c2 form one block, r3,r4 x c3,c4 another; the cell
    # (r2, c3) links them. "Each line 0 or >= 2" can hold while the link is fixed by
    # the two blocks' margins: the audit must not stop there.
    keys = [(r, c) for r in ("r1", "r2", "r3", "r4") for c in ("c1", "c2", "c3", "c4")]
    sizes = [30 + i for i in range(len(keys))]
    for small in (("r1", "c1"), ("r3", "c3")):
        sizes[keys.index(small)] = 2
    primary = {i for i, n in enumerate(sizes) if n < K}
    hidden = complementary_suppression(keys, sizes, primary)
    assert primary <= hidden and recoverable(keys, hidden, total=False) == set()


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_random_tables_leave_nothing_recoverable(seed: int, dims: int) -> None:
    rng = random.Random(seed * 7 + dims)
    axes = [[f"{d}{v}" for v in range(rng.randint(2, 4))] for d in range(dims)]
    keys = [k for k in itertools.product(*axes) if rng.random() > 0.15]  # some cells empty
    sizes = [rng.choice([1, 2, 3, 4, 8, 20, 50]) for _ in keys]
    primary = {i for i, n in enumerate(sizes) if n < K}
    for total in (False, True):
        hidden = complementary_suppression(keys, sizes, primary, hidden_sum_known=total)
        assert primary <= hidden
        # Either nothing hidden is recoverable, or nothing is shown at all (a release of
        # no cells adds nothing to what the margins themselves say).
        assert recoverable(keys, hidden, total) == set() or hidden == set(range(len(keys)))


def test_the_gateway_mode_hides_complements_and_reports_them() -> None:
    rows = [["a", 50], ["b", 40], ["c", 3], ["d", 30]]
    kept, report = suppress_small_groups(rows, 1, K, group_indexes=[0], complementary=True)
    assert kept == [["a", 50], ["b", 40]]
    assert report.groups_suppressed == 2 and report.groups_suppressed_secondary == 1
    merged, report = suppress_small_groups(
        rows, 1, K, "merge", group_indexes=[0], complementary=True
    )
    # The "other" row sums two groups: the small one cannot be read off it.
    assert merged[-1] == ["other", 33] and report.groups_suppressed_secondary == 1
    plain, report = suppress_small_groups(rows, 1, K, group_indexes=[0])
    assert len(plain) == 3 and report.groups_suppressed_secondary == 0  # primary only
