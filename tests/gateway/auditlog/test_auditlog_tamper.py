"""Tampering as a database superuser would (guards bypassed): `cdg audit verify` finds it.

On SQLite the triggers are dropped; on PostgreSQL the session runs with
session_replication_role = replica, which skips them, as an owner could.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from audit import canonical_json, leaf_hash
from gateway.cli.app import cli
from gateway.demo.community import Community
from tests.gateway.auditlog.logged_gateway import APP, STORES, logged_gateway

ENTRIES = 30


@pytest.fixture(params=STORES)
def log(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[tuple[dict[str, str], sa.Engine, list[dict[str, Any]]]]:
    logged = logged_gateway(request, tmp_path, small_community)
    gw = logged.gw
    receipts = []
    while len(receipts) < ENTRIES:
        receipts.append(gw.run(APP, logged.query).json()["receipt"])
    gw.client.close()
    gw.ctx.close()
    engine = logged.engine()
    yield logged.env, engine, receipts
    engine.dispose()


def tamper(engine: sa.Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET session_replication_role = replica"))
        else:
            for name in (
                conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            ):
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
        for statement in statements:
            conn.execute(sa.text(statement), params)


def verify(env: dict[str, str], *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--json", *extra], env=env)
    assert result.exit_code in (0, 1), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    assert out["intact"] == (result.exit_code == 0)
    return out


def row(engine: sa.Engine, index: int) -> dict[str, Any]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text('SELECT entry, leaf_hash FROM audit_entries WHERE "index" = :i'), {"i": index}
        ).one()
    return {"entry": found[0], "leaf_hash": found[1]}


def rehash(entry: str, **changes: Any) -> tuple[str, str]:
    data = {**json.loads(entry), **changes}
    text = canonical_json(data).decode()
    return text, leaf_hash(text.encode()).hex()


Case = Callable[[sa.Engine], None]


def change_field(engine: sa.Engine) -> None:
    tamper(
        engine,
        "UPDATE audit_entries SET entry = replace(entry, 'heping', 'youyi') WHERE \"index\" = 7",
    )


def change_field_and_its_hashes(engine: sa.Engine) -> None:
    text, digest = rehash(row(engine, 7)["entry"], row_count=0)
    tamper(
        engine,
        'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = 7',
        "UPDATE audit_nodes SET hash = :b WHERE level = 0 AND idx = 7",
        e=text,
        h=digest,
        b=bytes.fromhex(digest),
    )


def delete_middle(engine: sa.Engine) -> None:
    tamper(engine, 'DELETE FROM audit_entries WHERE "index" = 7')


def delete_tail(engine: sa.Engine) -> None:
    tamper(
        engine,
        'DELETE FROM audit_entries WHERE "index" >= 7',
        "DELETE FROM audit_nodes WHERE idx >= 7 AND level = 0",
        "UPDATE audit_sequencer SET size = 7",
    )


def swap(engine: sa.Engine) -> None:
    a, b = row(engine, 7), row(engine, 12)
    tamper(
        engine,
        'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = 7',
        e=b["entry"],
        h=b["leaf_hash"],
    )
    tamper(
        engine,
        'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = 12',
        e=a["entry"],
        h=a["leaf_hash"],
    )


def insert_forged(engine: sa.Engine) -> None:
    prev = row(engine, 6)["leaf_hash"]
    text, digest = rehash(row(engine, 7)["entry"], principal="jianshe-property", index=7, prev=prev)
    tamper(
        engine,
        'UPDATE audit_entries SET "index" = "index" + 1000 WHERE "index" >= 7',
        'UPDATE audit_entries SET "index" = "index" - 999 WHERE "index" >= 1000',
        'INSERT INTO audit_entries ("index", recorded_at, entry, leaf_hash, principal, event, '
        "decision) VALUES (7, '2026-01-01 00:00:00', :e, :h, 'jianshe-property', 'query.run', "
        "'allowed')",
        e=text,
        h=digest,
    )


def replace_checkpoint(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        note = conn.execute(
            sa.text("SELECT note FROM audit_checkpoints ORDER BY size LIMIT 1")
        ).scalar_one()
    body, _, signature = note.partition("\n\n")
    lines = body.split("\n")
    lines[2] = "A" * 43 + "="  # another root
    tamper(
        engine,
        "UPDATE audit_checkpoints SET note = :n WHERE size = (SELECT MIN(size) FROM "
        "audit_checkpoints)",
        n="\n".join(lines) + "\n\n" + signature,
    )


CASES: list[tuple[str, Case, str, int]] = [
    ("change a field", change_field, "changed_entry", 7),
    ("change a field and its hashes", change_field_and_its_hashes, "changed_column", 7),
    ("delete a middle entry", delete_middle, "missing_entry", 7),
    ("delete the tail", delete_tail, "truncated_tail", 7),
    ("swap two entries", swap, "reordered_entries", 7),
    ("insert a forged entry", insert_forged, "changed_entry", 7),
]


@pytest.mark.parametrize(("label", "case", "kind", "index"), CASES, ids=[c[0] for c in CASES])
def test_tampering_is_detected_and_located(
    log: tuple[dict[str, str], sa.Engine, list[dict[str, Any]]],
    label: str,
    case: Case,
    kind: str,
    index: int,
) -> None:
    env, engine, _ = log
    assert verify(env)["intact"]
    case(engine)
    out = verify(env)
    assert not out["intact"]
    assert (out["problem"], out["first_bad_index"]) == (kind, index), out


def test_a_replaced_checkpoint_is_detected(
    log: tuple[dict[str, str], sa.Engine, list[dict[str, Any]]],
) -> None:
    env, engine, _ = log
    replace_checkpoint(engine)
    out = verify(env)
    assert out["problem"] == "forged_checkpoint"


def test_a_receipt_checkpoint_held_by_a_client_exposes_a_rewritten_history(
    log: tuple[dict[str, str], sa.Engine, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    env, engine, receipts = log
    saved = tmp_path / "cp.note"
    saved.write_text(receipts[-1]["checkpoint"])
    assert verify(env, "--since-checkpoint", str(saved))["intact"]
    # Rewrite the whole tail consistently: every hash and the sequencer, no stored checkpoint left.
    tamper(
        engine,
        "DELETE FROM audit_checkpoints",
        'DELETE FROM audit_entries WHERE "index" >= 20',
        # Exactly the tree nodes a 20-entry log would not have: the rest stays consistent.
        "DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > 20",
        "UPDATE audit_sequencer SET size = 20",
    )
    out = verify(env, "--since-checkpoint", str(saved))
    assert out["problem"] == "truncated_tail" and out["first_bad_index"] == 20
