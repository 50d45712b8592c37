"""Tenant scope: an app only ever receives rows (and counts) of its own community.

The residents policy scopes every purpose to ``community = <the app's domain>``
(and, for home visits, ``age >= 70``). Approved queries below try to widen that
scope with their filters and parameters; on SQLite, PostgreSQL and MariaDB every
released row must belong to the app's community and the result must equal the
direct SQL answer for that community alone. Filters, groups and orderings on
columns the policy treats (masks, pseudonymises) or withholds are refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.demo.community import Community
from tests.conftest import (
    Gateway,
    assert_error,
    audit_snapshot,
    leaves_unchanged,
    make_settings,
    open_gateway,
    raw_resident_values,
    source_snapshot,
)

HOME_VISIT = "public-service.elderly-care.home-visit"
PLANNING = "public-service.community-planning"
DOMAIN = {"heping-committee": "heping", "guangming-eldercare": "guangming"}
ALL = ["heping", "guangming", "jianshe", "youyi"]
HEPING, GUANGMING = "heping-committee", "guangming-eldercare"


@dataclass
class Scoped:
    gw: Gateway
    url: str
    dataset: str
    truth: sa.Engine
    raw: frozenset[str]

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.truth.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]


@pytest.fixture(scope="module")
def scoped(
    module_source_url: str, tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[Scoped]:
    gw = open_gateway(make_settings(tmp_path_factory.mktemp("tenant") / "home"))
    truth = sa.create_engine(module_source_url)
    before = source_snapshot(module_source_url)
    try:
        dataset = gw.register_demo_dataset("residents", module_source_url)
        yield Scoped(gw, module_source_url, dataset, truth, raw_resident_values(small_community))
        # Every query of the module (SQL text in values included) left the source as it was.
        assert source_snapshot(module_source_url) == before
    finally:
        truth.dispose()
        gw.client.close()
        gw.ctx.close()


def f(column: str, op: str, value: Any) -> dict[str, Any]:
    return {"column": column, "op": op, "value": value}


def like_prefix(text: str) -> str:
    """The LIKE pattern of a literal prefix, escaped with '!' (written here, not imported)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def string_param(name: str, many: bool = False) -> dict[str, Any]:
    """A string parameter; its harmless default is replaced by every run below."""
    return {name: {"type": "string", "many": many, "default": ["heping"] if many else "heping"}}


IN_ALL = "community IN (:c0, :c1, :c2, :c3)"
IN_ALL_PARAMS = {f"c{i}": c for i, c in enumerate(ALL)}

# (id, app, filters, declared params, run params, truth SQL fragment, its parameters)
ROW_CASES: list[
    tuple[str, str, list[dict[str, Any]], dict[str, Any], dict[str, Any], str, dict[str, Any]]
] = [
    ("no-filter", HEPING, [], {}, {}, "1 = 1", {}),
    (
        "eq-other-community",
        HEPING,
        [f("community", "=", "guangming")],
        {},
        {},
        "community = :v",
        {"v": "guangming"},
    ),
    (
        "eq-own-community",
        HEPING,
        [f("community", "=", "heping")],
        {},
        {},
        "community = :v",
        {"v": "heping"},
    ),
    ("in-all-communities", HEPING, [f("community", "in", ALL)], {}, {}, IN_ALL, IN_ALL_PARAMS),
    (
        "ne-own-community",
        HEPING,
        [f("community", "!=", "heping")],
        {},
        {},
        "community <> :v",
        {"v": "heping"},
    ),
    (
        "ne-other-community",
        HEPING,
        [f("community", "!=", "guangming")],
        {},
        {},
        "community <> :v",
        {"v": "guangming"},
    ),
    (
        "prefix-empty",
        HEPING,
        [f("community", "prefix", "")],
        {},
        {},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("")},
    ),
    (
        "prefix-percent",
        HEPING,
        [f("community", "prefix", "%")],
        {},
        {},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("%")},
    ),
    (
        "prefix-underscore",
        HEPING,
        [f("community", "prefix", "_")],
        {},
        {},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("_")},
    ),
    (
        "prefix-other-community",
        HEPING,
        [f("community", "prefix", "guang")],
        {},
        {},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("guang")},
    ),
    (
        "between-everything",
        HEPING,
        [f("community", "between", ["", "zzzz"])],
        {},
        {},
        "community BETWEEN :a AND :b",
        {"a": "", "b": "zzzz"},
    ),
    (
        "between-other-only",
        HEPING,
        [f("community", "between", ["guangming", "guangming"])],
        {},
        {},
        "community BETWEEN :a AND :b",
        {"a": "guangming", "b": "guangming"},
    ),
    ("ge-empty-string", HEPING, [f("community", ">=", "")], {}, {}, "community >= :v", {"v": ""}),
    (
        "lt-own-community",
        HEPING,
        [f("community", "<", "heping")],
        {},
        {},
        "community < :v",
        {"v": "heping"},
    ),
    ("age-below-the-scope", HEPING, [f("age", "<", 70)], {}, {}, "age < 70", {}),
    (
        "age-between-everything",
        HEPING,
        [f("age", "between", [0, 200])],
        {},
        {},
        "age BETWEEN 0 AND 200",
        {},
    ),
    (
        "param-sql-or",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "heping' OR '1'='1"},
        "community = :v",
        {"v": "heping' OR '1'='1"},
    ),
    (
        "param-sql-drop",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "x'; DROP TABLE residents; --"},
        "community = :v",
        {"v": "x'; DROP TABLE residents; --"},
    ),
    (
        "param-sql-union",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "heping' UNION SELECT resident_id FROM residents --"},
        "community = :v",
        {"v": "heping' UNION SELECT resident_id FROM residents --"},
    ),
    (
        "param-in-all-and-sql",
        HEPING,
        [f("community", "in", {"param": "cs"})],
        string_param("cs", many=True),
        {"cs": [*ALL, "' OR 1=1 --"]},
        "community IN (:c0, :c1, :c2, :c3, :c4)",
        {**IN_ALL_PARAMS, "c4": "' OR 1=1 --"},
    ),
    (
        "param-prefix-sql",
        HEPING,
        [f("community", "prefix", {"param": "p"})],
        string_param("p"),
        {"p": "' OR ''='"},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("' OR ''='")},
    ),
    (
        "param-prefix-wildcard",
        HEPING,
        [f("community", "prefix", {"param": "p"})],
        string_param("p"),
        {"p": "%"},
        "community LIKE :p ESCAPE '!'",
        {"p": like_prefix("%")},
    ),
    (
        "param-trailing-space",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "guangming "},
        "community = :v",
        {"v": "guangming "},
    ),
    (
        "param-upper-case",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "HEPING"},
        "community = :v",
        {"v": "HEPING"},
    ),
    (
        "param-homoglyph",
        HEPING,
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "h\u0435ping"},
        "community = :v",
        {"v": "h\u0435ping"},
    ),
    ("other-app-no-filter", GUANGMING, [], {}, {}, "1 = 1", {}),
    ("other-app-in-all", GUANGMING, [f("community", "in", ALL)], {}, {}, IN_ALL, IN_ALL_PARAMS),
    (
        "other-app-eq-heping",
        GUANGMING,
        [f("community", "=", "heping")],
        {},
        {},
        "community = :v",
        {"v": "heping"},
    ),
]
ROW_COLUMNS = ["resident_id", "age", "gender", "community", "building", "unit", "room"]


@pytest.mark.parametrize(
    ("app", "filters", "declared", "params", "sql", "sql_params"),
    [pytest.param(*c[1:], id=c[0]) for c in ROW_CASES],
)
def test_rows_stay_in_the_app_community(
    scoped: Scoped,
    app: str,
    filters: list[dict[str, Any]],
    declared: dict[str, Any],
    params: dict[str, Any],
    sql: str,
    sql_params: dict[str, Any],
) -> None:
    domain = DOMAIN[app]
    spec = {"select": ROW_COLUMNS, "filters": filters, "params": declared}
    qid = scoped.gw.approved_query(app, scoped.dataset, HOME_VISIT, spec)
    r = scoped.gw.run(app, qid, params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ROW_COLUMNS and not body["truncated"]
    rows = [dict(zip(ROW_COLUMNS, row, strict=True)) for row in body["rows"]]
    assert all(row["community"] == domain for row in rows), {row["community"] for row in rows}
    assert all(row["age"] >= 70 for row in rows)
    truth = scoped.rows(
        "SELECT age, gender, building, unit, room FROM residents "
        f"WHERE community = :dom AND age >= 70 AND ({sql})",
        {"dom": domain, **sql_params},
    )
    released = [(r["age"], r["gender"], r["building"], r["unit"], r["room"]) for r in rows]
    assert Counter(released) == Counter(truth)
    assert body["row_count"] == len(truth)
    assert not any(v in r.text for v in scoped.raw)  # identifiers are pseudonymised


def test_a_wide_filter_matches_other_communities_in_the_source(scoped: Scoped) -> None:
    """The widening filters above do reach other communities' rows when run directly."""
    counts = dict(
        scoped.rows(
            "SELECT community, COUNT(*) FROM residents WHERE age >= 70 GROUP BY community", {}
        )
    )
    assert set(counts) == set(ALL) and all(n > 0 for n in counts.values())


# (id, app, aggregates, group_by, filters, declared, run params, truth fragment, its params)
AGG_CASES: list[
    tuple[
        str,
        str,
        list[dict[str, Any]],
        list[str],
        list[dict[str, Any]],
        dict[str, Any],
        dict[str, Any],
        str,
        dict[str, Any],
    ]
] = [
    ("by-community", HEPING, [], ["community"], [], {}, {}, "1 = 1", {}),
    (
        "by-community-in-all",
        HEPING,
        [],
        ["community"],
        [f("community", "in", ALL)],
        {},
        {},
        IN_ALL,
        IN_ALL_PARAMS,
    ),
    (
        "by-community-ne-own",
        HEPING,
        [],
        ["community"],
        [f("community", "!=", "heping")],
        {},
        {},
        "community <> :v",
        {"v": "heping"},
    ),
    (
        "by-gender-other-community",
        HEPING,
        [],
        ["gender"],
        [f("community", "=", "guangming")],
        {},
        {},
        "community = :v",
        {"v": "guangming"},
    ),
    (
        "total-other-community",
        HEPING,
        [],
        [],
        [f("community", "=", "guangming")],
        {},
        {},
        "community = :v",
        {"v": "guangming"},
    ),
    ("total-in-all", HEPING, [], [], [f("community", "in", ALL)], {}, {}, IN_ALL, IN_ALL_PARAMS),
    (
        "by-gender-prefix-empty",
        HEPING,
        [],
        ["gender"],
        [f("community", "prefix", "")],
        {},
        {},
        "community LIKE :p ESCAPE '!'",
        {"p": "%"},
    ),
    (
        "by-lives-alone-param-sql",
        HEPING,
        [],
        ["lives_alone"],
        [f("community", "=", {"param": "c"})],
        string_param("c"),
        {"c": "heping' OR 1=1 --"},
        "community = :v",
        {"v": "heping' OR 1=1 --"},
    ),
    (
        "by-community-param-in-all",
        HEPING,
        [],
        ["community"],
        [f("community", "in", {"param": "cs"})],
        string_param("cs", many=True),
        {"cs": ALL},
        IN_ALL,
        IN_ALL_PARAMS,
    ),
    (
        "mean-age-by-community",
        HEPING,
        [{"fn": "mean", "column": "age", "as": "mean_age"}],
        ["community"],
        [f("community", "in", ALL)],
        {},
        {},
        IN_ALL,
        IN_ALL_PARAMS,
    ),
    ("other-app-by-community", GUANGMING, [], ["community"], [], {}, {}, "1 = 1", {}),
    (
        "other-app-by-gender-heping",
        GUANGMING,
        [],
        ["gender"],
        [f("community", "=", "heping")],
        {},
        {},
        "community = :v",
        {"v": "heping"},
    ),
]


@pytest.mark.parametrize(
    ("app", "extra", "group_by", "filters", "declared", "params", "sql", "sql_params"),
    [pytest.param(*c[1:], id=c[0]) for c in AGG_CASES],
)
def test_aggregates_only_count_the_app_community(
    scoped: Scoped,
    app: str,
    extra: list[dict[str, Any]],
    group_by: list[str],
    filters: list[dict[str, Any]],
    declared: dict[str, Any],
    params: dict[str, Any],
    sql: str,
    sql_params: dict[str, Any],
) -> None:
    domain = DOMAIN[app]
    spec = {
        "aggregates": [{"fn": "count", "as": "n"}, *extra],
        "group_by": group_by,
        "filters": filters,
        "params": declared,
    }
    qid = scoped.gw.approved_query(app, scoped.dataset, PLANNING, spec)
    r = scoped.gw.run(app, qid, params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == [*group_by, "n", *[a["as"] for a in extra]]
    keys = ", ".join(group_by)
    truth = scoped.rows(
        f"SELECT {keys + ', ' if keys else ''}COUNT(*), COUNT(DISTINCT resident_id), AVG(age) "
        f"FROM residents WHERE community = :dom AND ({sql})"
        + (f" GROUP BY {keys}" if keys else ""),
        {"dom": domain, **sql_params},
    )
    k = len(group_by)
    kept = {t[:k]: t[k:] for t in truth if t[k + 1] >= 10}
    released = {tuple(row[:k]): row[k:] for row in body["rows"]}
    assert set(released) == set(kept)
    for key, (n, *rest) in released.items():
        assert n == kept[key][0]  # this community's count, not a wider one
        if extra:
            assert rest[0] == pytest.approx(float(kept[key][2]))
    # How many groups were withheld is not said: it would tell empty groups from small ones.
    assert "suppressed_groups" not in body
    if "community" in group_by:
        assert {row[group_by.index("community")] for row in body["rows"]} <= {domain}


def _rows_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"select": ["resident_id", "name", "age", "community"]}
    spec.update(changes)
    return spec


def _agg_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["gender"]}
    spec.update(changes)
    return spec


# (id, app, purpose, spec, reason code)
FORBIDDEN: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "filter-masked-name",
        HEPING,
        HOME_VISIT,
        _rows_spec(filters=[f("name", "prefix", "王")]),
        "column_not_filterable",
    ),
    (
        "filter-pseudonymised-id",
        HEPING,
        HOME_VISIT,
        _rows_spec(filters=[f("resident_id", "=", "110105195001011234")]),
        "column_not_filterable",
    ),
    (
        "filter-masked-mobile",
        HEPING,
        HOME_VISIT,
        _rows_spec(filters=[f("mobile", "prefix", "138")]),
        "column_not_filterable",
    ),
    (
        "filter-masked-mobile-by-param",
        GUANGMING,
        HOME_VISIT,
        _rows_spec(filters=[f("mobile", "=", {"param": "m"})], params=string_param("m")),
        "column_not_filterable",
    ),
    (
        "order-by-masked-name",
        HEPING,
        HOME_VISIT,
        _rows_spec(order_by=[{"column": "name"}]),
        "column_not_filterable",
    ),
    (
        "order-by-pseudonymised-id",
        HEPING,
        HOME_VISIT,
        _rows_spec(order_by=[{"column": "resident_id", "desc": True}]),
        "column_not_filterable",
    ),
    (
        "filter-withheld-address",
        HEPING,
        HOME_VISIT,
        _rows_spec(filters=[f("address", "prefix", "北京")]),
        "column_not_filterable",
    ),
    (
        "filter-withheld-birth-date",
        HEPING,
        HOME_VISIT,
        _rows_spec(filters=[f("birth_date", ">=", "1950-01-01")]),
        "column_not_filterable",
    ),
    (
        "select-withheld-subsidy",
        HEPING,
        HOME_VISIT,
        _rows_spec(select=["age", "subsidy_status"]),
        "column_withheld",
    ),
    (
        "rows-under-aggregate-purpose",
        HEPING,
        PLANNING,
        _rows_spec(select=["age", "community"]),
        "aggregate_only",
    ),
    (
        "group-by-withheld-id",
        HEPING,
        PLANNING,
        _agg_spec(group_by=["resident_id"]),
        "column_not_filterable",
    ),
    (
        "group-by-withheld-mobile",
        GUANGMING,
        PLANNING,
        _agg_spec(group_by=["mobile"]),
        "column_not_filterable",
    ),
    (
        "filter-withheld-subsidy",
        HEPING,
        PLANNING,
        _agg_spec(filters=[f("subsidy_status", "=", "低保")]),
        "column_not_filterable",
    ),
    (
        "count-of-withheld-name",
        HEPING,
        PLANNING,
        _agg_spec(aggregates=[{"fn": "count", "column": "name", "as": "n"}]),
        "column_withheld",
    ),
]


@pytest.mark.parametrize(
    ("app", "purpose", "spec", "reason"), [pytest.param(*c[1:], id=c[0]) for c in FORBIDDEN]
)
def test_treated_or_withheld_columns_cannot_steer_a_query(
    scoped: Scoped, app: str, purpose: str, spec: dict[str, Any], reason: str
) -> None:
    before = len(audit_snapshot(scoped.gw))
    with leaves_unchanged(scoped.gw, scoped.url):
        r = scoped.gw.post(
            app,
            "/v1/query-requests",
            {
                "dataset": scoped.dataset,
                "purpose": purpose,
                "justification": "test",
                "spec": spec,
            },
        )
    body = assert_error(r, 403, raw=scoped.raw)
    assert body["reason"] == reason
    zh, sep, en = body["detail"].partition(" / ")
    assert sep and zh and en  # Chinese, then English
    [logged] = audit_snapshot(scoped.gw)[before:]
    entry = json.loads(logged[2])
    assert entry["event"] == "request.denied" and entry["principal"] == app
    assert entry["decision"] == {"allowed": False, "reason_code": reason}
