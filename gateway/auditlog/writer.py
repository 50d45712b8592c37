"""Appending to the access log: one total order, a Merkle tree, signed checkpoints.

Every append runs in a transaction that first updates the single sequencer row:
a row lock on PostgreSQL and the database write lock on SQLite, so appenders in
every gateway process take turns and indexes form one gap-free order. In that
transaction the entries (each carrying its index and the previous leaf hash),
their tree nodes and subject index rows are written, and a checkpoint is stored
when one is due. The transaction commits before any caller gets a receipt.

``AuditLog.append`` batches: a writer thread takes whatever entries are waiting
and appends them in one transaction, then wakes their callers. The guarantee is
unchanged (nobody gets a receipt before the commit) and the cost of a commit is
shared by the batch.
"""

from __future__ import annotations

import _thread
import base64
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from audit import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    MerkleTree,
    canonical_json,
    leaf_hash,
    open_checkpoint,
)
from gateway.auditlog import writer_repository as sql
from gateway.auditlog.derived import (
    INDEXED_COLUMNS,
    indexed_columns,
    indexed_values,
    subjects_digest,
)
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.models import CHECKPOINTS, ENTRIES, NODES, SUBJECTS, AuditCheckpoint
from gateway.auditlog.nodestore import NodeKey, SqlNodeStore
from gateway.auditlog.tail import check_tail
from gateway.auditlog.witnessing import configured_witnesses, cosign
from gateway.auditlog.writer_repository import Rows, Statement, Tables
from gateway.metrics import AUDIT_APPEND_SECONDS, AUDIT_BATCH_SIZE
from gateway.settings import Settings
from gateway.store.base import utcnow
from gateway.store.engine import Store

log = logging.getLogger("cdg.audit")

_MAX_BATCH = 512
_ATTEMPTS = 20
_WAIT_SECONDS = 60.0
_GATHER_SECONDS = 0.002
_CONTENDED_SECONDS = 2.0


class AuditUnavailable(RuntimeError):
    """The log could not be written; no data may be released."""


class HeadMoved(RuntimeError):
    """An optimistic batch found the log grown by another process; retried, never seen."""


@dataclass(frozen=True)
class Pending:
    entry: dict[str, Any]
    subjects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Receipt:
    entry_index: int
    leaf_hash: str
    recorded_at: datetime
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str
    entry: str

    def bundle(self) -> dict[str, Any]:
        return {
            "entry_index": self.entry_index,
            "leaf_hash": self.leaf_hash,
            "recorded_at": self.recorded_at.isoformat(),
            "tree_size": self.tree_size,
            "inclusion_proof": self.inclusion_proof,
            "checkpoint": self.checkpoint,
            "entry": self.entry,
        }


def _row_fields(
    entry: dict[str, Any], data: bytes, digest: bytes, mac: str | None = None
) -> dict[str, Any]:
    # Every column beside the entry text is derived from it (verification recomputes them),
    # except the MAC, which only the master key's holder can make.
    return {
        "index": entry["index"],
        "entry": data.decode("utf-8"),
        "leaf_hash": digest.hex(),
        "mac": mac,
        **indexed_columns(entry),
    }


def build_entry(
    pending: Pending, index: int, prev: str, now: datetime, stamp: str | None = None
) -> dict[str, Any]:
    """The entry that is hashed for ``pending`` at ``index`` (the one definition of it).

    ``stamp``, when given, is ``now`` in the entry's form (made once for a whole batch).
    """
    if stamp is None:
        stamp = now.isoformat(timespec="microseconds")
    entry = {**pending.entry, "index": index, "prev": prev, "recorded_at": stamp}
    entry.setdefault("time", stamp)
    if pending.subjects or "subject_count" in entry:
        # The subject index is committed in the entry, so it cannot be thinned.
        entry["subjects_digest"] = subjects_digest(pending.subjects)
    return entry


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees that make up ``[0, size)``: all an append builds on."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


@dataclass(frozen=True)
class _Head:
    """The committed log as this process last wrote it: enough to append without reading.

    Trusted only while the sequencer says nobody appended since (its size before our
    claim equals ``size``); otherwise it is read again from the store.
    """

    size: int
    prev: str
    frontier: dict[NodeKey, bytes]
    checkpoint_size: int
    checkpoint_at: datetime | None


@dataclass
class Built:
    """One batch made on a known head: the rows to write and the receipts they answer.

    Nothing in it may reach a caller before the transaction that writes ``tables`` has
    committed; ``head`` is what the log looks like then. ``statements`` are the inserts
    of ``tables`` as the pipelined commit sends them, when made ahead (PostgreSQL).
    """

    base: _Head
    head: _Head
    tables: Tables
    receipts: list[Receipt]
    checkpoint_wanted: bool
    statements: list[Statement] | None = None


class _BatchNodes:
    """``audit.NodeStore`` over the remembered frontier plus the nodes one batch makes."""

    def __init__(self, size: int, frontier: dict[NodeKey, bytes]) -> None:
        self.nodes = dict(frontier)
        self.new: list[tuple[int, int, bytes]] = []
        self._size = size

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        nodes = self.nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self.new.extend(nodes)
        for level, idx, digest in nodes:
            self.nodes[(level, idx)] = digest
            if level == 0:
                self._size = max(self._size, idx + 1)

    def size(self) -> int:
        return self._size


_ENTRY_COLUMNS = ("index", "entry", "leaf_hash", "mac", *INDEXED_COLUMNS)


class BatchBuilder:
    """One batch built on a known head, an entry at a time (``Appender.build`` is this).

    The writer adds each caller's entry as it arrives, so the entry's JSON, hashes and
    MAC are made while the batch is still gathering; ``finish`` adds what depends on the
    whole batch: the tree nodes, the root and its signed note, the receipts. Pure work in
    memory: nothing is read or written here.
    """

    def __init__(
        self,
        appender: Appender,
        head: _Head,
        last_checkpoint: tuple[int, datetime | None] | None = None,
    ) -> None:
        self._appender = appender
        self.base = head
        self._last_checkpoint = last_checkpoint
        self._now = utcnow()
        self._stamp = self._now.isoformat(timespec="microseconds")
        self._make_mac = appender.macs.make
        self._prev = head.prev
        self._leaves: list[bytes] = []
        # audit_entries by column, in _ENTRY_COLUMNS order; audit_subjects likewise.
        self._entries: list[list[Any]] = [[] for _ in _ENTRY_COLUMNS]
        self._refs: list[str] = []
        self._ref_entries: list[int] = []

    def __len__(self) -> int:
        return len(self._leaves)

    def add(self, pending: Pending) -> None:
        """Add ``pending`` as the batch's next entry. Raises (and adds nothing) when the
        entry cannot be written: a value canonical JSON refuses."""
        index = self.base.size + len(self._leaves)
        entry = build_entry(pending, index, self._prev, self._now, self._stamp)
        data = canonical_json(entry)
        digest = leaf_hash(data)
        leaf = digest.hex()
        # Every column beside the entry text is derived from it (verification recomputes
        # them), except the MAC, which only the master key's holder can make.
        values = (index, data.decode("utf-8"), leaf, self._make_mac(index, digest))
        for column, value in zip(self._entries, (*values, *indexed_values(entry)), strict=True):
            column.append(value)
        self._leaves.append(digest)
        self._prev = leaf
        for ref in pending.subjects:
            self._refs.append(ref)
            self._ref_entries.append(index)

    def finish(self) -> Built:
        """The batch: its rows, its receipts and the head it leaves once committed."""
        appender, head, now = self._appender, self.base, self._now
        start = head.size
        end = start + len(self._leaves)
        nodes = _BatchNodes(start, head.frontier)
        tree = MerkleTree(nodes)
        tree.append_many(self._leaves)
        root = tree.root(end)
        note = appender.signer.sign(Checkpoint(appender.settings.log_origin, end, root))
        checkpoint_size, checkpoint_at = self._last_checkpoint or (
            head.checkpoint_size,
            head.checkpoint_at,
        )
        new = nodes.new
        tables: Tables = [
            (ENTRIES, Rows(_ENTRY_COLUMNS, self._entries)),
            (
                NODES,
                Rows(
                    ("level", "idx", "hash"),
                    [[n[0] for n in new], [n[1] for n in new], [n[2] for n in new]],
                ),
            ),
            (SUBJECTS, Rows(("subject_ref", "entry_index"), [self._refs, self._ref_entries])),
        ]
        wanted = False
        if appender._due(checkpoint_size, checkpoint_at, end, now):
            if appender.witnessed:
                wanted = True  # made after the commit: a witness sees only trees that exist
            else:
                checkpoint = Rows(
                    ("size", "root", "note", "signed_at"), [[end], [root], [note], [now]]
                )
                tables.append((CHECKPOINTS, checkpoint))
                checkpoint_size, checkpoint_at = end, now
        frontier = {key: nodes.nodes[key] for key in frontier_keys(end)}
        # The receipts' paths share most of their hashes: each is folded and encoded once.
        encoded: dict[bytes, str] = {}
        receipts = []
        texts, leaves = self._entries[1], self._entries[2]
        for offset, path in enumerate(tree.inclusion_proofs(start, end, end)):
            proof = []
            for digest in path:
                text = encoded.get(digest)
                if text is None:
                    text = encoded[digest] = base64.b64encode(digest).decode("ascii")
                proof.append(text)
            receipts.append(
                Receipt(
                    entry_index=start + offset,
                    leaf_hash=leaves[offset],
                    recorded_at=now,
                    tree_size=end,
                    inclusion_proof=proof,
                    checkpoint=note,
                    entry=texts[offset],
                )
            )
        new_head = _Head(end, self._prev, frontier, checkpoint_size, checkpoint_at)
        return Built(head, new_head, tables, receipts, wanted)


class Appender:
    """Writes batches of entries inside a caller's transaction (no commit here)."""

    def __init__(
        self,
        settings: Settings,
        signer: CheckpointSigner,
        macs: EntryMacs,
        verifier_keys: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.macs = macs
        # Every signing key version's verifier key: a stored checkpoint counts only if genuine.
        self.verifier_keys = list(verifier_keys) or [signer.verifier_key]
        self.witnessed = bool(configured_witnesses(settings))
        # Set when a checkpoint is due on a witnessed log: it is made after the commit,
        # because a witness must only ever see trees that exist (a rolled-back tree it
        # cosigned would look like a fork forever after).
        self.checkpoint_wanted = False
        self._head: _Head | None = None
        # Entries [0, _checked) were written by this process or had their MACs checked by
        # it. Unlike the head, it survives another process appending: with two gateway
        # processes taking turns, each reload checks only the entries added since, not
        # every entry back to the last signed checkpoint (and that checkpoint's signature).
        self._checked = 0

    def append(self, session: Session, batch: list[Pending]) -> list[Receipt]:
        """Append ``batch`` in the session's transaction (the caller commits).

        The head this batch makes is trusted only once the session commits.
        """
        built = self.write(session.connection(), batch)
        self._remember(session, built.head)
        return built.receipts

    def write(self, conn: Connection, batch: list[Pending], *, optimistic: bool = False) -> Built:
        """Write ``batch`` in the connection's transaction; the caller commits and then
        calls ``trust(built.head)`` (a rolled-back batch must leave the old head).

        ``optimistic`` (the writer, which retries a failed transaction): on PostgreSQL,
        with a remembered head, the claim on the sequencer and every insert go to the
        server in one round trip, built on that head; the size the claim returns then
        proves nobody appended since. If someone did, ``HeadMoved`` is raised before
        anything is committed and the retry reads the head again.
        """
        head = self._head
        pipelined = optimistic and head is not None and conn.dialect.name == "postgresql"
        if head is None or not pipelined:
            start = sql.claim(conn, len(batch)) - len(batch)
            if head is None or head.size != start:
                with Session(bind=conn) as session:  # joins the transaction, never ends it
                    head = self._load_head(session, start, head)
        last = None
        if self.witnessed:
            # Witnessed checkpoints are stored after the commit, by another transaction.
            with Session(bind=conn) as session:
                last = sql.last_checkpoint(session)
        built = self.build(batch, head, last)
        if pipelined:
            self._head = None  # until this batch commits: a retry reads the head again
            try:
                claimed = sql.pipelined_insert(conn, len(batch), built.tables)
            except psycopg.Error as exc:
                # Those indexes were taken meanwhile (or the batch failed otherwise): the
                # retry claims first and reads the head, as a writer without a head does.
                raise HeadMoved("the log grew in another process since this one wrote") from exc
            except (LookupError, ConnectionError) as exc:
                raise AuditUnavailable(str(exc)) from exc
            if claimed != built.head.size:
                raise HeadMoved("the log grew in another process since this one wrote")
        else:
            for table, rows in built.tables:
                sql.insert_rows(conn, table, rows)
        if built.checkpoint_wanted:
            self.checkpoint_wanted = True
        return built

    @property
    def head(self) -> _Head | None:
        """The committed head this process knows (None: read it from the store)."""
        return self._head

    def trust(self, head: _Head | None) -> None:
        """``head`` is committed: the next batch builds on it without reading the store."""
        self._head = head
        if head is not None:
            self._checked = max(self._checked, head.size)

    def build(
        self,
        batch: list[Pending],
        head: _Head,
        last_checkpoint: tuple[int, datetime | None] | None = None,
    ) -> Built:
        """Everything ``batch`` writes on top of ``head``, and its receipts (pure work in
        memory: nothing is read or written here)."""
        builder = self.builder(head, last_checkpoint)
        for pending in batch:
            builder.add(pending)
        return builder.finish()

    def builder(
        self, head: _Head, last_checkpoint: tuple[int, datetime | None] | None = None
    ) -> BatchBuilder:
        """A batch on top of ``head``, built entry by entry as callers arrive."""
        return BatchBuilder(self, head, last_checkpoint)

    def _load_head(self, session: Session, start: int, known: _Head | None) -> _Head:
        """Read the log's head (another process appended, or this one just started).

        Entries appended since what this process knows (or since the last checkpoint) are
        about to be signed by this batch's checkpoint and receipts: each must carry a
        valid entry MAC, or nothing more is appended.
        """
        store = SqlNodeStore(session)
        if store.size() != start:
            raise AuditUnavailable("the audit tree and the sequencer disagree")
        keys = frontier_keys(start)
        found = store.get_many([*keys, (0, start - 1)] if start else keys)
        if len(found) < len(set(keys) | ({(0, start - 1)} if start else set())):
            raise AuditUnavailable("the audit tree is missing a node; run `cdg audit repair`")
        checkpoint_size, checkpoint_at = sql.last_checkpoint(session)
        if known is not None and known.size <= start:
            checked = known.size  # what this process wrote or checked already
        elif 0 < self._checked <= start:
            checked = self._checked  # the same, across heads another process moved
        else:  # a first read, or a log shorter than what was checked: from the signed floor
            checked = self._signed_floor(session, start + 1)
        check_tail(session, self.macs, checked, start)
        self._checked = start  # committed entries, whatever becomes of this transaction
        prev = found[(0, start - 1)].hex() if start else ""
        return _Head(start, prev, {k: found[k] for k in keys}, checkpoint_size, checkpoint_at)

    def _remember(self, session: Session, head: _Head) -> None:
        # Only a committed head may be trusted: a rolled-back batch leaves the old one.
        session.info[_HEAD_KEY] = head

        def committed(done: Session) -> None:
            value = done.info.pop(_HEAD_KEY, None)
            if isinstance(value, _Head):
                self.trust(value)

        def rolled_back(done: Session) -> None:
            done.info.pop(_HEAD_KEY, None)

        event.listen(session, "after_commit", committed, once=True)
        event.listen(session, "after_rollback", rolled_back, once=True)

    def _due(self, last_size: int, signed_at: datetime | None, size: int, now: datetime) -> bool:
        if signed_at is None:
            return True
        interval = timedelta(seconds=self.settings.checkpoint_every_seconds)
        return bool(
            size - last_size >= self.settings.checkpoint_every_entries
            or now - signed_at >= interval
        )

    def tail_unsigned(self, session: Session) -> bool:
        """Whether entries exist past the newest stored checkpoint."""
        return sql.tail_unsigned(session)

    def _signed_floor(self, session: Session, below: int) -> int:
        """Size of the newest genuine checkpoint below ``below`` (0 if none).

        A checkpoint row is only data: one inserted by hand must not mark a forged
        tail as already checked, so its signature is verified first.
        """
        for size, note in sql.checkpoints_below(session, below, _FLOOR_CANDIDATES):
            try:
                opened = open_checkpoint(note, self.verifier_keys, origin=self.settings.log_origin)
            except CheckpointError:
                continue
            if opened.size == size:
                return size
        return 0

    def _check_unsigned(self, session: Session, size: int) -> None:
        check_tail(session, self.macs, self._signed_floor(session, size), size)

    def checkpoint_now(self, session: Session) -> AuditCheckpoint | None:
        """Sign and store a checkpoint for the current size (if it has none yet).

        Raises ``UnauthenticatedEntry`` when an entry it would sign carries no valid MAC.
        """
        if self.witnessed:
            return self._witnessed_checkpoint(session)
        sql.lock_sequencer(session)
        tree = MerkleTree(SqlNodeStore(session))
        size = tree.size()
        if size == 0:
            return None
        existing = session.get(AuditCheckpoint, size)
        if existing is not None:
            return existing
        self._check_unsigned(session, size)
        root = tree.root(size)
        row = AuditCheckpoint(
            size=size,
            root=root,
            note=self.signer.sign(Checkpoint(self.settings.log_origin, size, root)),
            signed_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row

    def _witnessed_checkpoint(self, session: Session) -> AuditCheckpoint | None:
        """Sign, collect cosignatures (no lock held meanwhile), then store.

        Only committed entries are visible to this session, so every tree a witness
        sees exists for good. The sequencer lock is taken just for the insert.
        """
        tree = MerkleTree(SqlNodeStore(session))
        size = tree.size()
        if size == 0:
            return None
        existing = session.get(AuditCheckpoint, size)
        if existing is not None:
            return existing
        self._check_unsigned(session, size)
        root = tree.root(size)
        last = sql.checkpoint_size_below(session, size)
        note = cosign(
            self.settings,
            self.signer.sign(Checkpoint(self.settings.log_origin, size, root)),
            int(last or 0),
            lambda old: tree.consistency_proof(old, size),
        )
        sql.lock_sequencer(session)
        existing = session.get(AuditCheckpoint, size)
        if existing is not None:  # another process stored it while we asked the witnesses
            return existing
        row = AuditCheckpoint(size=size, root=root, note=note, signed_at=utcnow())
        session.add(row)
        session.flush()
        return row


_HEAD_KEY = "cdg.audit.head"
_FLOOR_CANDIDATES = 64


class _Waiter:
    """One caller's entry and the place its receipt (or failure) is handed over: a lock
    the caller blocks on, released once by the writer (a ``Future`` costs several times
    more per append, in locks and a condition variable)."""

    __slots__ = ("_lock", "_settled", "error", "pending", "receipt")

    def __init__(self, pending: Pending) -> None:
        self.pending = pending
        self.receipt: Receipt | None = None
        self.error: BaseException | None = None
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self._settled = False

    def wait(self, timeout: float) -> Receipt:
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError("no answer from the audit writer")
        if self.receipt is None:
            raise self.error or AuditUnavailable("no receipt")
        return self.receipt

    def done(self, receipt: Receipt) -> None:
        if not self._settled:
            self._settled = True
            self.receipt = receipt
            self._lock.release()

    def fail(self, error: BaseException) -> None:
        if not self._settled:
            self._settled = True
            self.error = error
            self._lock.release()


_Batch = list[_Waiter]


class AuditLog:
    """The process's audit writer: a thread that appends waiting entries in batches.

    On PostgreSQL (without witnesses) the work is split in two threads so that a batch is
    built while the one before it commits: the writer thread gathers and builds batches on
    the head the batch before will leave, and a committer thread writes each in one round
    trip, commits, and only then answers its callers. The committer takes batches in order
    on one connection; a batch whose base is not the head committed just before it (the
    previous one failed, or another process appended) is appended afresh on the stored
    head, as a batch without overlap is.
    """

    def __init__(self, store: Store, appender: Appender) -> None:
        self.store = store
        self.appender = appender
        self._queue: queue.SimpleQueue[_Waiter] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._last_batch = 0
        self._conn: Connection | None = None  # the committing thread's own (server stores)
        self._overlap = store.engine.dialect.name == "postgresql" and not appender.witnessed
        # Built batches on their way to the committer: one committing, one waiting.
        self._commits: queue.Queue[tuple[_Batch, Built | None] | None] = queue.Queue(1)
        self._committer: threading.Thread | None = None
        # The writer thread's side: the head its last batch leaves once committed (None:
        # read the committed one), and how many handed-over batches the committer has not
        # finished; _stale when one did not commit as built.
        self._predicted: _Head | None = None
        self._in_flight = 0
        self._stale = False
        # Until then another process was seen appending: batches claim their indexes first
        # instead of being built ahead on a head the other process keeps moving (each such
        # batch was built, sent and rolled back before being appended afresh).
        self._contended_until = 0.0
        self._drained = threading.Condition(threading.Lock())

    def append(self, pending: Pending) -> Receipt:
        """Append one entry; returns only after its transaction has committed."""
        waiter = _Waiter(pending)
        self._ensure_thread()
        self._queue.put(waiter)
        try:
            return waiter.wait(_WAIT_SECONDS)
        except Exception as exc:
            raise AuditUnavailable("the access log could not be written") from exc

    def append_in(self, session: Session, pending: Pending) -> Receipt:
        """Append within the caller's transaction; it commits with the caller's change."""
        return self.appender.append(session, [pending])[0]

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                if self._overlap:
                    self._committer = threading.Thread(
                        target=self._commit_loop, name="audit-committer", daemon=True
                    )
                    self._committer.start()
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def start(self) -> None:
        """Run the writer now (a serving gateway), so an idle log still gets checkpoints."""
        self._ensure_thread()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.appender.settings.checkpoint_every_seconds)
            except queue.Empty:
                self._idle_checkpoint()
                continue
            if first is _STOP:
                self._stop_committer()
                return
            if self._overlap:
                # Each caller's entry is built as it joins the batch, while the batch
                # before it commits: what is left once the batch closes is the tree.
                builder = self._open_batch()
                batch: _Batch = []
                for waiter in self._gathered(first):
                    self._add(builder, batch, waiter)
                self._close_batch(batch, builder)
            else:
                self._write(list(self._gathered(first)))

    def _gathered(self, first: _Waiter) -> Iterator[_Waiter]:
        """``first`` and the callers who join its batch."""
        yield first
        taken = 1
        # Under load (the last batch had company) wait a moment for more callers: one
        # commit then serves them all. An idle gateway never waits. Once as many have come
        # as the last batch had (its callers, back with their next entry), nobody more is
        # waited for: those already waiting still join.
        expected = self._last_batch
        deadline = time.monotonic() + _GATHER_SECONDS if expected > 1 else 0.0
        while taken < _MAX_BATCH:
            remaining = deadline - time.monotonic() if taken < expected else 0.0
            if remaining <= 0 and self._overlap and self._commits.full():
                # The committer has not taken the batch before this one yet: callers
                # arriving meanwhile join this batch instead of waiting for the next.
                remaining = _GATHER_SECONDS / 4
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(item)
                break
            yield item
            taken += 1
        self._last_batch = taken

    # -- overlapped (PostgreSQL): build here, commit in the committer ---------------------

    def _hand_over(self, batch: _Batch) -> None:
        """Build ``batch`` on the predicted head (if there is one) and queue it."""
        builder = self._open_batch()
        kept: _Batch = []
        for waiter in batch:
            self._add(builder, kept, waiter)
        self._close_batch(batch if len(kept) == len(batch) else kept, builder)

    def _open_batch(self) -> BatchBuilder | None:
        """Take the next place in the committer's order; a builder on the head the batch
        before leaves (None: the batch claims its indexes first, in ``_write``)."""
        with self._drained:
            if self._stale or self._predicted is None:
                # A batch did not commit as built (or none has yet): once everything handed
                # over is finished, the committed head is final and is built on again.
                while self._in_flight:
                    self._drained.wait()
                self._predicted, self._stale = self.appender.head, False
            base = self._predicted
            self._in_flight += 1
        if base is None or self._contended():
            return None
        return self.appender.builder(base)

    def _add(self, builder: BatchBuilder | None, batch: _Batch, waiter: _Waiter) -> None:
        if builder is not None:
            try:
                builder.add(waiter.pending)
            except Exception as exc:  # this caller's entry cannot be written; the others can
                waiter.fail(AuditUnavailable(type(exc).__name__))
                return
        batch.append(waiter)

    def _close_batch(self, batch: _Batch, builder: BatchBuilder | None) -> None:
        """Finish ``batch`` (if built ahead) and queue it for the committer."""
        if not batch:
            self._landed()
            return
        built = None
        if builder is not None:
            try:
                built = builder.finish()
                # The statements' text is made here, not on the committer's critical path.
                built.statements = sql.unnest_statements(self.store.engine.dialect, built.tables)
            except Exception as exc:  # never leave a caller waiting
                self._finish(batch, None, exc)
                self._landed()
                return
            self._predicted = built.head
        self._commits.put((batch, built))

    def _contended(self) -> bool:
        return time.monotonic() < self._contended_until

    def _landed(self) -> None:
        with self._drained:
            self._in_flight -= 1
            self._drained.notify_all()

    def _commit_loop(self) -> None:
        while True:
            item = self._commits.get()
            if item is None:
                return
            batch, built = item
            try:
                if built is None or not self._commit_built(batch, built):
                    self._write(batch)
            finally:
                self._landed()

    def _commit_built(self, batch: _Batch, built: Built) -> bool:
        """Write and commit a batch built ahead; False if it must be appended afresh."""
        appender = self.appender
        if built.base is not appender.head:
            self._stale = True  # built on a batch that did not commit as built
            return False
        started = time.perf_counter()
        appender.trust(None)  # until this batch commits
        try:
            statements = built.statements
            if statements is None:
                statements = sql.unnest_statements(self.store.engine.dialect, built.tables)
            if statements is None:
                raise HeadMoved("a value the pipelined insert cannot write")
            with self._transaction() as conn:
                sql.pipelined_commit(conn, len(batch), built.head.size, statements)
        except Exception:  # rolled back: appended afresh, on the stored head
            self._stale = True
            self._contended_until = time.monotonic() + _CONTENDED_SECONDS
            return False
        appender.trust(built.head)
        self._finish(batch, built.receipts, None, started)
        return True

    def _stop_committer(self) -> None:
        if self._committer is not None:
            self._commits.put(None)
            self._committer.join(timeout=10)

    # -- one batch in one transaction -------------------------------------------------------

    def _write(self, batch: _Batch) -> None:
        started = time.perf_counter()
        pendings = [w.pending for w in batch]
        for attempt in range(_ATTEMPTS):
            try:
                with self._transaction() as conn:
                    built = self.appender.write(conn, pendings, optimistic=not self._contended())
            except (IntegrityError, DBAPIError, HeadMoved) as exc:
                self._contended_until = time.monotonic() + _CONTENDED_SECONDS
                if attempt + 1 < _ATTEMPTS:
                    continue
                self._finish(batch, None, AuditUnavailable(type(exc).__name__))
                return
            except Exception as exc:  # never leave a caller waiting
                self._finish(batch, None, AuditUnavailable(type(exc).__name__))
                return
            self.appender.trust(built.head)  # committed: only now the head is trusted
            self._finish(batch, built.receipts, None, started)
            if self.appender.checkpoint_wanted:
                self._witnessed_checkpoint()
            return

    def _finish(
        self,
        batch: _Batch,
        receipts: list[Receipt] | None,
        error: BaseException | None,
        started: float | None = None,
    ) -> None:
        """Answer every caller of ``batch``: receipts only after the commit, else the error."""
        if receipts is None:
            failure = error if isinstance(error, AuditUnavailable) else None
            for waiter in batch:
                waiter.fail(failure or AuditUnavailable(type(error).__name__))
            return
        if started is not None:
            AUDIT_APPEND_SECONDS.observe(time.perf_counter() - started)  # committed
        AUDIT_BATCH_SIZE.observe(len(batch))
        for waiter, receipt in zip(batch, receipts, strict=True):
            waiter.done(receipt)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """The writer's transaction: committed on leaving, rolled back on an error.

        A plain connection (no ORM session: nothing here needs its unit of work). On a
        server store the committing thread keeps its own connection: a pooled one is
        checked (a round trip) every time it is taken, once per batch. A connection that
        saw an error is closed and the next batch opens another.
        """
        if self.store.engine.dialect.name == "sqlite":
            with self.store.writing_connection() as conn:
                yield conn
            return
        if self._conn is None:
            self._conn = self.store.engine.connect()
        try:
            with self._conn.begin():
                yield self._conn
        except BaseException:
            conn, self._conn = self._conn, None
            with suppress(Exception):  # already broken: nothing left to release
                conn.close()
            raise

    def _witnessed_checkpoint(self) -> None:
        self.appender.checkpoint_wanted = False
        try:
            with self.store.transaction() as session:
                self.appender.checkpoint_now(session)
        except Exception as exc:  # the entries are committed; the next due checkpoint retries
            log.warning("witnessed checkpoint not stored: %s", type(exc).__name__)

    def _idle_checkpoint(self) -> None:
        # Entries appended since the last checkpoint get one within the interval even when
        # nothing more is appended: an unsigned tail is what an insider could drop unseen.
        try:
            with self.store.transaction() as session:
                due = self.appender.tail_unsigned(session)
            if due and self.appender.witnessed:
                self._witnessed_checkpoint()  # no write lock held while witnesses answer
            elif due:
                with self.store.writing() as session:
                    self.appender.checkpoint_now(session)
        except Exception as exc:  # the next interval retries
            log.warning("periodic checkpoint not stored: %s", type(exc).__name__)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=10)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_STOP = _Waiter(Pending(entry={"event": "stop"}))
