"""The privacy unit is normalised (trimmed, upper-cased) before the per-person
bound: one resident written several ways is still one person."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.queries.dp import plan_dp
from tests.gateway.budget.dp_setup import rows
from tests.gateway.budget.test_dp_mechanisms import KINDS, SPEC, VIEW, decision, pre_noise

# One person's ID as clerks type it: the canonical form, padded, lower-case x.
SPELLINGS = [
    "11010519491231002X",
    " 11010519491231002X",
    "11010519491231002x ",
    "11010519491231002x",
]


@pytest.mark.parametrize("kind", KINDS)
def test_one_person_in_several_spellings_is_bounded_as_one(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 's.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    spelled = [
        {"person": spelling, "community": "heping", "age": 70, "grp": 1, "value": 100}
        for spelling in SPELLINGS
        for _ in range(3)
    ]
    others = [r for r in rows(people=40) if r["person"] != "heavy"]
    sensitivity = {m.name: m.sensitivity for m in plan_dp(VIEW, SPEC, decision(), {}).measures}
    full = pre_noise(url, others + spelled)
    without = pre_noise(url, others)
    # 12 rows in four spellings: unnormalised, the person would move the row count by
    # 12 and the persons count by 4; as one person they move each measure within Δ.
    for name, limit in sensitivity.items():
        moved = sum(abs(a - b) for a, b in zip(full[name], without[name], strict=True))
        assert 0 < moved <= limit, (name, moved, limit)
    assert full["persons"][0] - without["persons"][0] == 1


def test_a_text_unit_is_numbered_even_when_the_source_says_unique() -> None:
    # Uniqueness holds for the stored spellings, not for the normalised person.
    plan = plan_dp(VIEW, SPEC, decision(), {}, unit_is_unique=True)
    sql = str(plan.statement).lower()
    assert "row_number" in sql and "upper(trim(" in sql
