"""A forged tail: an entry appended with a valid hash chain by someone with write access to
the store but not the master key. The gateway must not sign it, and verify names it.

On SQLite and PostgreSQL stores, with the guards bypassed as an owner could
(triggers dropped, or session_replication_role = replica).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from audit import MerkleTree, canonical_json, leaf_hash
from gateway.auditlog.derived import indexed_columns
from gateway.auditlog.models import AuditEntryRow
from gateway.auditlog.nodestore import SqlNodeStore
from gateway.demo.community import Community
from tests.conftest import Gateway
from tests.gateway.auditlog.logged_gateway import APP, STORES, logged_gateway
from tests.gateway.auditlog.test_auditlog_tamper import tamper, verify


@dataclass
class Log:
    gw: Gateway
    env: dict[str, str]
    engine: sa.Engine
    query: str


@pytest.fixture(params=STORES)
def log(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[Log]:
    logged = logged_gateway(request, tmp_path, small_community)
    gw = logged.gw
    for _ in range(7):
        ran = gw.run(APP, logged.query)
        assert ran.status_code == 200, ran.text
    engine = logged.engine()
    yield Log(gw, logged.env, engine, logged.query)
    gw.client.close()
    gw.ctx.close()
    engine.dispose()


def scalar(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def forge_tail_entry(engine: sa.Engine) -> int:
    """Append one entry exactly as the writer would, minus the MAC; returns its index."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET session_replication_role = replica"))
        else:
            for name in conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars():
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
        size = int(conn.execute(sa.text("SELECT size FROM audit_sequencer")).scalar_one())
        last = conn.execute(
            sa.text('SELECT entry, leaf_hash FROM audit_entries WHERE "index" = :i'),
            {"i": size - 1},
        ).one()
        entry = {
            **json.loads(last[0]),
            "index": size,
            "prev": last[1],
            "principal": "jianshe-property",
            "row_count": 1000,
        }
        # A careful forger keeps every check but the MAC consistent: no subject rows claimed.
        entry.pop("subjects_digest", None)
        entry.pop("subject_count", None)
        data = canonical_json(entry)
        digest = leaf_hash(data)
        with Session(bind=conn) as session:
            session.execute(
                sa.insert(AuditEntryRow),
                [
                    {
                        "index": size,
                        "entry": data.decode(),
                        "leaf_hash": digest.hex(),
                        **indexed_columns(entry),
                    }
                ],
            )
            MerkleTree(SqlNodeStore(session)).append_many([digest])
            session.flush()
        conn.execute(sa.text("UPDATE audit_sequencer SET size = size + 1"))
    return size


def test_a_forged_tail_entry_is_not_signed_and_verify_names_it(
    log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    assert log.gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    assert verify(log.env)["intact"]
    forged = forge_tail_entry(log.engine)
    checkpoints = scalar(log.engine, "SELECT COUNT(*) FROM audit_checkpoints")

    out = verify(log.env)
    assert not out["intact"]
    assert (out["problem"], out["first_bad_index"]) == ("unauthenticated_entry", forged), out

    with caplog.at_level(logging.ERROR, logger="cdg.audit"):
        asked = log.gw.post("district-auditor", "/v1/audit/checkpoint")
    assert asked.status_code == 503, asked.text
    assert asked.json()["reason"] == "audit_log_unauthenticated_entry"
    assert any(f"entry {forged} " in r.getMessage() for r in caplog.records)
    # Nor does the writer build on it: a run is refused rather than signed into a receipt,
    # with a 503 that says nothing was released (the cause goes to the operator's log).
    refused = log.gw.run("heping-committee", log.query)
    assert refused.status_code == 503, refused.text
    assert refused.json()["reason"] == "audit_unavailable"
    log.gw.ctx.audit._idle_checkpoint()  # the periodic signer refuses it too
    assert scalar(log.engine, "SELECT COUNT(*) FROM audit_checkpoints") == checkpoints
    assert scalar(log.engine, "SELECT MAX(size) FROM audit_checkpoints") <= forged
    assert scalar(log.engine, "SELECT size FROM audit_sequencer") == forged + 1


def test_a_forged_checkpoint_row_does_not_vouch_for_a_forged_tail(log: Log) -> None:
    forged = forge_tail_entry(log.engine)
    note = scalar(log.engine, "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
    tamper(
        log.engine,
        "INSERT INTO audit_checkpoints (size, root, note, signed_at) "
        "VALUES (:s, :r, :n, '2026-01-01 00:00:00')",
        s=forged + 1,
        r=b"\0" * 32,
        n=note,
    )
    assert log.gw.run("heping-committee", log.query).status_code == 503
    assert scalar(log.engine, "SELECT size FROM audit_sequencer") == forged + 1


def test_entries_without_a_mac_under_a_signed_checkpoint_stay_valid(log: Log) -> None:
    # Entries written before MACs existed carry none; a signed checkpoint vouches for them.
    assert log.gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    tamper(log.engine, "UPDATE audit_entries SET mac = NULL")
    assert verify(log.env)["intact"]


def test_a_mac_removed_or_edited_in_the_unsigned_tail_is_found(log: Log) -> None:
    assert log.gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    signed = int(scalar(log.engine, "SELECT MAX(size) FROM audit_checkpoints"))
    log.gw.ctx.audit.appender.settings = log.gw.ctx.audit.appender.settings.model_copy(
        update={"checkpoint_every_entries": 1000, "checkpoint_every_seconds": 3600.0}
    )
    assert log.gw.run("heping-committee", log.query).status_code == 200
    tail = int(scalar(log.engine, 'SELECT MAX("index") FROM audit_entries'))
    assert tail >= signed
    tamper(log.engine, 'UPDATE audit_entries SET mac = NULL WHERE "index" = :i', i=tail)
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("unauthenticated_entry", tail), out
    tamper(log.engine, "UPDATE audit_entries SET mac = '1:00' WHERE \"index\" = :i", i=tail)
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("forged_entry_mac", tail), out


def test_two_writers_taking_turns_check_only_what_is_new_and_still_refuse_a_forgery(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second gateway process on the same store, appending in turn with the first.
    from gateway.auditlog.service import record
    from gateway.context import GatewayContext
    from gateway.errors import Unavailable
    from gateway.principal import AuthPrincipal

    other = GatewayContext.open(log.gw.ctx.settings)
    who = AuthPrincipal(id="p", name="heping-committee", kind="app", role="r", domain="heping")
    floors: list[int] = []
    appender = log.gw.ctx.audit.appender
    signed_floor = appender._signed_floor

    def counted(session: Session, below: int) -> int:
        floors.append(below)
        return signed_floor(session, below)

    monkeypatch.setattr(appender, "_signed_floor", counted)
    try:
        for turn in range(6):
            for ctx in (log.gw.ctx, other):
                record(ctx, "query.run", who, outcome="ok", request_id=f"turn-{turn}")
        # This process read the signed floor at most once; later reloads start from the
        # entries it had already written or checked.
        assert len(floors) <= 1, floors
        assert verify(log.env)["intact"]
        forged = forge_tail_entry(log.engine)
        with pytest.raises(Unavailable):
            record(log.gw.ctx, "query.run", who, outcome="ok", request_id="after-forgery")
        assert scalar(log.engine, "SELECT size FROM audit_sequencer") == forged + 1
    finally:
        other.close()
