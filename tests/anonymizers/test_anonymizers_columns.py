import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from anonymizers._columns import map_distinct


def describe(values: list[object]) -> list[str]:
    return [f"{type(v).__name__}:{v!r}" for v in values]


def test_computes_each_distinct_value_once() -> None:
    calls: list[list[object]] = []

    def compute(values: list[object]) -> list[str]:
        calls.append(values)
        return describe(values)

    column: list[object] = ["a", "b", None, "a", "a", None, "b"]
    assert map_distinct(column, compute) == [
        "str:'a'",
        "str:'b'",
        None,
        "str:'a'",
        "str:'a'",
        None,
        "str:'b'",
    ]
    assert len(calls) == 1
    assert sorted(calls[0]) == ["a", "b"]  # type: ignore[type-var]


def test_equal_values_of_different_types_are_kept_apart() -> None:
    column: list[object] = [1, True, 1.0, "1", 0, False, 1]
    assert map_distinct(column, describe) == [
        "int:1",
        "bool:True",
        "float:1.0",
        "str:'1'",
        "int:0",
        "bool:False",
        "int:1",
    ]


def test_unhashable_values_and_dates() -> None:
    column: list[object] = [[1], {"a": 1}, [1], dt.date(2026, 1, 1), None]
    assert map_distinct(column, describe) == [
        "list:[1]",
        "dict:{'a': 1}",
        "list:[1]",
        "date:datetime.date(2026, 1, 1)",
        None,
    ]


def test_empty_and_all_none() -> None:
    assert map_distinct([], describe) == []
    assert map_distinct([None, None], describe) == [None, None]


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-3, 3),
            st.floats(-3, 3),
            st.text(max_size=2),
            st.lists(st.integers(0, 1), max_size=2),
        ),
        max_size=30,
    )
)
def test_same_as_mapping_each_value(column: list[object]) -> None:
    expected = [None if v is None else describe([v])[0] for v in column]
    assert map_distinct(column, describe) == expected


def test_mostly_distinct_columns_are_computed_in_order_without_a_cache() -> None:
    calls: list[list[object]] = []

    def compute(values: list[object]) -> list[str]:
        calls.append(values)
        return describe(values)

    column: list[object] = [None if i % 7 == 0 else f"v{i}" for i in range(20_000)]
    column[1] = True
    column[2] = 1
    column[3] = [1]  # unhashable: fine on this path
    result = map_distinct(column, compute)
    assert result == [None if v is None else describe([v])[0] for v in column]
    assert len(calls) == 1
    assert calls[0] == [v for v in column if v is not None]  # in order, repeats included


def test_repeated_columns_use_the_cache() -> None:
    calls: list[int] = []

    def compute(values: list[object]) -> list[str]:
        calls.append(len(values))
        return describe(values)

    column: list[object] = [f"v{i % 500}" for i in range(50_000)]
    assert map_distinct(column, compute) == describe(column)
    assert calls == [500]
