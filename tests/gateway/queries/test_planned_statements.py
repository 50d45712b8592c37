"""One planned statement per query, many runs: each run's values bound, never stale."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.catalog.engines import execute
from gateway.catalog.models import Dataset
from gateway.queries.binding import ColumnInfo, DatasetView
from gateway.queries.plan_cache import PlanCache
from gateway.queries.planner import plan, run_values
from gateway.queries.spec import QuerySpec
from policies import ColumnRule, Decision, ScopeFilter

VIEW = DatasetView(
    id="ds_x",
    name="residents",
    owner="civil-affairs",
    table="residents",
    privacy_unit="resident_id",
    columns={
        n: ColumnInfo(n, t, s, "attribute")
        for n, t, s in [
            ("resident_id", "string", "string"),
            ("name", "string", "string"),
            ("community", "string", "string"),
            ("age", "integer", "integer"),
            ("birth_date", "date", "string"),  # dates kept as ISO text compare as text
        ]
    },
)
DECISION = Decision(
    purpose="p",
    legal_basis="b",
    access="rows",
    columns={"name": ColumnRule(), "age": ColumnRule()},
    row_scope=(ScopeFilter("community", "=", "heping"),),
    min_group_size=10,
    max_rows=None,
    approval="manual",
    policy_version="v",
)
PEOPLE = [
    (f"r{i}", name, "heping" if i % 3 else "guangming", 60 + i, f"19{40 + i}-0{1 + i % 9}-15")
    for i, name in enumerate(["王芳", "李强", "50%_off", "50 off", "张伟", "王_明", "赵敏", "孙丽"])
]
SPEC = QuerySpec.model_validate(
    {
        "select": ["name", "age"],
        "filters": [
            {"column": "age", "op": ">=", "value": {"param": "min_age"}},
            {"column": "resident_id", "op": "in", "value": {"param": "ids"}},
            {"column": "birth_date", "op": "between", "value": [{"param": "lo"}, "1999-12-31"]},
            {"column": "name", "op": "prefix", "value": {"param": "starts"}},
        ],
        "params": {
            "min_age": {"type": "integer"},
            "ids": {"type": "string", "many": True},
            "lo": {"type": "date"},
            "starts": {"type": "string"},
        },
        "order_by": [{"column": "age"}],
    }
)
RUNS: list[dict[str, Any]] = [
    {"min_age": 60, "ids": ["r1", "r2"], "lo": "1900-01-01", "starts": ""},
    {"min_age": 62, "ids": ["r1", "r2", "r4", "r5", "r7"], "lo": "1900-01-01", "starts": ""},
    {"min_age": 0, "ids": ["r2", "r3", "r5"], "lo": "1900-01-01", "starts": "50%"},
    {"min_age": 0, "ids": ["r2", "r3", "r5"], "lo": "1900-01-01", "starts": "王_"},
    {"min_age": 0, "ids": ["r1", "r2", "r4", "r5", "r7"], "lo": "1944-06-01", "starts": ""},
    {"min_age": 99, "ids": ["r1"], "lo": "1900-01-01", "starts": ""},
]


@pytest.fixture()
def source(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE residents (resident_id TEXT PRIMARY KEY, name TEXT, community TEXT,"
            " age INTEGER, birth_date TEXT)"
        )
        conn.exec_driver_sql("INSERT INTO residents VALUES (?, ?, ?, ?, ?)", PEOPLE)
    return engine


def _bound(params: dict[str, Any]) -> dict[str, Any]:
    from datetime import date

    return {**params, "lo": date.fromisoformat(params["lo"])}


def test_one_statement_answers_every_run_as_planning_afresh_would(source: sa.Engine) -> None:
    planned = plan(VIEW, SPEC, DECISION, None, 11)
    answers = []
    for params in RUNS:
        bound = _bound(params)
        fresh = execute(source, plan(VIEW, SPEC, DECISION, bound, 11), 5, 11).rows
        reused = execute(source, planned, 5, 11, run_values(VIEW, SPEC, bound)).rows
        assert reused == fresh
        answers.append(fresh)
    # The runs differ, so a statement holding one run's values would have been caught.
    assert len({tuple(a) for a in answers}) == len(RUNS)
    assert answers[2] == [("50%_off", 62, "r2")]  # the prefix's wildcards stay literal
    assert answers[5] == []


def test_the_planned_statement_holds_no_run_value() -> None:
    sql = str(plan(VIEW, SPEC, DECISION, None, 11).compile(compile_kwargs={}))
    assert ":run_0" in sql and "run_1" in sql and ":run_2_low" in sql and ":run_3" in sql
    values = run_values(VIEW, SPEC, _bound(RUNS[2]))
    assert values == {
        "run_0": 0,
        "run_1": ["r2", "r3", "r5"],
        "run_2_low": "1900-01-01",
        "run_2_high": "1999-12-31",  # a filter taking a parameter is bound whole
        "run_3": "50!%%",
    }


def _dataset() -> Dataset:
    return Dataset(
        id="ds_x",
        name="residents",
        owner="civil-affairs",
        table_name="residents",
        privacy_unit="resident_id",
        resident_id=None,
        columns=[
            {"name": c.name, "type": c.type, "storage": c.storage, "classification": "attribute"}
            for c in VIEW.columns.values()
        ],
        policy={},
        policy_version="v",
    )


def test_the_cache_plans_once_and_again_for_anything_that_changes_the_statement() -> None:
    cache = PlanCache()
    dataset = _dataset()
    first = cache.get("qr_1", dataset, SPEC, DECISION, 11)
    assert cache.get("qr_1", dataset, SPEC, DECISION, 11).statement is first.statement
    other_scope = replace(DECISION, row_scope=(ScopeFilter("community", "=", "guangming"),))
    scoped = cache.get("qr_1", dataset, SPEC, other_scope, 11).statement
    assert scoped is not first.statement and "guangming" in scoped.compile().params.values()
    # A re-read row (another object), another cap or policy version: planned afresh.
    assert cache.get("qr_1", _dataset(), SPEC, DECISION, 11).statement is not first.statement
    assert cache.get("qr_1", dataset, SPEC, DECISION, 21).statement is not first.statement
    newer = replace(DECISION, policy_version="w")
    assert cache.get("qr_1", dataset, SPEC, newer, 11).statement is not first.statement
