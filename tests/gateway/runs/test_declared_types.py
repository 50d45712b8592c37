"""A stored value not of its column's declared type is released as null, and counted.

SQLite keeps any value in any column (type affinity): 'yes' in an INTEGER column, a name
in a REAL one, 2 in a BOOLEAN. The gateway holds every released value to the dataset's
declared type, and sums and DP aggregates read numbers only.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from audit.digest import result_digest
from tests.conftest import Gateway

HEPING = "heping-committee"
ROWS = "public-service.elderly-care.home-visit"
PLANNING = "public-service.community-planning"
COLUMNS = ("tag", "alone", "visits", "income", "born", "note")
KEEP = {c: {"treatment": "keep"} for c in (*COLUMNS, "grp", "community")}
POLICY: dict[str, Any] = {
    "purposes": [
        {
            "purpose": ROWS,
            "legal_basis": "public_task",
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "rows",
            "approval": "automatic",
            "columns": KEEP,
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
        },
        {
            "purpose": PLANNING,
            "legal_basis": "public_task",
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "aggregate",
            "approval": "automatic",
            "columns": KEEP,
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            "min_group_size": 2,
        },
    ]
}
DP_POLICY: dict[str, Any] = {
    "purposes": [
        {
            "purpose": PLANNING,
            "legal_basis": "statistics",
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "aggregate",
            "approval": "automatic",
            "columns": KEEP,
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            "min_group_size": 2,
            "dp": {
                "epsilon_per_run": 10.0,
                "epsilon_per_window": 100.0,
                "contribution_limit": 1,
                "bounds": {"visits": {"lower": 0, "upper": 10}},
                "group_keys": {"grp": [1, 2]},
            },
        }
    ]
}
DDL = (
    "CREATE TABLE people (person TEXT PRIMARY KEY, community TEXT, tag TEXT, grp INTEGER,"
    " alone BOOLEAN, visits INTEGER, income REAL, born DATE, note TEXT)"
)
# Stored values that are not of the declared type, by person (SQLite keeps them as given,
# except what its affinity converts: '1' into a BOOLEAN or INTEGER column becomes 1).
ODD: dict[str, dict[str, Any]] = {
    "p00": {
        "alone": 2,
        "visits": "yes",
        "income": "Zhang San",
        "born": "not a date",
        "note": b"\x00\x01",
    },
    "p01": {"alone": -1, "visits": 3.5, "income": "NaN", "born": 20240101},
    "p02": {"alone": "yes", "income": 9e999, "born": "2024-13-45"},  # 9e999: infinity
    "p03": {"alone": "1", "visits": -(2**63), "born": "2024-01-02 10:00:00"},
    "p04": {"alone": None, "visits": None, "income": None, "born": None, "note": None},
    "p05": {"visits": "seven", "note": 12},  # a TEXT column makes 12 the text '12'
    "p06": {"alone": 2, "visits": "1e3"},  # '1e3' into INTEGER: SQLite stores 1000
    "p07": {"alone": 2, "visits": "99999999999999999999999"},  # kept as a REAL, 1e23
}
WITHHELD_IN_ROWS = 5 + 4 + 2 + 0 + 0 + 1 + 1 + 2  # p00 … p07 (p02's infinity is null, as before)
LEAKS = ("Zhang San", "yes", "not a date", "2024-13-45", "20240101", "seven")


def person(n: int) -> dict[str, Any]:
    base = {
        "person": f"p{n:02d}",
        "community": "heping",
        "tag": f"t{n:02d}",
        "grp": 1 + n % 2,
        "alone": n % 2,
        "visits": n % 5,
        "income": 1.5 + n,
        "born": f"1950-01-{n + 1:02d}",
        "note": "ok",
    }
    return {**base, **ODD.get(str(base["person"]), {})}


PEOPLE = [person(n) for n in range(20)]


def make_source(tmp_path: Path) -> str:
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as conn:
        conn.execute(DDL)
        names = list(PEOPLE[0])
        conn.executemany(
            f"INSERT INTO people ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [[p[n] for n in names] for p in PEOPLE],
        )
    conn.close()
    return f"sqlite:///{db}"


DECLARED = {
    "tag": "string",
    "grp": "integer",
    "alone": "boolean",
    "visits": "integer",
    "income": "number",
    "born": "date",
    "note": "string",
    "community": "string",
}


def register(
    gateway: Gateway, url: str, policy: dict[str, Any], declared: dict[str, str] = DECLARED
) -> str:
    """Table ``people`` at ``url`` as civil-affairs' dataset: ``person`` the privacy unit,
    the other columns attributes of the ``declared`` types."""
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "people-db", "url": url}).status_code
        == 201
    )
    dataset = {
        "name": "people",
        "source": "people-db",
        "table": "people",
        "privacy_unit": "person",
        "columns": [
            {"name": "person", "type": "string", "classification": "direct_identifier"},
            *({"name": n, "type": t, "classification": "attribute"} for n, t in declared.items()),
        ],
        "policy": policy,
    }
    created = gateway.post("civil-affairs", "/v1/datasets", dataset)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def run(gateway: Gateway, dataset: str, purpose: str, spec: dict[str, Any]) -> dict[str, Any]:
    qid = gateway.approved_query(HEPING, dataset, purpose, spec)
    r = gateway.run(HEPING, qid)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    entry = json.loads(body["receipt"]["entry"])
    assert entry.get("withheld_values", 0) == body["withheld_values"]  # a DP entry: none
    assert entry["result_digest"] == result_digest(body["columns"], body["rows"])
    return body


def test_rows_release_null_for_values_not_of_the_declared_type(
    gateway: Gateway, tmp_path: Path
) -> None:
    dataset = register(gateway, make_source(tmp_path), POLICY)
    body = run(gateway, dataset, ROWS, {"select": list(COLUMNS), "limit": 100})
    rows = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in body["rows"]}
    assert len(rows) == 20
    assert body["withheld_values"] == WITHHELD_IN_ROWS
    for leak in LEAKS:
        assert leak not in json.dumps(body["rows"]), leak
    assert rows["t00"] == {
        "tag": "t00",
        "alone": None,
        "visits": None,
        "income": None,
        "born": None,
        "note": None,
    }
    assert (rows["t01"]["alone"], rows["t01"]["visits"], rows["t01"]["income"]) == (None,) * 3
    assert rows["t01"]["born"] is None and rows["t02"]["born"] is None
    assert rows["t02"]["alone"] is None and rows["t02"]["income"] is None
    # What conforms is released: '1' stored as 1 in a BOOLEAN, the least 64-bit integer,
    # an ISO date-time kept in a DATE column, text a TEXT column made of a number.
    assert rows["t03"]["alone"] is True and rows["t03"]["visits"] == -(2**63)
    assert rows["t03"]["born"] == "2024-01-02 10:00:00"
    assert rows["t05"]["note"] == "12" and rows["t05"]["visits"] is None
    assert rows["t06"]["visits"] == 1000 and rows["t06"]["alone"] is None
    assert rows["t07"]["visits"] is None  # beyond 64 bits: no integer of the column
    assert rows["t04"] == {"tag": "t04", **dict.fromkeys(COLUMNS[1:])}
    assert rows["t08"] == {
        "tag": "t08",
        "alone": False,
        "visits": 3,
        "income": 9.5,
        "born": "1950-01-09",
        "note": "ok",
    }


def test_aggregates_group_non_conforming_keys_as_null_and_sum_numbers_only(
    gateway: Gateway, tmp_path: Path
) -> None:
    dataset = register(gateway, make_source(tmp_path), POLICY)
    spec = {
        "aggregates": [
            {"fn": "persons", "as": "n"},
            {"fn": "sum", "column": "visits", "as": "visits"},
        ],
        "group_by": ["alone"],
    }
    body = run(gateway, dataset, PLANNING, spec)
    groups = {json.dumps(row[0]): row[1:] for row in body["rows"]}
    assert "yes" not in json.dumps(body["rows"])
    # alone = 2 (three persons: p00, p06, p07) is released under null; -1, 'yes' and NULL
    # hold one person each and are suppressed, so only the released key is counted.
    # p00's 'yes' and p07's 1e23 (no 64-bit integer) add nothing; p06's '1e3' is 1000.
    assert groups["null"] == [3, 1000]
    assert body["withheld_values"] == 1
    # True: p03 (least 64-bit integer), odd n but p01 (-1); p05's 'seven' adds nothing.
    true_visits = [p["visits"] for p in PEOPLE if p["alone"] in (1, "1")]
    assert groups["true"][1] == sum(v for v in true_visits if type(v) is int)
    assert groups["false"][1] == sum(
        p["visits"] for p in PEOPLE if p["alone"] == 0 and type(p["visits"]) is int
    )


TEXT_VISITS = (8, 10, 12, 14, 16, 18)  # six persons of group 1


def test_dp_sums_leave_out_values_that_are_not_numbers(gateway: Gateway, tmp_path: Path) -> None:
    # Six persons of group 1 hold text in visits. Read as a clamp reads text in SQLite
    # (above any number: the upper bound, 10) they would add 60 to the group's sum; left
    # out like NULLs, the sum is that of the numbers alone. The noise's scale here is 2
    # (L·M/ε of the sum = 1·10/5): a gap of 30 is 15 scales, odds about 3e-7.
    for n in TEXT_VISITS:
        PEOPLE[n] = {**PEOPLE[n], "visits": "many"}
    try:
        url = make_source(tmp_path)
        stored = list(PEOPLE)
    finally:
        for n in TEXT_VISITS:
            PEOPLE[n] = person(n)
    dataset = register(gateway, url, DP_POLICY)
    spec = {"aggregates": [{"fn": "sum", "column": "visits", "as": "visits"}], "group_by": ["grp"]}
    body = run(gateway, dataset, PLANNING, spec)
    assert body["dp"] is not None and body["withheld_values"] == 0
    released = {row[0]: row[1] for row in body["rows"]}
    for grp in (1, 2):
        members = [p for p in stored if p["grp"] == grp]
        # Integers only: p01's 3.5 is no value of an integer column either.
        values = [1000 if p["visits"] == "1e3" else p["visits"] for p in members]  # as stored
        visits = sum(min(max(v, 0), 10) for v in values if type(v) is int)
        assert abs(released[grp] - visits) < 30, (grp, released[grp], visits)


FLAGS = sa.Table(
    "flags",
    sa.MetaData(),
    sa.Column("person", sa.String(32), primary_key=True),
    sa.Column("community", sa.String(16)),
    sa.Column("tag", sa.String(8)),
    sa.Column("alone", sa.SmallInteger),  # declared boolean: registration accepts integers
    sa.Column("score", sa.Float),
)


def flags_policy() -> dict[str, Any]:
    keep = {c: {"treatment": "keep"} for c in ("tag", "alone", "score", "community")}
    purposes = [{**p, "columns": keep} for p in POLICY["purposes"]]
    return {"purposes": purposes}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_an_integer_column_declared_boolean_releases_only_0_and_1_as_booleans(
    kind: str, gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url" if kind == "postgresql" else "mariadb_url")
    alone = [0, 1, 2, -1, None, 0, 1, 2, 1, 0, 2, 1]
    # PostgreSQL keeps NaN in a float column; a sum reads numbers only, so NaN adds nothing.
    scores = [float("nan") if kind == "postgresql" and n == 1 else 1.5 * n for n in range(12)]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        FLAGS.create(conn)
        conn.execute(
            FLAGS.insert(),
            [
                {
                    "person": f"p{n:02d}",
                    "community": "heping",
                    "tag": f"t{n:02d}",
                    "alone": alone[n],
                    "score": scores[n],
                }
                for n in range(12)
            ],
        )
    engine.dispose()
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "flags-db", "url": url}).status_code
        == 201
    )
    dataset = {
        "name": "flags",
        "source": "flags-db",
        "table": "flags",
        "privacy_unit": "person",
        "columns": [
            {"name": "person", "type": "string", "classification": "direct_identifier"},
            {"name": "community", "type": "string", "classification": "attribute"},
            {"name": "tag", "type": "string", "classification": "attribute"},
            {"name": "alone", "type": "boolean", "classification": "attribute"},
            {"name": "score", "type": "number", "classification": "attribute"},
        ],
        "policy": flags_policy(),
    }
    created = gateway.post("civil-affairs", "/v1/datasets", dataset)
    assert created.status_code == 201, created.text
    body = run(gateway, str(created.json()["id"]), ROWS, {"select": ["tag", "alone"], "limit": 100})
    released = dict(body["rows"])
    assert released == {
        f"t{n:02d}": (None if a is None or a not in (0, 1) else bool(a))
        for n, a in enumerate(alone)
    }
    assert body["withheld_values"] == 4  # three 2s and one -1; the NULL is no withheld value
    spec = {
        "aggregates": [{"fn": "persons", "as": "n"}, {"fn": "sum", "column": "score", "as": "s"}],
        "group_by": ["alone"],
    }
    groups = run(gateway, str(created.json()["id"]), PLANNING, spec)
    by_key = {json.dumps(row[0]): row[1:] for row in groups["rows"]}
    # 2 (three persons) is released under null; -1 and NULL (one each) are suppressed.
    assert by_key["null"][0] == 3 and groups["withheld_values"] == 1
    ones = [s for a, s in zip(alone, scores, strict=True) if a == 1 and s == s]
    assert by_key["true"] == [4, sum(ones)]


def test_dp_groups_whose_key_is_not_of_the_declared_type_are_not_released(
    gateway: Gateway, tmp_path: Path
) -> None:
    # Grouping by undeclared keys (δ > 0): the groups come from the data. 2, -1 and 'yes'
    # in the BOOLEAN column are no booleans; SQLAlchemy's Boolean type would have read each
    # as true, releasing "true" several times, each with its own noise on its own rows.
    policy = copy.deepcopy(DP_POLICY)
    dp = policy["purposes"][0]["dp"]
    dp.pop("group_keys")
    dp["delta"] = 1e-6
    dataset = register(gateway, make_source(tmp_path), policy)
    spec = {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["alone"]}
    body = run(gateway, dataset, PLANNING, spec)
    assert body["dp"] is not None
    released = {row[0]: row[1] for row in body["rows"]}
    assert len(body["rows"]) == len(released) == 2  # the NULL group (one person) is below τ
    # Noise of scale 0.1 (L/ε = 1/10) on the counts: eight persons hold 1 ('1' is stored
    # as 1), six hold 0.
    assert abs(released[True] - 8) < 1 and abs(released[False] - 6) < 1
