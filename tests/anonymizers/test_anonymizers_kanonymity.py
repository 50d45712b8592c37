from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizers import SuppressionError, enforce_k_anonymity, suppress_small_groups
from anonymizers.kanonymity import SMALL_CELL_MODES, SmallCellMode

# --- small-cell suppression ------------------------------------------------------

TABLE: list[list[object]] = [
    # community, age band, persons, total subsidy, mean age
    ["heping", "70-79", 12, 1200.0, 74.1],
    ["heping", "80-89", 3, 300.0, 83.0],
    ["guangming", "70-79", 9, 900.0, 73.5],
    ["guangming", "80-89", 2, 150.0, 85.5],
    ["jianshe", "90+", 1, 100.0, 91.0],
]


def test_suppress_drops_groups_below_k() -> None:
    rows, report = suppress_small_groups(TABLE, count_index=2, k=5)
    assert rows == [TABLE[0], TABLE[2]]
    assert rows[0] is not TABLE[0]
    assert report.mode == "suppress"
    assert report.groups == 5
    assert report.groups_suppressed == 3
    assert report.persons_suppressed == 6
    assert report.suppressed_rows == (1, 3, 4)
    assert not report.other_row
    assert report.as_dict()["groups_suppressed"] == 3


def test_merge_sums_additive_columns_and_nulls_the_rest() -> None:
    rows, report = suppress_small_groups(
        TABLE, 2, 5, "merge", group_indexes=(0, 1), sum_indexes=(3,)
    )
    assert rows[:2] == [TABLE[0], TABLE[2]]
    # 3 + 2 + 1 persons; subsidies add up; a mean of means would be wrong: None
    assert rows[2] == ["other", "other", 6, 550.0, None]
    assert report.other_row
    assert not report.other_row_suppressed
    assert report.groups_suppressed == 3


def test_merged_row_below_k_is_suppressed_too() -> None:
    rows, report = suppress_small_groups(TABLE, 2, 7, "merge", group_indexes=(0, 1))
    assert rows == [TABLE[0], TABLE[2]]
    assert not report.other_row
    assert report.other_row_suppressed


def test_merge_with_a_missing_sum_gives_none_and_custom_label() -> None:
    table = [["a", 1, None], ["b", 2, 5], ["c", 10, 7]]
    rows, _ = suppress_small_groups(
        table, 1, 3, "merge", group_indexes=(0,), sum_indexes=(2,), other_label="其他"
    )
    assert rows == [["c", 10, 7], ["其他", 3, None]]


def test_unreadable_counts_are_treated_as_small() -> None:
    table: list[list[object]] = [
        ["a", None],
        ["b", "12"],
        ["c", True],
        ["d", 12],
        ["e", 12.5],
        ["f", 4.9],
    ]
    rows, report = suppress_small_groups(table, 1, 5)
    assert rows == [["d", 12], ["e", 12.5]]
    assert report.suppressed_rows == (0, 1, 2, 5)


def test_nothing_to_suppress_and_empty_tables() -> None:
    rows, report = suppress_small_groups(TABLE, 2, 1)
    assert rows == TABLE
    assert report.groups_suppressed == 0
    rows, report = suppress_small_groups([], 2, 10, "merge", group_indexes=(0,))
    assert rows == []
    assert not report.other_row


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((TABLE, 2, 0), {}),
        ((TABLE, 2, True), {}),
        ((TABLE, 2, 5, "drop"), {}),
        ((TABLE, 9, 5), {}),
        ((TABLE, -1, 5), {}),
        ((TABLE, 2, 5, "merge"), {}),
        ((TABLE, 2, 5, "merge"), {"group_indexes": (0, 2)}),
        ((TABLE, 2, 5, "merge"), {"group_indexes": (0, 0)}),
        ((TABLE, 2, 5, "merge"), {"group_indexes": (0,), "sum_indexes": (7,)}),
    ],
)
def test_suppress_small_groups_rejects_bad_arguments(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    with pytest.raises(SuppressionError) as info:
        suppress_small_groups(*args, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "heping" not in str(info.value)


@given(
    counts=st.lists(st.integers(0, 30), max_size=30),
    k=st.integers(1, 12),
    mode=st.sampled_from(SMALL_CELL_MODES),
)
def test_no_released_group_is_below_k(counts: list[int], k: int, mode: SmallCellMode) -> None:
    table: list[list[object]] = [[f"g{i}", n, n * 10] for i, n in enumerate(counts)]
    rows, report = suppress_small_groups(table, 1, k, mode, group_indexes=(0,), sum_indexes=(2,))
    assert all(row[1] >= k for row in rows)  # type: ignore[operator]
    small = [n for n in counts if n < k]
    assert report.groups_suppressed == len(small)
    if mode == "merge" and sum(small) >= k:
        assert rows[-1] == ["other", sum(small), sum(small) * 10]
        assert sum(row[1] for row in rows) == sum(counts)  # type: ignore[misc]
    else:
        assert len(rows) == len(counts) - len(small)


# --- k-anonymity -------------------------------------------------------------------


def classes(rows: Sequence[Sequence[object]], qi: tuple[int, ...]) -> Counter[tuple[object, ...]]:
    return Counter(tuple(row[i] for i in qi) for row in rows)


def test_local_suppression_prefers_one_cell() -> None:
    rows: list[list[object]] = [
        ["heping", "70-79", "男", "a"],
        ["heping", "70-79", "男", "b"],
        ["heping", "80-89", "女", "c"],  # c and d differ only in age band:
        ["heping", "90+", "女", "d"],  # suppressing it puts them in one class
        ["youyi", "90+", "男", "e"],  # alone whatever single cell goes: all QIs go
    ]
    out, report = enforce_k_anonymity(rows, (0, 1, 2), k=2)
    assert out[:2] == rows[:2]
    assert out[2] == ["heping", None, "女", "c"]
    assert out[3] == ["heping", None, "女", "d"]
    assert out[4] == [None, None, None, "e"]
    assert rows[2][1] == "80-89"  # input untouched
    assert report.rows_touched == 3
    assert report.cells_suppressed == 5
    assert report.classes_below_k_before == 3
    assert report.classes_below_k_after == 0
    assert report.fully_suppressed_rows == 1
    assert report.cells_suppressed_by_column == {0: 1, 1: 3, 2: 1}


def test_suppressed_cell_joins_rows_already_missing_it() -> None:
    rows: list[list[object]] = [["heping", None], ["heping", None], ["heping", "70-79"]]
    out, report = enforce_k_anonymity(rows, (0, 1), k=3)
    assert out == [["heping", None]] * 3
    assert report.cells_suppressed == 1
    assert report.fully_suppressed_rows == 0


def test_small_rows_can_rescue_each_other() -> None:
    rows: list[list[object]] = [["a", 1], ["a", 2], ["b", 3], ["b", 4]]
    out, report = enforce_k_anonymity(rows, (0, 1), k=2)
    assert out == [["a", None], ["a", None], ["b", None], ["b", None]]
    assert report.cells_suppressed == 4
    assert report.fully_suppressed_rows == 0


def test_already_k_anonymous_is_unchanged() -> None:
    rows: list[list[object]] = [["a", 1, "x"], ["a", 1, "y"], [None, None, "z"]]
    out, report = enforce_k_anonymity(rows, (0, 1), k=2)
    assert out == rows
    assert report.rows_touched == 0
    assert report.classes_below_k_before == 0
    assert report.fully_suppressed_rows == 1


def test_k_one_and_empty_inputs() -> None:
    rows: list[list[object]] = [["a", 1], ["b", 2]]
    assert enforce_k_anonymity(rows, (0, 1), 1)[0] == rows
    out, report = enforce_k_anonymity([], (0,), 5)
    assert out == []
    assert report.rows == 0
    out, report = enforce_k_anonymity(rows, (), 5)
    assert out == rows
    assert report.fully_suppressed_rows == 2


@pytest.mark.parametrize(
    ("rows", "qi", "k"),
    [
        ([["a", 1]], (0,), 0),
        ([["a", 1]], (2,), 2),
        ([["a", 1]], (-1,), 2),
        ([["a", 1]], (0, 0), 2),
        ([[["unhashable"], 1]], (0,), 2),
    ],
)
def test_enforce_k_anonymity_rejects_bad_arguments(
    rows: list[list[object]], qi: tuple[int, ...], k: int
) -> None:
    with pytest.raises(SuppressionError) as info:
        enforce_k_anonymity(rows, qi, k)
    assert "unhashable" not in str(info.value)


QI_VALUE = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["a", "b"]))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    width=st.integers(1, 5),
    k=st.integers(1, 6),
)
def test_result_is_k_anonymous_over_the_qis(data: st.DataObject, width: int, k: int) -> None:
    rows = data.draw(
        st.lists(st.lists(QI_VALUE, min_size=width + 1, max_size=width + 1), max_size=40)
    )
    qi = tuple(data.draw(st.lists(st.integers(0, width), unique=True, max_size=width + 1)))
    out, report = enforce_k_anonymity(rows, qi, k)
    nothing = (None,) * len(qi)

    # every class except the fully suppressed one has at least k rows
    after = classes(out, qi)
    assert all(n >= k for key, n in after.items() if key != nothing)
    assert report.classes_below_k_after == 0
    assert report.fully_suppressed_rows == after[nothing]

    # only QI cells change, and only to None; the report counts them
    changed = 0
    touched = 0
    for before_row, after_row in zip(rows, out, strict=True):
        diffs = [i for i, (x, y) in enumerate(zip(before_row, after_row, strict=True)) if x != y]
        assert all(i in qi and after_row[i] is None for i in diffs)
        changed += len(diffs)
        touched += bool(diffs)
    assert report.cells_suppressed == changed
    assert report.rows_touched == touched
    assert report.rows == len(rows)

    # rows already in classes of k or more are left alone
    before = classes(rows, qi)
    for before_row, after_row in zip(rows, out, strict=True):
        key = tuple(before_row[i] for i in qi)
        if key == nothing or before[key] >= k:
            assert after_row == before_row
    assert report.classes_below_k_before == sum(
        1 for key, n in before.items() if key != nothing and n < k
    )
