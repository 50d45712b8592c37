"""One malformed row (another storage type, bytes that are no UTF-8, a PostgreSQL time no
datetime holds) is a located problem for verify, single-process and parallel, and the API
answers 503 before any data: never a traceback, a 500 or an export cut halfway.

Tampering as an insider with write access (triggers dropped), as in test_auditlog_derived.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.auditlog.service import verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.store_verify import verify_stored
from gateway.auditlog.witnessing import witness_policy
from tests.console.helpers import sign_in
from tests.gateway.auditlog.test_auditlog_derived import Log, log, run_entry, scalar
from tests.gateway.auditlog.test_auditlog_tamper import tamper, verify

__all__ = ["log"]

AT = 9

SQLITE_CASES = [
    ('UPDATE audit_entries SET entry = CAST(entry AS BLOB) WHERE "index" = 9', "changed_entry"),
    ("UPDATE audit_entries SET entry = x'ff7b7d' WHERE \"index\" = 9", "changed_entry"),
    ('UPDATE audit_entries SET mac = CAST(mac AS BLOB) WHERE "index" = 9', "forged_entry_mac"),
]
PG_TIMES = ["infinity", "-infinity", "4713-01-01 BC", "12000-01-01"]


def parallel_problems(log: Log) -> list[tuple[str, int]]:
    """verify_stored in ranges of 4 entries checked by 2 worker processes."""
    ctx = log.gw.ctx
    origin = ctx.settings.log_origin
    with ctx.store.transaction() as session:
        report, derived = verify_stored(
            session,
            ctx.audit.appender.macs,
            verifier_keys(ctx.keyring, origin),
            origin,
            witness_policy(ctx.settings),
            workers=2,
            level=2,
        )
    derived.finish(report.entries, report.signed_size)
    return [(p.kind, p.index) for p in [*report.problems, *derived.problems]]


def single_problems(log: Log) -> list[tuple[str, int]]:
    with log.gw.ctx.store.transaction() as session:
        report = verify_store(session, log.gw.ctx, workers=1)
    return [(p.kind, p.index) for p in report.problems]


def assert_located(log: Log, kind: str, at: int = AT) -> None:
    out = verify(log.env)
    assert (out["problem"], out["first_bad_index"]) == (kind, at), out
    assert (kind, at) in single_problems(log)
    assert (kind, at) in parallel_problems(log)
    answer = log.gw.get("district-auditor", "/v1/audit/verify")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["problem"], answer.json()["first_bad_index"]) == (kind, at)


@pytest.mark.parametrize(("statement", "kind"), SQLITE_CASES, ids=["blob", "not-utf8", "mac-blob"])
def test_a_row_of_another_type_is_located_not_a_crash(log: Log, statement: str, kind: str) -> None:
    if log.engine.dialect.name != "sqlite":
        pytest.skip("SQLite stores any type in any column")
    tamper(log.engine, statement)
    assert_located(log, kind)


@pytest.mark.parametrize("when", PG_TIMES)
def test_a_postgresql_time_no_datetime_holds_is_a_changed_column_and_503(
    log: Log, when: str
) -> None:
    if log.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL's timestamp holds infinity and BC dates")
    at = run_entry(log.engine)
    ref = scalar(
        log.engine, "SELECT MIN(subject_ref) FROM audit_subjects WHERE entry_index = :i", i=at
    )
    tamper(log.engine, 'UPDATE audit_entries SET recorded_at = :t WHERE "index" = :i', t=when, i=at)
    assert_located(log, "changed_column", at)
    for path in ("/v1/audit/entries", f"/v1/subjects/{ref}/accesses", "/v1/audit/export"):
        answer = log.gw.get("district-auditor", path)
        assert answer.status_code == 503, (path, answer.text)
        assert answer.json()["reason"] == "audit_log_columns_damaged"
    console = TestClient(log.gw.client.app)
    sign_in(console, log.gw.keys["district-auditor"])
    # Its charts read the times of a window of days: a time outside it is not read (200),
    # one inside it refuses the page (503); never a 500.
    assert console.get("/console/audit").status_code in (200, 503)
