"""An ID mask's birth year is withdrawn when the same row release carries a
column that narrows the birth date (an age, a birth date or year, any other
quasi-identifier); the sequence, gender digit and check character never show."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizers import OperatorContext
from gateway.queries.planner import SUBJECT
from gateway.queries.release import release_rows
from gateway.queries.source_result import SourceResult
from policies import ColumnRule, Decision

CONTEXT = OperatorContext(master_key=bytes(32), key_version=1, owner="民政局", recipient="app")
ID = "11010519491231002X"
ID_MASK = ColumnRule(treatment="mask", params={"kind": "id_number", "show_birth_year": True})


def decision(columns: dict[str, ColumnRule]) -> Decision:
    return Decision(
        purpose="p",
        legal_basis="b",
        access="rows",
        columns=columns,
        row_scope=(),
        min_group_size=1,
        max_rows=None,
        approval="automatic",
        policy_version="v",
    )


@pytest.mark.parametrize(
    ("other", "value", "quasi", "expected"),
    [
        # nothing beside it that narrows the birth date: the year the policy asks for shows
        (ColumnRule(treatment="keep"), "和平社区", False, "1101051949********"),
        (
            ColumnRule(treatment="mask", params={"kind": "name"}),
            "张三",
            False,
            "1101051949********",
        ),
        # an age kept as it is (a quasi-identifier): the year goes
        (ColumnRule(treatment="keep"), 76, True, "110105************"),
        # a birth date generalised to its year, or an age band, even when not declared
        # a quasi-identifier
        (
            ColumnRule(treatment="generalise", params={"kind": "date", "level": "year"}),
            "1949-12-31",
            False,
            "110105************",
        ),
        (
            ColumnRule(treatment="generalise", params={"kind": "age_band", "width": 5}),
            76,
            False,
            "110105************",
        ),
        # any other quasi-identifier counts: it cannot be told from an age by its name
        (ColumnRule(treatment="keep"), 3, True, "110105************"),
    ],
)
def test_id_mask_hides_what_other_columns_would_narrow(
    other: ColumnRule, value: Any, quasi: bool, expected: str
) -> None:
    result = SourceResult(columns=["resident_id", "other", SUBJECT], rows=[(ID, value, ID)])
    rules = {"resident_id": ID_MASK, "other": other}
    release = release_rows(result, decision(rules), CONTEXT, 10, {"other"} if quasi else set())
    assert release.rows[0][0] == expected


def test_id_mask_alone_keeps_the_year_and_hides_the_rest() -> None:
    result = SourceResult(columns=["resident_id", SUBJECT], rows=[(ID, ID)])
    rules = decision({"resident_id": ID_MASK})
    # its own column is not "another" column, even when declared a quasi-identifier
    release = release_rows(result, rules, CONTEXT, 10, {"resident_id"})
    assert release.rows == [["1101051949********"]]


def test_a_filter_on_a_quasi_identifier_narrows_like_a_released_one() -> None:
    # An age filter (age = 76) tells the app the age as surely as an age column would:
    # with ages computed at one date, the year in the mask would then give the birth date.
    result = SourceResult(columns=["resident_id", SUBJECT], rows=[(ID, ID)])
    rules = decision({"resident_id": ID_MASK})
    filtered = release_rows(result, rules, CONTEXT, 10, {"age"}, constrained={"age"})
    assert filtered.rows == [["110105************"]]
    # A filter on a column that is no quasi-identifier leaves the year the policy asks for.
    other = release_rows(result, rules, CONTEXT, 10, {"age"}, constrained={"community"})
    assert other.rows == [["1101051949********"]]
