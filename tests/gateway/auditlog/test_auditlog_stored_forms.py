"""What verify and the API make of stored values in other forms: another spelling of
the recorded time, an unreadable time, a malformed tree node, stray rows, an entry dated
before its predecessor, and an auditor's keys file given to the online check.

Tampering as an insider with write access (triggers dropped), as in test_auditlog_derived.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.cosignatures import Cosigner
from gateway.auditlog.derived import column_mismatches, indexed_columns
from gateway.auditlog.service import verify_store
from tests.gateway.auditlog.test_auditlog_derived import Log, log, run_entry, scalar
from tests.gateway.auditlog.test_auditlog_tamper import rehash, row, tamper, verify

__all__ = ["log"]  # the fixture, shared with test_auditlog_derived

SPELLINGS = [
    lambda t: t.replace(" ", "T"),
    lambda t: t.replace(" ", "T") + "Z",
    lambda t: t + "+0000",
    lambda t: t.replace("-", "").replace(":", "").replace(" ", "T"),
    lambda t: t.replace(".", ","),
]


def stored_time(log: Log, at: int) -> str:
    return str(scalar(log.engine, 'SELECT recorded_at FROM audit_entries WHERE "index" = :i', i=at))


@pytest.mark.parametrize("spell", range(len(SPELLINGS)))
def test_another_spelling_of_the_recorded_time_is_a_changed_column(log: Log, spell: int) -> None:
    if log.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite keeps the time as text a spelling can change")
    at = run_entry(log.engine)
    text = stored_time(log, at)
    tamper(
        log.engine,
        'UPDATE audit_entries SET recorded_at = :t WHERE "index" = :i',
        t=SPELLINGS[spell](text),
        i=at,
    )
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out
    assert "recorded_at" in out["message"]


def test_an_unreadable_recorded_time_is_reported_and_answered_503(
    log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    if log.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite can store a time that does not parse")
    at = run_entry(log.engine)
    text = stored_time(log, at)
    tamper(
        log.engine,
        'UPDATE audit_entries SET recorded_at = :t WHERE "index" = :i',
        t=text + " ",
        i=at,
    )
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out
    ref = scalar(
        log.engine, "SELECT MIN(subject_ref) FROM audit_subjects WHERE entry_index = :i", i=at
    )
    for path in ("/v1/audit/entries", f"/v1/subjects/{ref}/accesses", "/v1/audit/export"):
        answer = log.gw.get("district-auditor", path)
        assert answer.status_code == 503, (path, answer.text)
        body = answer.json()
        assert body["error"] == "Unavailable" and set(body) >= {"detail", "request_id"}
        assert text not in answer.text
    assert any("audit_entries" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_nodes SET hash = :text WHERE level = 1 AND idx = 1",
        "UPDATE audit_nodes SET hash = :long WHERE level = 1 AND idx = 1",
        "UPDATE audit_nodes SET hash = :long WHERE level = 0 AND idx = 3",
    ],
    ids=["text", "33-bytes", "33-byte-leaf"],
)
def test_a_malformed_node_is_a_changed_node_not_a_crash(log: Log, statement: str) -> None:
    tamper(log.engine, statement, text="ab" * 32, long=b"\x01" * 33)
    out = verify(log.env)
    assert out["first_bad_index"] == 3 and out["problem"] in ("changed_node", "changed_entry"), out
    with log.gw.ctx.store.transaction() as session:
        report = verify_store(session, log.gw.ctx)
    assert [p.index for p in report.problems if p.kind == "changed_node"] == [3]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit_subjects VALUES ('s_aaaaaaaaaaaaaaaaaaaaaaaaaa', -1)",
        "INSERT INTO audit_sequencer VALUES (2, 99)",
        "INSERT INTO audit_nodes VALUES (0, -1, :b)",
    ],
    ids=["subject-at-minus-one", "second-sequencer", "node-at-minus-one"],
)
def test_stray_rows_are_extra_rows(log: Log, statement: str) -> None:
    assert verify(log.env)["intact"]
    tamper(log.engine, statement, b=b"\x00" * 32)
    out = verify(log.env)
    assert out["problem"] == "extra_rows", out


def test_privacy_cost_is_compared_exactly() -> None:
    entry = {"event": "query.run", "principal": "a", "privacy_cost": "0.5"}
    stored = tuple(indexed_columns(entry).values())
    assert column_mismatches(entry, stored) == []
    changed = (*stored[:-1], 0.5000000001)
    assert column_mismatches(entry, changed) == ["privacy_cost"]


def _append_forged(log: Log, recorded_at: str) -> int:
    size = int(scalar(log.engine, "SELECT size FROM audit_sequencer"))
    last = row(log.engine, size - 1)
    text, digest = rehash(
        last["entry"], index=size, prev=last["leaf_hash"], recorded_at=recorded_at
    )
    tamper(
        log.engine,
        'INSERT INTO audit_entries ("index", recorded_at, entry, leaf_hash, principal, dataset, '
        "purpose, event, decision, row_count) SELECT :n, :t, :e, :h, principal, "
        'dataset, purpose, event, decision, row_count FROM audit_entries WHERE "index" = :p',
        "INSERT INTO audit_nodes (level, idx, hash) VALUES (0, :n, :b)",
        "UPDATE audit_sequencer SET size = :s",
        n=size,
        p=size - 1,
        t=recorded_at.replace("T", " ").removesuffix("+00:00"),
        e=text,
        h=digest,
        b=bytes.fromhex(digest),
        s=size + 1,
    )
    return size


def test_an_entry_dated_before_its_predecessor_is_reported(log: Log) -> None:
    at = _append_forged(log, "2026-12-01T00:00:00.000000+00:00")
    with log.gw.ctx.store.transaction() as session:
        report = verify_store(session, log.gw.ctx)
    assert [(p.index, p.kind) for p in report.problems if p.kind == "time_reversed"] == [
        (at, "time_reversed")
    ]


def test_clock_skew_within_the_tolerance_is_not_reported(log: Log) -> None:
    size = int(scalar(log.engine, "SELECT size FROM audit_sequencer"))
    last = json.loads(row(log.engine, size - 1)["entry"])
    earlier = datetime.fromisoformat(last["recorded_at"]) - timedelta(seconds=3)
    _append_forged(log, earlier.isoformat(timespec="microseconds"))
    with log.gw.ctx.store.transaction() as session:
        report = verify_store(session, log.gw.ctx)
    assert not [p for p in report.problems if p.kind == "time_reversed"]


def test_online_verify_honours_witness_keys_in_the_keys_file(log: Log, tmp_path: Path) -> None:
    witness = Cosigner("witness.example.org/w1", Ed25519PrivateKey.generate())
    published = log.gw.client.get("/.well-known/cdg-audit-keys").text
    keys = tmp_path / "allkeys.txt"
    keys.write_text(published + witness.verifier_key + "\n", encoding="utf-8")
    env = {k: v for k, v in log.env.items() if k != "CDG_WITNESSES"}
    out = verify(env, "--keys", str(keys), "--witnesses-required", "1")
    assert not out["intact"] and out["problem"] == "missing_cosignatures", out
    assert out["witnessed_size"] == 0
    # The log keys alone, no witness required: the same store verifies.
    log_only = tmp_path / "logkeys.txt"
    log_only.write_text(published, encoding="utf-8")
    assert verify(env, "--keys", str(log_only))["intact"]
