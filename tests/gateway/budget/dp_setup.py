"""A small source table and a DP usage policy, shared by the DP tests and the race worker."""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

POLICY: dict[str, Any] = {
    "purposes": [
        {
            "purpose": "public-service.statistics",
            "legal_basis": "statistics",
            "sensitive": True,
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "aggregate",
            "columns": {
                "grp": {"treatment": "keep"},
                "value": {"treatment": "keep"},
                "age": {"treatment": "keep"},
                "community": {"treatment": "keep"},
            },
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            "min_group_size": 10,
            "dp": {
                "epsilon_per_run": 1.0,
                "epsilon_per_window": 100.0,
                "contribution_limit": 3,
                "bounds": {"value": {"lower": 0, "upper": 100}},
                "group_keys": {"grp": [1, 2, 3]},
            },
        }
    ]
}

DATASET: dict[str, Any] = {
    "name": "visits",
    "source": "visits-db",
    "table": "visits",
    "privacy_unit": "person",
    "columns": [
        {"name": "person", "type": "string", "classification": "direct_identifier"},
        {"name": "community", "type": "string", "classification": "attribute"},
        {"name": "age", "type": "integer", "classification": "quasi_identifier"},
        {"name": "grp", "type": "integer", "classification": "attribute"},
        {"name": "value", "type": "integer", "classification": "sensitive"},
    ],
    "policy": POLICY,
}

VISITS = sa.Table(
    "visits",
    sa.MetaData(),
    sa.Column("person", sa.String(32)),
    sa.Column("community", sa.String(16)),
    sa.Column("age", sa.Integer),
    sa.Column("grp", sa.Integer),
    sa.Column("value", sa.Integer),
)


def rows(people: int = 300, seed: int = 5) -> list[dict[str, Any]]:
    """Most people have 1-4 rows; one has 50 rows; some values fall far outside the bounds."""
    rng = random.Random(seed)
    out = []
    for n in range(people):
        for _ in range(rng.randint(1, 4)):
            out.append(
                {
                    "person": f"p{n:04d}",
                    "community": "heping",
                    "age": 60 + n % 40,
                    "grp": rng.randint(1, 3),
                    "value": rng.randint(-20, 130),
                }
            )
    out += [
        {"person": "heavy", "community": "heping", "age": 70, "grp": g % 3 + 1, "value": 10_000}
        for g in range(50)
    ]
    out += [{"person": "elsewhere", "community": "guangming", "age": 70, "grp": 1, "value": 5}]
    return out


def write(url: str, data: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        VISITS.drop(conn, checkfirst=True)
        VISITS.create(conn)
        conn.execute(VISITS.insert(), data)
    engine.dispose()
