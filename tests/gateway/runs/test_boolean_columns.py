"""A column declared boolean is released as true/false whichever database holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Gateway

FLAGS = sa.Table(
    "flags",
    sa.MetaData(),
    sa.Column("person", sa.String(32), primary_key=True),
    sa.Column("community", sa.String(16)),
    sa.Column("alone", sa.Boolean),
)
PURPOSE = "public-service.elderly-care.home-visit"
POLICY: dict[str, Any] = {
    "purposes": [
        {
            "purpose": PURPOSE,
            "legal_basis": "public_task",
            "grantees": [{"role": "neighbourhood-committee"}],
            "access": "rows",
            "approval": "automatic",
            "columns": {"community": {"treatment": "keep"}, "alone": {"treatment": "keep"}},
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
        },
    ]
}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_booleans_are_true_and_false_on_every_source(
    kind: str, gateway: Gateway, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'flags.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        FLAGS.create(conn)
        conn.execute(
            FLAGS.insert(),
            [{"person": f"p{n}", "community": "heping", "alone": n % 2 == 0} for n in range(6)],
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
            {"name": "alone", "type": "boolean", "classification": "attribute"},
        ],
        "policy": POLICY,
    }
    created = gateway.post("civil-affairs", "/v1/datasets", dataset)
    assert created.status_code == 201, created.text
    qid = gateway.approved_query(
        "heping-committee",
        str(created.json()["id"]),
        PURPOSE,
        {"select": ["alone"], "filters": [{"column": "alone", "op": "=", "value": True}]},
    )
    body = gateway.run("heping-committee", qid).json()
    assert body["rows"] == [[True]] * 3
