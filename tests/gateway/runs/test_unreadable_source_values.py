"""Stored values the driver cannot turn into Python values are released as null, and counted.

PostgreSQL keeps dates and timestamps Python's datetime cannot hold (``infinity``, BC
dates, years past 9999, a timestamptz that is year 0 in the session's zone); SQLite keeps
text that is not UTF-8. Either failed the whole run (502, counted against the quota), and
the failure told whether a filtered scope held such a row. Now each is a value not of its
declared type: null in rows, a null group key in exact aggregates, no group in DP.
SQLite's integer sum no longer fails on a 64-bit overflow either, which told of a group
that suppression hides.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import Gateway
from tests.gateway.runs.test_declared_types import DP_POLICY, PLANNING, POLICY, ROWS, register, run

DATES = ("d", "ts", "tz")
# Per person: (date, timestamp, timestamptz) as PostgreSQL reads them (session zone UTC).
STORED: dict[str, tuple[str, str, str]] = {
    "p00": ("infinity", "infinity", "infinity"),
    "p01": ("-infinity", "-infinity", "-infinity"),
    "p02": ("0044-03-15 BC", "0044-03-15 12:00 BC", "0044-03-15 12:00+00 BC"),
    "p03": ("12000-01-01", "12000-01-01 00:00", "12000-01-01 00:00+00"),
    # Year 1 where it was written, year 0 (1 BC) in UTC: only the timestamptz is unreadable.
    "p04": ("2020-02-02", "2020-02-02 10:00", "0001-01-01 00:00:00+05"),
    **{
        f"p{n:02d}": ("2020-02-02", "2020-02-02 10:00", "2020-02-02 10:00+00")
        for n in (5, 6, 10, 11, 12)
    },
    **{
        f"p{n:02d}": ("2021-03-03", "2021-03-03 11:00", "2021-03-03 11:00+00")
        for n in (7, 8, 13, 14, 15)
    },
    "p09": ("infinity", "infinity", "infinity"),  # with p00: a group of two persons
}
UNREADABLE = {"p00": 3, "p01": 3, "p02": 3, "p03": 3, "p04": 1, "p09": 3}


def pg_source(pg_url: str) -> str:
    url = make_url(pg_url)
    options = f"{url.query.get('options', '')} -ctimezone=UTC".strip()
    source = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    engine = sa.create_engine(source, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE people (person TEXT PRIMARY KEY, community TEXT, tag TEXT,"
            " grp INTEGER, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ)"
        )
        for person, (d, ts, tz) in STORED.items():
            conn.execute(
                sa.text(
                    "INSERT INTO people VALUES (:p, 'heping', :tag, 1, CAST(:d AS DATE),"
                    " CAST(:ts AS TIMESTAMP), CAST(:tz AS TIMESTAMPTZ))"
                ),
                {"p": person, "tag": "t" + person[1:], "d": d, "ts": ts, "tz": tz},
            )
    engine.dispose()
    return source


def keep_policy(policy: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    policy = copy.deepcopy(policy)
    for purpose in policy["purposes"]:
        purpose["columns"] = {c: {"treatment": "keep"} for c in columns}
    return policy


PG_TYPES = {"community": "string", "tag": "string", "grp": "integer"} | dict.fromkeys(DATES, "date")


@pytest.mark.postgres
def test_postgresql_dates_python_cannot_hold_are_released_as_null(
    gateway: Gateway, pg_url: str
) -> None:
    columns = tuple(PG_TYPES)
    dataset = register(gateway, pg_source(pg_url), keep_policy(POLICY, columns), PG_TYPES)
    body = run(gateway, dataset, ROWS, {"select": ["tag", *DATES], "limit": 100})
    rows = {row[0]: row[1:] for row in body["rows"]}
    assert len(rows) == len(STORED)
    assert body["withheld_values"] == sum(UNREADABLE.values())
    for leak in ("infinity", "BC", "12000"):
        assert leak not in json.dumps(body["rows"])
    assert rows["t00"] == rows["t02"] == rows["t03"] == [None, None, None]
    assert rows["t04"] == ["2020-02-02", "2020-02-02T10:00:00", None]
    assert rows["t07"] == ["2021-03-03", "2021-03-03T11:00:00", "2021-03-03T11:00:00+00:00"]
    # A scope holding only such a row answers like any other: no error tells of it.
    for tag in ("t00", "t04"):
        spec = {"select": ["tag", "tz"], "filters": [{"column": "tag", "op": "=", "value": tag}]}
        one = run(gateway, dataset, ROWS, spec)
        assert one["rows"] == [[tag, None]] and one["withheld_values"] == 1
    # Exact aggregates: infinity (p00, p09) is released under null; the single BC,
    # -infinity and year-12000 keys are suppressed, so only the released key counts.
    spec = {"aggregates": [{"fn": "persons", "as": "n"}], "group_by": ["d"]}
    groups = run(gateway, dataset, PLANNING, spec)
    assert sorted(groups["rows"], key=json.dumps) == sorted(
        [[None, 2], ["2020-02-02", 6], ["2021-03-03", 5]], key=json.dumps
    )
    assert groups["withheld_values"] == 1
    spec = {"aggregates": [{"fn": "persons", "as": "n"}], "group_by": ["tz"]}
    assert run(gateway, dataset, PLANNING, spec)["rows"]  # 200, whatever survives


@pytest.mark.postgres
def test_postgresql_dp_groups_on_unreadable_dates_are_not_released(
    gateway: Gateway, pg_url: str
) -> None:
    policy = keep_policy(DP_POLICY, tuple(PG_TYPES))
    dp = policy["purposes"][0]["dp"]
    dp.pop("group_keys")
    dp.pop("bounds")
    dp["delta"] = 1e-6
    dp["epsilon_lifetime"] = dp["epsilon_dataset"] = 100.0  # three runs of ε = 10
    dataset = register(gateway, pg_source(pg_url), policy, PG_TYPES)
    for key in DATES:
        spec = {"aggregates": [{"fn": "count", "as": "n"}], "group_by": [key]}
        body = run(gateway, dataset, PLANNING, spec)
        assert body["dp"] is not None and body["withheld_values"] == 0
        # Only real dates are keys (the infinity group of two persons is never released).
        assert sorted(str(row[0])[:4] for row in body["rows"]) == ["2020", "2021"], key


def sqlite_source(tmp_path: Path, rows: list[tuple[Any, ...]]) -> str:
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE people (person TEXT PRIMARY KEY, community TEXT, tag TEXT,"
            " grp INTEGER, note TEXT, visits INTEGER, income REAL)"
        )
        conn.executemany("INSERT INTO people VALUES (?, 'heping', ?, ?, ?, ?, ?)", rows)
        # Bytes that are no UTF-8, stored as TEXT (SQLite checks nothing).
        conn.execute("UPDATE people SET note = CAST(X'41FF42' AS TEXT) WHERE person = 'p00'")
    conn.close()
    return f"sqlite:///{db}"


SQLITE_TYPES = {
    "community": "string",
    "tag": "string",
    "grp": "integer",
    "note": "string",
    "visits": "integer",
    "income": "number",
}


def test_sqlite_text_that_is_not_utf8_is_released_as_null(gateway: Gateway, tmp_path: Path) -> None:
    people = [(f"p{n:02d}", f"t{n:02d}", 1, "same" if n else "", n, 1.5) for n in range(6)]
    url = sqlite_source(tmp_path, people)
    dataset = register(gateway, url, keep_policy(POLICY, tuple(SQLITE_TYPES)), SQLITE_TYPES)
    body = run(gateway, dataset, ROWS, {"select": ["tag", "note"], "limit": 100})
    assert dict(body["rows"]) == {"t00": None, **{f"t{n:02d}": "same" for n in range(1, 6)}}
    assert body["withheld_values"] == 1
    one = run(
        gateway,
        dataset,
        ROWS,
        {"select": ["note"], "filters": [{"column": "tag", "op": "=", "value": "t00"}]},
    )
    assert one["rows"] == [[None]] and one["withheld_values"] == 1
    # UTF-8 text on the same (pooled) connection reads as before.
    clean = run(
        gateway,
        dataset,
        ROWS,
        {"select": ["note"], "filters": [{"column": "tag", "op": "=", "value": "t01"}]},
    )
    assert clean["rows"] == [["same"]] and clean["withheld_values"] == 0
    spec = {"aggregates": [{"fn": "persons", "as": "n"}], "group_by": ["note"]}
    groups = run(gateway, dataset, PLANNING, spec)
    # The undecodable key (one person) is suppressed (and so is the other group: no
    # hidden group may be recomputed from the total); the run answers all the same.
    assert all(row[0] == "same" for row in groups["rows"]) and groups["withheld_values"] == 0


BIG = 2**62


def test_sqlite_integer_sums_past_64_bits_do_not_fail_the_run(
    gateway: Gateway, tmp_path: Path
) -> None:
    # Group 1: four persons, a sum past 2**63 (released, approximately); group 2: two
    # persons past 2**63 (suppressed under k = 3); group 3: an exact sum in range; group 4,
    # the fewest persons above k, is hidden with group 2 (secondary suppression).
    people = [
        *((f"p{n:02d}", f"t{n:02d}", 1, "a", BIG, 0.5) for n in range(4)),
        *((f"p{n:02d}", f"t{n:02d}", 2, "b", BIG, 0.5) for n in range(4, 6)),
        *((f"p{n:02d}", f"t{n:02d}", 3, "c", v, 2.0) for n, v in zip(range(6, 10), (-5, 7, 9, 11))),
        ("p10", "t10", 3, "c", -(2**63), None),
        *((f"p{n:02d}", f"t{n:02d}", 4, "d", 1, 1.0) for n in range(11, 14)),
    ]
    policy = keep_policy(POLICY, tuple(SQLITE_TYPES))
    policy["purposes"][1]["min_group_size"] = 3
    dataset = register(gateway, sqlite_source(tmp_path, people), policy, SQLITE_TYPES)
    spec = {
        "aggregates": [
            {"fn": "persons", "as": "n"},
            {"fn": "sum", "column": "visits", "as": "visits"},
            {"fn": "sum", "column": "income", "as": "income"},
        ],
        "group_by": ["grp"],
    }
    body = run(gateway, dataset, PLANNING, spec)
    groups = {row[0]: row[1:] for row in body["rows"]}
    assert set(groups) == {1, 3}
    assert groups[1][0] == 4 and groups[1][1] == pytest.approx(4 * BIG) and groups[1][2] == 2.0
    assert groups[3] == [5, -5 + 7 + 9 + 11 - 2**63, 8.0]
    assert isinstance(groups[3][1], int)
