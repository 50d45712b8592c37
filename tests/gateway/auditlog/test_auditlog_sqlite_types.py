"""Tampering that only SQLite's storage allows: any value in any column.

An integer column there keeps 56.25, '5x' or a blob, and a TEXT column keeps bytes that
are not UTF-8. Verification must locate each such edit, never read a value as the integer
or text it resembles, and never fail with an error of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.community import Community
from tests.gateway.auditlog.logged_gateway import APP, logged_gateway
from tests.gateway.auditlog.test_auditlog_tamper import tamper

ENTRIES = 12


@pytest.fixture(params=["sqlite"])
def log(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[tuple[dict[str, str], sa.Engine]]:
    logged = logged_gateway(request, tmp_path, small_community)
    for _ in range(ENTRIES):
        assert logged.gw.run(APP, logged.query).status_code == 200
    logged.gw.client.close()
    logged.gw.ctx.close()
    engine = logged.engine()
    yield logged.env, engine
    engine.dispose()


def verify(env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def run_index(engine: sa.Engine) -> int:
    """The index of a run entry that has resident index rows."""
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT min(entry_index) FROM audit_subjects")).scalar_one()
        )


CASES: list[tuple[str, str]] = [
    # A resident's index row moved off its entry (their history would lose the access).
    (
        "subject-moved",
        "UPDATE audit_subjects SET entry_index = entry_index + 0.25"
        " WHERE rowid = (SELECT min(rowid) FROM audit_subjects)",
    ),
    (
        "subject-added-between",
        "INSERT INTO audit_subjects (subject_ref, entry_index)"
        " SELECT subject_ref, entry_index + 0.5 FROM audit_subjects LIMIT 1",
    ),
    ("node-moved", "UPDATE audit_nodes SET idx = idx + 0.5 WHERE level = 1 AND idx = 1"),
    (
        "node-added-between",
        "INSERT INTO audit_nodes (level, idx, hash) VALUES (0, 3.5, zeroblob(32))",
    ),
    (
        "entry-not-utf8",
        "UPDATE audit_entries SET entry = CAST(entry AS BLOB) || x'ff' WHERE \"index\" = 3",
    ),
    (
        "mac-not-utf8",
        "UPDATE audit_entries SET mac = CAST(mac AS BLOB) || x'ff' WHERE \"index\" = 3",
    ),
    (
        "principal-not-utf8",
        "UPDATE audit_entries SET principal = CAST(principal AS BLOB) || x'ff' WHERE \"index\" = 3",
    ),
    (
        "row-count-blob",
        "UPDATE audit_entries SET row_count = CAST(CAST(row_count AS TEXT) AS BLOB)"
        ' WHERE "index" = :run',
    ),
    (
        "checkpoint-size-text",
        "UPDATE audit_checkpoints SET size = size || 'x'"
        " WHERE size = (SELECT min(size) FROM audit_checkpoints)",
    ),
    (
        "checkpoint-size-real",
        "UPDATE audit_checkpoints SET size = size + 0.0000001"
        " WHERE size = (SELECT min(size) FROM audit_checkpoints)",
    ),
    ("sequencer-size-real", "UPDATE audit_sequencer SET size = size + 0.5"),
    (
        "subject-ref-not-utf8",
        "UPDATE audit_subjects SET subject_ref = CAST(subject_ref AS BLOB) || x'ff'"
        " WHERE rowid = 1",
    ),
]


@pytest.mark.parametrize(("label", "statement"), CASES, ids=[c[0] for c in CASES])
def test_a_value_sqlite_keeps_in_a_column_of_another_type_is_found(
    log: tuple[dict[str, str], sa.Engine], label: str, statement: str
) -> None:
    env, engine = log
    assert verify(env)["intact"]
    tamper(engine, statement, run=run_index(engine))
    out = verify(env)
    assert not out["intact"], (label, out)
