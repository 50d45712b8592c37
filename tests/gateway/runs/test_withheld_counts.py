"""``withheld_values`` counts only cells whose release would have told something of the value.

A cell under a constant treatment (redact, nullify) is released the same whatever was
stored, so it is not held to its type and never counted: otherwise the count would tell,
column by column, whether a value the app cannot see is of its type. Under k-anonymity a
withheld quasi-identifier is a class value of its own: released (as null, and counted)
only where k persons share it; one k-anonymity hides is a suppressed cell like any other.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import Gateway
from tests.gateway.runs.test_declared_types import (
    COLUMNS,
    ODD,
    POLICY,
    ROWS,
    make_source,
    register,
    run,
)


def constant_policy() -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    columns = policy["purposes"][0]["columns"]
    columns["alone"] = {"treatment": "redact"}
    columns["visits"] = {"treatment": "nullify"}
    columns["income"] = {"treatment": "redact", "params": {"constant": "hidden"}}
    return policy


def test_constant_treatments_are_not_held_to_their_type_nor_counted(
    gateway: Gateway, tmp_path: Path
) -> None:
    dataset = register(gateway, make_source(tmp_path), constant_policy())
    body = run(gateway, dataset, ROWS, {"select": list(COLUMNS), "limit": 100})
    assert len(body["rows"]) == 20
    for row in body["rows"]:
        assert (row[1], row[2], row[3]) == ("[REDACTED]", None, "hidden")
    # Only the kept columns count: born (p00, p01, p02) and note (p00's bytes).
    assert body["withheld_values"] == 4
    # Every redacted column holds values not of its type (see ODD): none of them counts.
    assert all(ODD[p].get("alone") not in (0, 1) for p in ("p00", "p01", "p02"))
    # One identified person: p00 holds a non-conforming value in every redacted column,
    # p08 in none; the answers, their counts and the access log entries are the same.
    answers = []
    for tag in ("t00", "t08"):
        spec = {
            "select": ["tag", "alone", "visits", "income"],
            "filters": [{"column": "tag", "op": "=", "value": tag}],
        }
        one = run(gateway, dataset, ROWS, spec)
        entry = json.loads(one["receipt"]["entry"])
        answers.append((one["rows"][0][1:], one["withheld_values"], entry["withheld_values"]))
    assert answers[0] == answers[1] == (["[REDACTED]", None, "hidden"], 0, 0)


K_POLICY: dict[str, Any] = {
    "purposes": [
        {
            "purpose": ROWS,
            "legal_basis": "public_task",
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "rows",
            "approval": "automatic",
            "columns": {c: {"treatment": "keep"} for c in ("tag", "born", "community")},
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            "k_anonymity": 2,
        }
    ]
}
# born is the quasi-identifier: 'x', 'y' and 'z' are no dates.
BORN = {
    "p00": "x",
    "p01": "y",
    "p02": "1950-01-01",
    "p03": "1950-01-01",
    "p04": "1960-05-05",
    "p05": None,
    "p06": "1970-07-07",
    "p07": "1970-07-07",
}


def k_source(tmp_path: Path, born: dict[str, Any]) -> str:
    db = tmp_path / "k.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE people (person TEXT PRIMARY KEY, community TEXT, tag TEXT, born DATE)"
        )
        conn.executemany(
            "INSERT INTO people VALUES (?, 'heping', ?, ?)",
            [(p, "t" + p[1:], b) for p, b in born.items()],
        )
    conn.close()
    return f"sqlite:///{db}"


def k_register(gateway: Gateway, url: str) -> str:
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "k-db", "url": url}).status_code
        == 201
    )
    dataset = {
        "name": "people",
        "source": "k-db",
        "table": "people",
        "privacy_unit": "person",
        "columns": [
            {"name": "person", "type": "string", "classification": "direct_identifier"},
            {"name": "community", "type": "string", "classification": "attribute"},
            {"name": "tag", "type": "string", "classification": "attribute"},
            {"name": "born", "type": "date", "classification": "quasi_identifier"},
        ],
        "policy": K_POLICY,
    }
    created = gateway.post("civil-affairs", "/v1/datasets", dataset)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def released(gateway: Gateway, dataset: str, without: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"select": ["tag", "born"], "limit": 100}
    if without is not None:
        spec["filters"] = [{"column": "tag", "op": "!=", "value": without}]
    return run(gateway, dataset, ROWS, spec)


def test_k_anonymity_counts_a_withheld_value_only_where_k_persons_share_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    dataset = k_register(gateway, k_source(tmp_path, BORN))
    body = released(gateway, dataset, None)
    born = dict(body["rows"])
    # 'x' and 'y' are one class (two persons): released as null and counted. 1960-05-05 is
    # held by one person: suppressed. The stored NULL is neither.
    assert born["t00"] is None and born["t01"] is None and born["t05"] is None
    assert born["t04"] is None and born["t02"] == "1950-01-01"
    assert (body["withheld_values"], body["suppressed_cells"]) == (2, 1)
    # Without p01, p00's 'x' is alone: k-anonymity hides it as it hides a lone date, and
    # the answer is the one p00 would get with a real date held by no one else.
    alone = released(gateway, dataset, "t01")
    assert (alone["withheld_values"], alone["suppressed_cells"]) == (0, 2)


def test_k_anonymity_answer_is_the_same_for_a_lone_withheld_or_lone_real_value(
    gateway: Gateway, tmp_path: Path
) -> None:
    dataset = k_register(gateway, k_source(tmp_path, {**BORN, "p00": "1980-08-08"}))
    alone = released(gateway, dataset, "t01")
    assert (alone["withheld_values"], alone["suppressed_cells"]) == (0, 2)
    assert dict(alone["rows"])["t00"] is None
