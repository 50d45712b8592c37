"""The PostgreSQL writer builds a batch while the one before it commits: what it may commit."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import psycopg
import pytest

from audit import leaf_hash, open_checkpoint, verify_inclusion
from gateway.auditlog.service import inclusion_proof, record, verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.writer import AuditLog, Pending, Receipt, _Waiter
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

WHO = AuthPrincipal(id="pr_test", name="overlap", kind="app", role="r", domain="d")


def _pending(n: int) -> Pending:
    return Pending(entry={"event": "subject.lookup", "principal": "overlap", "n": n})


def _batch(first: int, count: int) -> list[_Waiter]:
    return [_Waiter(_pending(first + i)) for i in range(count)]


def _receipts(batch: list[_Waiter]) -> list[Receipt]:
    return [w.wait(5) for w in batch]


def _intact(ctx: GatewayContext, entries: int) -> None:
    with ctx.store.transaction() as session:
        report = verify_store(session, ctx, workers=1)
    assert report.intact, [p.kind for p in report.problems]
    assert report.entries == entries


def test_a_batch_built_on_a_head_another_process_moved_is_not_committed_as_built(
    pg_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", pg_url)
    ours, theirs = GatewayContext.open(settings), GatewayContext.open(settings)
    try:
        log: AuditLog = ours.audit
        log._write(_batch(0, 3))  # a committed head this process remembers
        head = log.appender.head
        assert head is not None and head.size == 3
        ahead = _batch(100, 4)
        built = log.appender.build([w.pending for w in ahead], head)
        # Another process appends meanwhile: the indexes the batch was built for are taken.
        theirs.audit._write(_batch(200, 4))
        assert not log._commit_built(ahead, built)
        assert not any(w._settled for w in ahead)  # nobody answered from the refused batch
        with ours.store.transaction() as session:
            stored = session.connection().exec_driver_sql("SELECT COUNT(*) FROM audit_entries")
            assert stored.scalar_one() == 7  # nothing of the refused batch was committed
        log._write(ahead)  # appended afresh on the stored head
        assert [r.entry_index for r in _receipts(ahead)] == [7, 8, 9, 10]
        _intact(ours, 11)
        # Another process is appending: for a while batches are not built ahead (they would
        # be built, sent and rolled back again) but claim their indexes first.
        assert log._contended()
        later = _batch(300, 2)
        log._hand_over(later)
        queued, built_ahead = log._commits.get_nowait()
        log._landed()
        assert queued is later and built_ahead is None
        log._write(later)
        assert [r.entry_index for r in _receipts(later)] == [11, 12]
        _intact(ours, 13)
    finally:
        ours.close()
        theirs.close()


def test_two_writers_on_one_store_keep_one_gap_free_order_and_every_receipt_verifies(
    pg_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", pg_url)
    contexts = [GatewayContext.open(settings) for _ in range(2)]
    receipts: list[Receipt] = []
    lock = threading.Lock()

    def append(ctx: GatewayContext, n: int) -> None:
        for i in range(60):
            receipt = record(ctx, "subject.lookup", WHO, subject_lookups=n * 1000 + i)
            with lock:
                receipts.append(receipt)

    try:
        threads = [threading.Thread(target=append, args=(contexts[t % 2], t)) for t in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.entry_index for r in receipts) == list(range(720))
        keys = verifier_keys(contexts[0].keyring, settings.log_origin)
        for r in receipts:
            cp = open_checkpoint(r.checkpoint, keys, origin=settings.log_origin)
            proof = [base64.b64decode(h) for h in r.inclusion_proof]
            assert cp.size == r.tree_size
            leaf = leaf_hash(r.entry.encode())
            assert verify_inclusion(leaf, r.entry_index, r.tree_size, proof, cp.root)
        _intact(contexts[0], 720)
    finally:
        for ctx in contexts:
            ctx.close()


def test_a_proof_read_in_autocommit_leaves_the_pooled_connection_transactional(
    pg_url: str, tmp_path: Path
) -> None:
    ctx = GatewayContext.open(make_settings(tmp_path / "home", pg_url))
    try:
        record(ctx, "subject.lookup", WHO, subject_lookups=1)
        ctx.store.engine.dispose()  # from here on the sessions share one pooled connection
        with ctx.store.sessions() as session:
            raw = session.connection().connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            session.rollback()
        with ctx.store.sessions() as session:
            out = inclusion_proof(session, 0, 1)
            assert id(session.connection().connection.driver_connection) == id(raw)
            assert raw.autocommit  # the proof needed no transaction
            session.commit()
        assert out.leaf_hash
        with ctx.store.sessions() as session:
            assert id(session.connection().connection.driver_connection) == id(raw)
            assert not raw.autocommit  # the next user of the connection gets a transaction
    finally:
        ctx.close()
