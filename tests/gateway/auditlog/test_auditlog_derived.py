"""What is stored beside the entries is verified too: columns, subject index, tree nodes.

Tampering as an insider with write access (triggers dropped, as in test_auditlog_tamper),
on SQLite and PostgreSQL stores; plus the sequencer guard, which holds with triggers on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.logged_gateway import APP, STORES, logged_gateway
from tests.gateway.auditlog.test_auditlog_tamper import rehash, row, tamper, verify

RUNS = 12


@dataclass
class Log:
    gw: Gateway
    env: dict[str, str]
    engine: sa.Engine


@pytest.fixture(params=STORES)
def log(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[Log]:
    logged = logged_gateway(request, tmp_path, small_community)
    gw = logged.gw
    for _ in range(RUNS):
        assert gw.run(APP, logged.query).status_code == 200
    gw.ctx.audit.close()  # no appends from here on unless a test makes them
    engine = logged.engine()
    yield Log(gw, logged.env, engine)
    gw.client.close()
    gw.ctx.close()
    engine.dispose()


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def run_entry(engine: sa.Engine) -> int:
    """Index of a logged run that released rows about residents."""
    return int(
        scalar(
            engine,
            "SELECT MAX(entry_index) FROM audit_subjects WHERE entry_index < "
            '(SELECT MAX("index") FROM audit_entries) - 3',
        )
    )


COLUMN_EDITS = [
    ("principal", "principal = 'jianshe-property'"),
    ("dataset", "dataset = 'ds_other'"),
    ("purpose", "purpose = 'public-service.other'"),
    ("event", "event = 'request.filed'"),
    ("decision", "decision = 'denied'"),
    ("row_count", "row_count = 0"),
    ("privacy_cost", "privacy_cost = 0.5"),
    ("recorded_at", "recorded_at = '2020-01-01 00:00:00'"),
]


@pytest.mark.parametrize(("column", "assignment"), COLUMN_EDITS, ids=[c for c, _ in COLUMN_EDITS])
def test_an_edited_indexed_column_is_found(log: Log, column: str, assignment: str) -> None:
    assert verify(log.env)["intact"]
    at = run_entry(log.engine)
    tamper(log.engine, f'UPDATE audit_entries SET {assignment} WHERE "index" = :i', i=at)
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out
    assert column in out["message"]


def test_a_deleted_subject_index_row_is_found(log: Log) -> None:
    at = run_entry(log.engine)
    tamper(
        log.engine,
        "DELETE FROM audit_subjects WHERE entry_index = :i AND subject_ref = "
        "(SELECT MIN(subject_ref) FROM audit_subjects WHERE entry_index = :i)",
        i=at,
    )
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("changed_subject_index", at), out


def test_an_inserted_subject_index_row_is_found(log: Log) -> None:
    at = run_entry(log.engine)
    ref = scalar(log.engine, "SELECT MIN(subject_ref) FROM audit_subjects")
    # Attribute a resident to an entry that did not release rows about them.
    other = scalar(
        log.engine,
        'SELECT MIN("index") FROM audit_entries WHERE "index" NOT IN '
        "(SELECT entry_index FROM audit_subjects WHERE subject_ref = :r)",
        r=ref,
    )
    tamper(log.engine, "INSERT INTO audit_subjects VALUES (:r, :i)", r=ref, i=other)
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("changed_subject_index", other), out
    assert at >= 0


def test_subject_rows_past_the_last_entry_are_found(log: Log) -> None:
    size = scalar(log.engine, "SELECT size FROM audit_sequencer")
    tamper(log.engine, "INSERT INTO audit_subjects VALUES ('s_forged', :i)", i=size + 3)
    out = verify(log.env)
    assert out["problem"] == "extra_rows", out


def test_a_rewritten_entry_with_matching_columns_still_breaks_the_tree(log: Log) -> None:
    at = run_entry(log.engine)
    text, digest = rehash(row(log.engine, at)["entry"], row_count=0)
    tamper(
        log.engine,
        'UPDATE audit_entries SET entry = :e, leaf_hash = :h, row_count = 0 WHERE "index" = :i',
        "UPDATE audit_nodes SET hash = :b WHERE level = 0 AND idx = :i",
        e=text,
        h=digest,
        b=bytes.fromhex(digest),
        i=at,
    )
    out = verify(log.env)
    assert not out["intact"] and out["first_bad_index"] == at, out
    # The entry's MAC no longer fits either: any of the three locates the rewrite.
    assert out["problem"] in ("changed_node", "broken_chain", "forged_entry_mac"), out


def _proof(log: Log, index: int, size: int) -> Any:
    return log.gw.get(
        "district-auditor", "/v1/audit/proofs/inclusion", params={"index": index, "tree_size": size}
    )


def test_a_missing_node_is_reported_answered_503_and_repaired(
    log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    size = int(scalar(log.engine, "SELECT size FROM audit_sequencer"))
    assert _proof(log, 0, size).status_code == 200
    tamper(log.engine, "DELETE FROM audit_nodes WHERE level = 1 AND idx = 1")
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("missing_node", 3), out

    answer = _proof(log, 0, size)
    assert answer.status_code == 503
    body = answer.json()
    assert set(body) >= {"error", "detail", "request_id"} and body["error"] == "Unavailable"
    assert "repair" in body["detail"]
    assert any("node missing" in r.getMessage() for r in caplog.records)
    export = log.gw.get("district-auditor", "/v1/audit/export")
    assert export.status_code == 503 and export.json()["error"] == "Unavailable"

    result = CliRunner().invoke(cli, ["audit", "repair", "--json"], env=log.env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["restored_nodes"] == 1
    assert verify(log.env)["intact"]
    assert _proof(log, 0, size).status_code == 200
    last = scalar(log.engine, 'SELECT entry FROM audit_entries ORDER BY "index" DESC LIMIT 1')
    logged = json.loads(last)
    assert logged["event"] == "audit.repaired" and logged["nodes_restored"] == 1


def test_repair_refuses_when_more_than_nodes_is_wrong(log: Log) -> None:
    tamper(
        log.engine,
        "DELETE FROM audit_nodes WHERE level = 1 AND idx = 1",
        'UPDATE audit_entries SET row_count = 99 WHERE "index" = 5',
    )
    before = scalar(log.engine, "SELECT COUNT(*) FROM audit_nodes")
    result = CliRunner().invoke(cli, ["audit", "repair", "--json"], env=log.env)
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["refused"] and out["problem"] == "changed_column" and out["first_bad_index"] == 5
    assert scalar(log.engine, "SELECT COUNT(*) FROM audit_nodes") == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_sequencer SET size = size - 1",
        "DELETE FROM audit_sequencer",
    ],
    ids=["shrink", "delete"],
)
def test_the_sequencer_is_guarded(log: Log, statement: str) -> None:
    size = scalar(log.engine, "SELECT size FROM audit_sequencer")
    with pytest.raises(sa.exc.DBAPIError), log.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert scalar(log.engine, "SELECT size FROM audit_sequencer") == size


def test_a_size_raised_without_entries_blocks_the_next_claim(log: Log) -> None:
    # A trigger cannot see the entries its transaction will write, so the raise itself
    # passes; the next claim finds the size ahead of the entries and is refused.
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_sequencer SET size = size + 5"))
    with pytest.raises(sa.exc.DBAPIError), log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_sequencer SET size = size + 1"))


def test_a_forged_tail_entry_is_reported_unsigned_with_its_age(log: Log) -> None:
    base = verify(log.env)
    assert base["intact"]
    size = int(scalar(log.engine, "SELECT size FROM audit_sequencer"))
    last = row(log.engine, size - 1)
    text, digest = rehash(last["entry"], index=size, prev=last["leaf_hash"], row_count=500)
    tamper(
        log.engine,
        'INSERT INTO audit_entries ("index", recorded_at, entry, leaf_hash, principal, dataset, '
        "purpose, event, decision, row_count) SELECT :n, recorded_at, :e, :h, principal, "
        'dataset, purpose, event, decision, 500 FROM audit_entries WHERE "index" = :p',
        "INSERT INTO audit_nodes (level, idx, hash) VALUES (0, :n, :b)",
        "UPDATE audit_sequencer SET size = :s",
        n=size,
        p=size - 1,
        e=text,
        h=digest,
        b=bytes.fromhex(digest),
        s=size + 1,
    )
    out = verify(log.env)
    # The chain holds, so only the checkpoint can tell: the entry is reported as unsigned.
    assert out["unsigned_entries"] == base["unsigned_entries"] + 1 >= 1
    assert out["oldest_unsigned_age_seconds"] is not None
    assert out["oldest_unsigned_age_seconds"] >= 0


def test_an_idle_gateway_signs_its_tail_within_the_interval(
    tmp_path: Path, small_community: Community
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    settings = make_settings(
        tmp_path / "home", checkpoint_every_entries=1000, checkpoint_every_seconds=0.3
    )
    gw = open_gateway(settings)
    try:
        gw.register_demo_dataset("residents", source)  # logged, then nothing more
        gw.ctx.audit.start()
        engine = sa.create_engine(settings.store_url, poolclass=sa.NullPool)
        deadline = time.monotonic() + 5
        signed = size = -1
        while time.monotonic() < deadline:
            size = scalar(engine, "SELECT size FROM audit_sequencer")
            signed = scalar(engine, "SELECT MAX(size) FROM audit_checkpoints") or 0
            if signed == size:
                break
            time.sleep(0.1)
        assert size > 0 and signed == size
        engine.dispose()
    finally:
        gw.client.close()
        gw.ctx.close()
