"""Verification in ranges checked by worker processes finds what one stream finds.

A log of 150 entries is cut into ranges of 16 (the production size is 65,536) and checked
by two spawned processes; every tamper case, placed inside a range, on a range's first or
last entry, or in the tree above the ranges, must give the same report as one range in
the calling process, and the kind and place the tamper tests expect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from audit import canonical_json, leaf_hash
from gateway.auditlog.service import record, verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.store_verify import verify_stored
from gateway.auditlog.verify import Report
from gateway.auditlog.witnessing import witness_policy
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from tests.conftest import make_settings
from tests.gateway.auditlog.logged_gateway import STORES
from tests.gateway.auditlog.test_auditlog_tamper import tamper

ENTRIES = 150
APP = AuthPrincipal(id="p1", name="heping-committee", kind="app", role="r", domain="heping")


@pytest.fixture(params=STORES)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GatewayContext]:
    store_url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    settings = make_settings(tmp_path / "home", store_url, checkpoint_every_entries=5)
    ctx = GatewayContext.open(settings)
    for i in range(ENTRIES):
        subjects = [f"s_{i:04d}a", f"s_{i:04d}b"] if i % 3 == 0 else None
        record(
            ctx,
            "query.run",
            APP,
            subjects=subjects,
            dataset=f"ds_{i % 4}",
            purpose="public-service.elderly-care.home-visit",
            decision={"allowed": True, "reason_code": "granted"},
            outcome="ok",
            row_count=i,
        )
    yield ctx
    ctx.close()


def engine(ctx: GatewayContext) -> sa.Engine:
    return sa.create_engine(ctx.settings.store_url, poolclass=sa.NullPool)


def text_of(ctx: GatewayContext, index: int) -> tuple[str, str]:
    with engine(ctx).connect() as conn:
        found = conn.execute(
            sa.text('SELECT entry, leaf_hash FROM audit_entries WHERE "index" = :i'), {"i": index}
        ).one()
    return str(found[0]), str(found[1])


def rehashed(ctx: GatewayContext, index: int, **changes: Any) -> tuple[str, str]:
    data = {**json.loads(text_of(ctx, index)[0]), **changes}
    text = canonical_json(data).decode()
    return text, leaf_hash(text.encode()).hex()


def change_text(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(
            engine(ctx),
            "UPDATE audit_entries SET entry = replace(entry, 'heping', 'youyi') "
            'WHERE "index" = :i',
            i=at,
        )

    return run


def change_field_and_hashes(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        text, digest = rehashed(ctx, at, row_count=99999)
        tamper(
            engine(ctx),
            'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = :i',
            "UPDATE audit_nodes SET hash = :b WHERE level = 0 AND idx = :i",
            e=text,
            h=digest,
            b=bytes.fromhex(digest),
            i=at,
        )

    return run


def delete_entry(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(engine(ctx), 'DELETE FROM audit_entries WHERE "index" = :i', i=at)

    return run


def delete_entries(first: int, last: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(
            engine(ctx),
            'DELETE FROM audit_entries WHERE "index" BETWEEN :a AND :b',
            a=first,
            b=last,
        )

    return run


def swap(a: int, b: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        (ta, ha), (tb, hb) = text_of(ctx, a), text_of(ctx, b)
        sql = 'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = :i'
        tamper(engine(ctx), sql, e=tb, h=hb, i=a)
        tamper(engine(ctx), sql, e=ta, h=ha, i=b)

    return run


def edit_column(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(engine(ctx), 'UPDATE audit_entries SET row_count = 7777 WHERE "index" = :i', i=at)

    return run


def drop_subject_row(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(
            engine(ctx),
            "DELETE FROM audit_subjects WHERE entry_index = :i AND subject_ref LIKE '%a'",
            i=at,
        )

    return run


def node(level: int, idx: int, *, delete: bool) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        sql = (
            "DELETE FROM audit_nodes WHERE level = :l AND idx = :x"
            if delete
            else "UPDATE audit_nodes SET hash = :b WHERE level = :l AND idx = :x"
        )
        tamper(engine(ctx), sql, l=level, x=idx, b=b"\x07" * 32)

    return run


def forged_mac(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        tamper(engine(ctx), "UPDATE audit_entries SET mac = '1:00' WHERE \"index\" = :i", i=at)

    return run


def backdate(at: int) -> Callable[[GatewayContext], None]:
    def run(ctx: GatewayContext) -> None:
        text, digest = rehashed(ctx, at, recorded_at="2020-01-01T00:00:00.000000+00:00")
        tamper(
            engine(ctx),
            'UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE "index" = :i',
            e=text,
            h=digest,
            i=at,
        )

    return run


# (label, tamper, expected first problem kind, its index); ranges are 16 entries long.
CASES: list[tuple[str, Callable[[GatewayContext], None], str, int]] = [
    ("text inside a range", change_text(40), "changed_entry", 40),
    ("text of a range's first entry", change_text(48), "changed_entry", 48),
    ("field and hashes, a range's last entry", change_field_and_hashes(63), "changed_column", 63),
    ("field and hashes, a range's first entry", change_field_and_hashes(64), "changed_column", 64),
    ("delete a range's first entry", delete_entry(32), "missing_entry", 32),
    ("delete inside a range", delete_entry(70), "missing_entry", 70),
    ("delete a range's last entry", delete_entry(47), "missing_entry", 47),
    ("delete a whole range", delete_entries(64, 79), "missing_entry", 64),
    ("delete two whole ranges", delete_entries(64, 95), "missing_entry", 64),
    ("swap across ranges", swap(15, 16), "reordered_entries", 15),
    ("edit a column", edit_column(100), "changed_column", 100),
    ("thin the subject index", drop_subject_row(99), "changed_subject_index", 99),
    ("delete a node inside a range", node(2, 9, delete=True), "missing_node", 39),
    ("delete a node above the ranges", node(5, 1, delete=True), "missing_node", 63),
    ("change a node above the ranges", node(6, 0, delete=False), "changed_node", 63),
    ("forge a MAC", forged_mac(80), "forged_entry_mac", 80),
    ("backdate a range's first entry", backdate(96), "changed_entry", 96),
]


def parallel(ctx: GatewayContext) -> Report:
    keys = verifier_keys(ctx.keyring, ctx.settings.log_origin)
    with ctx.store.transaction() as session:
        report, derived = verify_stored(
            session,
            ctx.audit.appender.macs,
            keys,
            ctx.settings.log_origin,
            witness_policy(ctx.settings),
            workers=2,
            level=4,
        )
        derived.finish(report.entries, report.signed_size)
        report.problems.extend(derived.problems)
    return report


def serial(ctx: GatewayContext) -> Report:
    with ctx.store.transaction() as session:
        return verify_store(session, ctx, workers=1)


def summary(report: Report) -> tuple[Any, ...]:
    first = report.first
    return (
        report.entries,
        report.signed_size,
        None if first is None else (first.kind, first.index),
        sorted({(p.kind, p.index) for p in report.problems}),
    )


def test_an_intact_log_verifies_in_ranges(log: GatewayContext) -> None:
    report = parallel(log)
    assert report.intact and report.entries == ENTRIES
    assert summary(report) == summary(serial(log))


@pytest.mark.parametrize(("label", "case", "kind", "index"), CASES, ids=[c[0] for c in CASES])
def test_ranges_find_what_one_stream_finds(
    log: GatewayContext,
    label: str,
    case: Callable[[GatewayContext], None],
    kind: str,
    index: int,
) -> None:
    case(log)
    found = parallel(log)
    assert not found.intact
    assert found.first is not None and (found.first.kind, found.first.index) == (kind, index)
    assert summary(found) == summary(serial(log)), label


SQLITE_ONLY = [
    "UPDATE audit_subjects SET entry_index = entry_index + 0.25 WHERE entry_index = 99",
    "INSERT INTO audit_nodes (level, idx, hash) VALUES (0, 40.5, zeroblob(32))",
    "UPDATE audit_nodes SET idx = idx + 0.5 WHERE level = 2 AND idx = 9",
    "UPDATE audit_entries SET entry = CAST(entry AS BLOB) || x'ff' WHERE \"index\" = 64",
    'UPDATE audit_entries SET row_count = CAST(CAST(row_count AS TEXT) AS BLOB) WHERE "index" = 70',
    "UPDATE audit_checkpoints SET size = size || 'x'"
    " WHERE size = (SELECT min(size) FROM audit_checkpoints)",
]


@pytest.mark.parametrize("log", ["sqlite"], indirect=True)  # PostgreSQL's columns cannot
@pytest.mark.parametrize("statement", SQLITE_ONLY)
def test_ranges_find_values_of_another_type(log: GatewayContext, statement: str) -> None:
    """SQLite keeps any value in any column: a position of 99.25, text that is not UTF-8,
    a blob for a count. Ranges locate each as one stream does, and never fail on one."""
    tamper(engine(log), statement)
    found = parallel(log)
    assert not found.intact, statement
    assert summary(found) == summary(serial(log)), statement
