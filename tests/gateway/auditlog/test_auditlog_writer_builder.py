"""The writer builds a batch entry by entry as callers join it: the rows it writes and what
a caller whose entry cannot be written gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit import canonical_json, leaf_hash
from gateway.auditlog.models import ENTRIES, SUBJECTS
from gateway.auditlog.service import verify_store
from gateway.auditlog.writer import (
    AuditLog,
    AuditUnavailable,
    Pending,
    _row_fields,
    _Waiter,
    build_entry,
)
from gateway.context import GatewayContext
from tests.conftest import make_settings


def _pending(n: int, subjects: list[str] | None = None) -> Pending:
    entry = {"event": "query.run", "principal": "builder", "dataset": "d", "row_count": n}
    if subjects is not None:
        entry["subject_count"] = len(subjects)
    return Pending(entry=entry, subjects=subjects or [])


def test_the_rows_built_entry_by_entry_are_the_rows_each_entry_defines(tmp_path: Path) -> None:
    ctx = GatewayContext.open(make_settings(tmp_path / "home"))
    try:
        log: AuditLog = ctx.audit
        log._write([_Waiter(_pending(0))])  # a committed head to build on
        head = log.appender.head
        assert head is not None
        batch = [_pending(1, ["s_a", "s_b"]), _pending(2), _pending(3, [])]
        built = log.appender.build(batch, head)
        tables = dict(built.tables)
        entries = tables[ENTRIES]
        prev = head.prev
        for offset, pending in enumerate(batch):
            index = head.size + offset
            stamp = built.receipts[offset].recorded_at
            entry = build_entry(pending, index, prev, stamp)
            data = canonical_json(entry)
            digest = leaf_hash(data)
            want = _row_fields(entry, data, digest, log.appender.macs.make(index, digest))
            got = {name: column[offset] for name, column in zip(entries.names, entries.columns)}
            assert got == want
            assert built.receipts[offset].entry == want["entry"]
            prev = want["leaf_hash"]
        subjects = tables[SUBJECTS]
        assert list(subjects.tuples()) == [("s_a", head.size), ("s_b", head.size)]
        assert built.head.prev == prev and built.head.size == head.size + 3
    finally:
        ctx.close()


@pytest.mark.postgres
def test_an_entry_that_cannot_be_written_fails_its_caller_only(pg_url: str, tmp_path: Path) -> None:
    ctx = GatewayContext.open(make_settings(tmp_path / "home", pg_url))
    try:
        log: AuditLog = ctx.audit
        log._write([_Waiter(_pending(0))])
        bad = Pending(entry={"event": "query.run", "principal": "builder", "cost": 0.5})
        waiters = [_Waiter(_pending(1)), _Waiter(bad), _Waiter(_pending(2))]
        log._hand_over(waiters)
        item = log._commits.get_nowait()
        assert item is not None
        queued, built = item
        with pytest.raises(AuditUnavailable):
            waiters[1].wait(1)  # refused at once: floats have no canonical form
        assert queued == [waiters[0], waiters[2]] and built is not None
        assert built.statements is not None  # made before the committer takes the batch
        assert not any(w._settled for w in queued)  # nobody answered before the commit
        assert log._commit_built(queued, built)
        log._landed()
        assert [w.wait(5).entry_index for w in queued] == [1, 2]
        with ctx.store.transaction() as session:
            report = verify_store(session, ctx, workers=1)
        assert report.intact and report.entries == 3
    finally:
        ctx.close()
