"""Planning and execution against real databases: bound values, timeouts, row caps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from gateway.catalog.engines import execute, make_source_engine
from gateway.demo.community import Community
from gateway.errors import SourceTimeout
from gateway.queries.binding import ColumnInfo, DatasetView
from gateway.queries.planner import plan
from gateway.queries.spec import QuerySpec
from policies import ColumnRule, Decision, ScopeFilter
from tests.conftest import Gateway, make_settings, open_gateway

VIEW = DatasetView(
    id="ds_x",
    name="residents",
    owner="civil-affairs",
    table="residents",
    privacy_unit="resident_id",
    columns={
        n: ColumnInfo(n, t, t, "attribute")
        for n, t in [
            ("resident_id", "string"),
            ("name", "string"),
            ("community", "string"),
            ("age", "integer"),
            ("birth_date", "date"),
        ]
    },
)


def decision(**kw: object) -> Decision:
    base: dict[str, object] = {
        "purpose": "p",
        "legal_basis": "b",
        "access": "rows",
        "columns": {"name": ColumnRule(), "age": ColumnRule()},
        "row_scope": (ScopeFilter("community", "=", "heping"),),
        "min_group_size": 10,
        "max_rows": None,
        "approval": "manual",
        "policy_version": "v",
    }
    base.update(kw)
    return Decision(**base)  # type: ignore[arg-type]


DIALECTS = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),
    "mysql": mysql.dialect(),
}
HOSTILE = "x' OR '1'='1'; DROP TABLE residents; --"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_values_are_bound_never_spliced(dialect: str) -> None:
    spec = QuerySpec.model_validate(
        {
            "select": ["name", "age"],
            "filters": [
                {"column": "name", "op": "=", "value": {"param": "n"}},
                {"column": "name", "op": "prefix", "value": "50%_off"},
                {"column": "birth_date", "op": "between", "value": ["1940-01-01", "1950-12-31"]},
            ],
            "params": {"n": {"type": "string"}},
        }
    )
    stmt = plan(VIEW, spec, decision(), {"n": HOSTILE}, 11)
    compiled = stmt.compile(dialect=DIALECTS[dialect])
    sql = str(compiled)
    assert "DROP" not in sql and "heping" not in sql and "50" not in sql and "1940" not in sql
    assert HOSTILE in compiled.params.values()
    assert "50!%!_off%" in compiled.params.values()  # LIKE wildcards escaped


def test_scope_is_anded_with_the_apps_filters() -> None:
    spec = QuerySpec.model_validate(
        {
            "select": ["name"],
            "filters": [{"column": "community", "op": "=", "value": "guangming"}],
        }
    )
    sql = str(plan(VIEW, spec, decision(), {}, 11).compile())
    where = sql.split("WHERE", 1)[1]
    assert " AND " in where and " OR " not in where


SLOW = {
    "sqlite": sa.select(sa.literal_column("count(*)")).select_from(
        sa.text(
            "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000000) "
            "SELECT x FROM c)"
        )
    ),
    "postgresql": sa.select(sa.func.pg_sleep(5)),
    "mariadb": sa.select(sa.func.sleep(5)),
}


@pytest.mark.parametrize(
    "kind",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_statement_timeout_cancels_and_the_connection_stays_usable(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "sqlite":
        (tmp_path / "s.db").touch()  # sources are opened read-only, never created
        url = f"sqlite:///{tmp_path / 's.db'}"
    else:
        url = str(request.getfixturevalue("pg_url" if kind == "postgresql" else "mariadb_url"))
    engine = make_source_engine(url, 1)
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        execute(engine, SLOW[kind], timeout=0.5, max_rows=10)
    assert time.monotonic() - started < 4
    assert execute(engine, sa.select(sa.literal(1)), timeout=5, max_rows=10).rows == [(1,)]
    engine.dispose()


def test_row_cap_truncates_and_says_so(small_community: Community, tmp_path: Path) -> None:
    from gateway.demo.sources import SOURCE_TABLES, write_sources

    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw: Gateway = open_gateway(make_settings(tmp_path / "home", max_rows=7))
    try:
        dataset = gw.register_demo_dataset("residents", source)
        qid = gw.approved_query(
            "heping-committee",
            dataset,
            "public-service.elderly-care.home-visit",
            {"select": ["age"]},
            approval={"row_cap": 50},
        )
        body = gw.run("heping-committee", qid).json()
        assert body["row_count"] == 7 and body["truncated"] is True
    finally:
        gw.client.close()
        gw.ctx.close()
