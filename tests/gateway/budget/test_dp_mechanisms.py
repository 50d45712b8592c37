"""DP aggregates: sensitivity of the pushed-down SQL, and the noise's stated accuracy."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog.engines import execute, make_source_engine
from gateway.queries.binding import ColumnInfo, DatasetView
from gateway.queries.dp import plan_dp, release
from gateway.queries.spec import QuerySpec
from policies import Decision, PrincipalFacts, UsagePolicy, decide, policy_version
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

VIEW = DatasetView(
    id="ds",
    name="visits",
    owner="civil-affairs",
    table="visits",
    privacy_unit="person",
    columns={
        c["name"]: ColumnInfo(c["name"], c["type"], c["type"], c["classification"])
        for c in DATASET["columns"]
    },
)
WHO = PrincipalFacts("heping-committee", "app", "neighbourhood-committee", "heping")
SPEC = QuerySpec.model_validate(
    {
        "aggregates": [
            {"fn": "count", "as": "n"},
            {"fn": "persons", "as": "people"},
            {"fn": "sum", "column": "value", "as": "total"},
            {"fn": "mean", "column": "value", "as": "avg"},
        ],
        "group_by": ["grp"],
    }
)


def decision(policy: dict[str, Any] = POLICY, spec: QuerySpec = SPEC) -> Decision:
    doc = UsagePolicy.model_validate(policy)
    result = decide(WHO, doc, policy_version(doc), "public-service.statistics", spec.shape())
    assert isinstance(result, Decision), result
    return result


def pre_noise(url: str, data: list[dict[str, Any]]) -> dict[str, list[float]]:
    write(url, data)
    plan = plan_dp(VIEW, SPEC, decision(), {})
    engine = make_source_engine(url, 1)
    result = execute(engine, plan.statement, 10, 1000)
    engine.dispose()
    by_group = {int(r[0]): r[1:] for r in result.rows}
    return {
        m.name: [float(by_group.get(g, [0] * 9)[i] or 0) for g in (1, 2, 3)]
        for i, m in enumerate(plan.measures)
    }


KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("kind", KINDS)
def test_removing_one_person_moves_each_measure_by_at_most_its_sensitivity(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 's.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    data = rows(people=60)
    plan = plan_dp(VIEW, SPEC, decision(), {})
    sensitivity = {m.name: m.sensitivity for m in plan.measures}
    assert sensitivity == {
        "count": 3,
        "persons": 3,
        "sum:value": 300,
        "msum:value": 150,
        "nn:value": 3,
    }
    full = pre_noise(url, data)
    # The heavy contributor (50 rows, values far out of bounds) and ordinary residents.
    for person in ["heavy", "p0000", "p0007", "p0031"]:
        without = pre_noise(url, [r for r in data if r["person"] != person])
        for name, limit in sensitivity.items():
            moved = sum(abs(a - b) for a, b in zip(full[name], without[name], strict=True))
            assert moved <= limit, (person, name, moved, limit)
    # Someone outside the app's community never counts.
    assert pre_noise(url, [r for r in data if r["person"] != "elsewhere"]) == full


def test_noise_spread_and_interval_coverage_match_what_is_stated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    write(url, rows(people=300))
    d = decision()
    plan = plan_dp(VIEW, SPEC, d, {})
    engine = make_source_engine(url, 1)
    result = execute(engine, plan.statement, 10, 1000)
    engine.dispose()
    truth_rows = {int(r[0]): r[1:] for r in result.rows}
    runs = 1500
    covered = {"n": 0, "total": 0, "avg": 0}
    deviation = {"n": 0.0, "total": 0.0}
    scales: dict[str, float] = {}
    for _ in range(runs):
        out = release(plan, SPEC, d, result)
        scales = out.scales
        row = out.rows[0]  # group 1
        spans = out.intervals[0]
        true_n, _, true_sum, true_centred, true_present = truth_rows[1]
        true_mean = 50 + float(true_centred) / float(true_present)
        for col, truth, value, span in (
            ("n", true_n, row[1], spans[1]),
            ("total", true_sum, row[3], spans[3]),
            ("avg", true_mean, row[4], spans[4]),
        ):
            assert span is not None
            covered[col] += span[0] <= float(truth) <= span[1]
            if col in deviation:
                deviation[col] += abs(float(value) - float(truth))
    for col in ("n", "total"):
        assert 0.93 <= covered[col] / runs <= 0.97, (col, covered[col] / runs)
        mean_abs = deviation[col] / runs
        assert 0.9 * scales[col] <= mean_abs <= 1.1 * scales[col], (col, mean_abs, scales[col])
    assert covered["avg"] / runs >= 0.93  # a union bound: at least the stated level


def test_declared_groups_without_data_still_appear(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    write(url, [r for r in rows(people=300) if r["grp"] != 2])
    d = decision()
    plan = plan_dp(VIEW, SPEC, d, {})
    engine = make_source_engine(url, 1)
    out = release(plan, SPEC, d, execute(engine, plan.statement, 10, 1000))
    engine.dispose()
    assert [r[0] for r in out.rows] == [1, 2, 3]


def test_undeclared_keys_use_threshold_selection_only_with_delta() -> None:
    spec = QuerySpec.model_validate(
        {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["age"]}
    )
    doc = UsagePolicy.model_validate(POLICY)
    refused = decide(WHO, doc, "v", "public-service.statistics", spec.shape())
    assert not refused.allowed and refused.code == "undeclared_group_keys"
    with_delta = {
        **POLICY,
        "purposes": [
            {**POLICY["purposes"][0], "dp": {**POLICY["purposes"][0]["dp"], "delta": 1e-6}}
        ],
    }
    granted = decision(with_delta, spec)
    plan = plan_dp(VIEW, spec, granted, {})
    assert plan.groups is None


def test_a_unique_privacy_unit_skips_the_row_numbering_and_changes_nothing(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from gateway.catalog.engines import unit_is_unique

    url = f"sqlite:///{tmp_path / 's.db'}"
    one_row_each = [r for r in rows(people=300) if r["person"] != "heavy"]
    seen: set[str] = set()
    unique_rows = [r for r in one_row_each if not (r["person"] in seen or seen.add(r["person"]))]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE visits (person VARCHAR(32) NOT NULL PRIMARY KEY, "
                "community VARCHAR(16), age INTEGER, grp INTEGER, value INTEGER)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO visits VALUES (:person, :community, :age, :grp, :value)"),
            unique_rows,
        )
    assert unit_is_unique(engine, "visits", "person")
    assert not unit_is_unique(engine, "visits", "community")
    d = decision()
    # Only a unit stored as a number skips it: a text unit is normalised, and
    # uniqueness of its stored spellings says nothing about normalised persons.
    numeric = ColumnInfo("person", "integer", "integer", "direct_identifier")
    view = dataclasses.replace(VIEW, columns={**VIEW.columns, "person": numeric})
    numbered = plan_dp(view, SPEC, d, {}, unit_is_unique=False)
    plain = plan_dp(view, SPEC, d, {}, unit_is_unique=True)
    assert "row_number" in str(numbered.statement).lower()
    assert "row_number" not in str(plain.statement).lower()
    with engine.connect() as conn:
        assert sorted(conn.execute(numbered.statement).all()) == sorted(
            conn.execute(plain.statement).all()
        )
    engine.dispose()
    write(url, rows(people=50))  # no constraint: the numbering stays
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    assert not unit_is_unique(engine, "visits", "person")
    engine.dispose()
