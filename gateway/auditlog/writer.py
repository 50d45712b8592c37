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
import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, LargeBinary, Table, event, func, insert, select, update
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
from gateway.auditlog.derived import indexed_columns, subjects_digest
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEntryRow,
    AuditNode,
    AuditSequencer,
    AuditSubject,
)
from gateway.auditlog.nodestore import NodeKey, SqlNodeStore
from gateway.auditlog.tail import check_tail
from gateway.auditlog.witnessing import configured_witnesses, cosign
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


@dataclass(frozen=True)
class Built:
    """One batch made on a known head: the rows to write and the receipts they answer.

    Nothing in it may reach a caller before the transaction that writes ``tables`` has
    committed; ``head`` is what the log looks like then.
    """

    base: _Head
    head: _Head
    tables: list[tuple[Table, list[dict[str, Any]]]]
    receipts: list[Receipt]
    checkpoint_wanted: bool


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


_ENTRIES = cast(Table, AuditEntryRow.__table__)
_NODES = cast(Table, AuditNode.__table__)
_SUBJECTS = cast(Table, AuditSubject.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
_SEQUENCER = cast(Table, AuditSequencer.__table__)


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
            start = self._claim(conn, len(batch)) - len(batch)
            if head is None or head.size != start:
                with Session(bind=conn) as session:  # joins the transaction, never ends it
                    head = self._load_head(session, start, head)
        last = None
        if self.witnessed:
            # Witnessed checkpoints are stored after the commit, by another transaction.
            with Session(bind=conn) as session:
                last = self._last_checkpoint(session)
        built = self.build(batch, head, last)
        if pipelined:
            self._head = None  # until this batch commits: a retry reads the head again
            if _pipelined_insert(conn, len(batch), built.tables) != built.head.size:
                raise HeadMoved("the log grew in another process since this one wrote")
        else:
            for table, table_rows in built.tables:
                _insert_rows(conn, table, table_rows)
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
        start = head.size
        end = start + len(batch)
        nodes = _BatchNodes(start, head.frontier)
        tree = MerkleTree(nodes)
        prev = head.prev
        now = utcnow()
        stamp = now.isoformat(timespec="microseconds")
        make_mac = self.macs.make
        rows: list[dict[str, Any]] = []
        leaves: list[bytes] = []
        subjects: list[dict[str, Any]] = []
        for offset, pending in enumerate(batch):
            index = start + offset
            entry = build_entry(pending, index, prev, now, stamp)
            data = canonical_json(entry)
            digest = leaf_hash(data)
            row = _row_fields(entry, data, digest, make_mac(index, digest))
            rows.append(row)
            leaves.append(digest)
            prev = row["leaf_hash"]
            for ref in pending.subjects:
                subjects.append({"subject_ref": ref, "entry_index": index})
        tree.append_many(leaves)
        root = tree.root(end)
        note = self.signer.sign(Checkpoint(self.settings.log_origin, end, root))
        checkpoint_size, checkpoint_at = last_checkpoint or (
            head.checkpoint_size,
            head.checkpoint_at,
        )
        tables: list[tuple[Table, list[dict[str, Any]]]] = [
            (_ENTRIES, rows),
            (_NODES, [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes.new]),
            (_SUBJECTS, subjects),
        ]
        wanted = False
        if self._due(checkpoint_size, checkpoint_at, end, now):
            if self.witnessed:
                wanted = True  # made after the commit: a witness sees only trees that exist
            else:
                checkpoint = {"size": end, "root": root, "note": note, "signed_at": now}
                tables.append((_CHECKPOINTS, [checkpoint]))
                checkpoint_size, checkpoint_at = end, now
        frontier = {key: nodes.nodes[key] for key in frontier_keys(end)}
        # The receipts' paths share most of their hashes: each is folded and encoded once.
        encoded: dict[bytes, str] = {}
        receipts = []
        for offset, path in enumerate(tree.inclusion_proofs(start, end, end)):
            proof = []
            for digest in path:
                text = encoded.get(digest)
                if text is None:
                    text = encoded[digest] = base64.b64encode(digest).decode("ascii")
                proof.append(text)
            row = rows[offset]
            receipts.append(
                Receipt(
                    entry_index=start + offset,
                    leaf_hash=row["leaf_hash"],
                    recorded_at=now,
                    tree_size=end,
                    inclusion_proof=proof,
                    checkpoint=note,
                    entry=row["entry"],
                )
            )
        new_head = _Head(end, prev, frontier, checkpoint_size, checkpoint_at)
        return Built(head, new_head, tables, receipts, wanted)

    def _claim(self, conn: Connection, count: int) -> int:
        """Take the appenders' lock and ``count`` indexes; returns the new size."""
        dialect = conn.dialect
        if dialect.update_returning:
            # Driver SQL: the statement is the same every batch, nothing to build or cache.
            sql = _CLAIM if dialect.paramstyle in ("format", "pyformat") else _CLAIM_QMARK
            return int(conn.exec_driver_sql(sql, (count,)).scalar_one())
        conn.execute(
            update(_SEQUENCER).where(_SEQUENCER.c.id == 1).values(size=_SEQUENCER.c.size + count)
        )
        return int(conn.scalar(select(_SEQUENCER.c.size).where(_SEQUENCER.c.id == 1)) or 0)

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
        checkpoint_size, checkpoint_at = self._last_checkpoint(session)
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

    def _last_checkpoint(self, session: Session) -> tuple[int, datetime | None]:
        last = session.execute(
            select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.signed_at)
            .order_by(_CHECKPOINTS.c.size.desc())
            .limit(1)
        ).first()
        return (int(last[0]), last[1]) if last else (0, None)

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
        size = session.scalar(select(AuditSequencer.size).where(AuditSequencer.id == 1)) or 0
        last = session.scalar(select(func.max(AuditCheckpoint.size))) or 0
        return int(size) > int(last)

    def _signed_floor(self, session: Session, below: int) -> int:
        """Size of the newest genuine checkpoint below ``below`` (0 if none).

        A checkpoint row is only data: one inserted by hand must not mark a forged
        tail as already checked, so its signature is verified first.
        """
        rows = session.execute(
            select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.note)
            .where(_CHECKPOINTS.c.size < below)
            .order_by(_CHECKPOINTS.c.size.desc())
            .limit(_FLOOR_CANDIDATES)
        )
        for size, note in rows:
            try:
                opened = open_checkpoint(note, self.verifier_keys, origin=self.settings.log_origin)
            except CheckpointError:
                continue
            if opened.size == size:
                return int(size)
        return 0

    def _check_unsigned(self, session: Session, size: int) -> None:
        check_tail(session, self.macs, self._signed_floor(session, size), size)

    def checkpoint_now(self, session: Session) -> AuditCheckpoint | None:
        """Sign and store a checkpoint for the current size (if it has none yet).

        Raises ``UnauthenticatedEntry`` when an entry it would sign carries no valid MAC.
        """
        if self.witnessed:
            return self._witnessed_checkpoint(session)
        session.execute(
            update(AuditSequencer).where(AuditSequencer.id == 1).values(size=AuditSequencer.size)
        )
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
        last = session.scalar(
            select(AuditCheckpoint.size)
            .where(AuditCheckpoint.size < size)
            .order_by(AuditCheckpoint.size.desc())
            .limit(1)
        )
        note = cosign(
            self.settings,
            self.signer.sign(Checkpoint(self.settings.log_origin, size, root)),
            int(last or 0),
            lambda old: tree.consistency_proof(old, size),
        )
        session.execute(
            update(AuditSequencer).where(AuditSequencer.id == 1).values(size=AuditSequencer.size)
        )
        existing = session.get(AuditCheckpoint, size)
        if existing is not None:  # another process stored it while we asked the witnesses
            return existing
        row = AuditCheckpoint(size=size, root=root, note=note, signed_at=utcnow())
        session.add(row)
        session.flush()
        return row


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in this transaction.

    PostgreSQL gets COPY: SQLAlchemy's executemany there sends one INSERT per row through
    the driver's pipeline, which cost the writer more than everything else it does. SQLite
    gets the driver's executemany of a statement made once per table and column set (a
    Core insert is compiled, or looked up in the cache, every batch). The column types'
    own bind processing is applied, so the stored values are the same.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        conn.execute(insert(table), rows)
        return
    names = tuple(rows[0])
    processors = _processors(conn, table, names)
    values = [
        [row[name] if convert is None else convert(row[name]) for name, convert in processors]
        for row in rows
    ]
    columns = ", ".join(f'"{name}"' for name in names)
    if dialect == "sqlite":
        marks = ", ".join("?" * len(names))
        # Only the table's own column names are joined in; values are parameters.
        sql = f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"  # noqa: S608
        conn.exec_driver_sql(sql, [tuple(v) for v in values])
        return
    raw = conn.connection.driver_connection
    if raw is None:
        raise AuditUnavailable("the store connection is closed")
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row_values in values:
            copy.write_row(row_values)


_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], list[tuple[str, Any]]] = {}


def _processors(conn: Connection, table: Table, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(column, bind processor or None) for these columns, looked up once per dialect."""
    key = (conn.dialect.name, table.name, names)
    found = _PROCESSORS.get(key)
    if found is None:
        found = [(name, table.c[name].type.bind_processor(conn.dialect)) for name in names]
        _PROCESSORS[key] = found
    return found


def _array_literal(values: list[Any]) -> str:
    """``values`` as a PostgreSQL array literal, every element quoted as the input syntax
    wants: psycopg's own list adapter escapes element by element in Python, several times
    what everything else in an append costs."""
    parts = []
    for value in values:
        kind = type(value)  # the exact types first: nearly every value is one of them
        if kind is str:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif kind is int:
            parts.append(str(value))
        elif value is None:
            parts.append("NULL")
        else:
            parts.append(_other_literal(value))
    return "{" + ",".join(parts) + "}"


def _other_literal(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("no booleans in audit rows")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("no infinite costs in audit rows")
        return repr(float(value))  # the shortest text that reads back as this double
    if isinstance(value, str):
        text = str(value)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return '"\\\\x' + value.hex() + '"'
    if isinstance(value, datetime) and value.tzinfo is None:
        return '"' + value.isoformat(sep=" ") + '"'
    raise TypeError(f"no {type(value).__name__} in audit rows")


_UNNEST: dict[tuple[str, tuple[str, ...]], tuple[str, list[tuple[str, Any]]]] = {}


def _unnest_insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[str, list[str]]:
    """One INSERT of every row, each column one array parameter (PostgreSQL)."""
    names = tuple(rows[0])
    found = _UNNEST.get((table.name, names))
    if found is None:
        dialect = conn.dialect
        converters, casts = [], []
        for name in names:
            column_type = table.c[name].type
            # Hashes stay bytes (the driver's processor would wrap them for its adapter).
            binary = isinstance(column_type, LargeBinary)
            converters.append((name, None if binary else column_type.bind_processor(dialect)))
            casts.append(f"%s::{column_type.compile(dialect=dialect)}[]")
        columns = ", ".join(f'"{name}"' for name in names)
        # Only the table's own column names and types are joined in; values are parameters.
        sql = f"INSERT INTO {table.name} ({columns}) SELECT * FROM unnest({', '.join(casts)})"  # noqa: S608
        found = _UNNEST[(table.name, names)] = (sql, converters)
    sql, converters = found
    arrays = []
    for name, convert in converters:
        values = [row[name] for row in rows]
        arrays.append(_array_literal(values if convert is None else [convert(v) for v in values]))
    return sql, arrays


_CLAIM = "UPDATE audit_sequencer SET size = size + %s WHERE id = 1 RETURNING size"
_CLAIM_QMARK = _CLAIM.replace("%s", "?")


def _pipelined_insert(
    conn: Connection, count: int, tables: list[tuple[Table, list[dict[str, Any]]]]
) -> int:
    """Claim ``count`` indexes and insert every row, in one round trip (psycopg's pipeline
    mode: the statements run in order, the claim's row lock first). Returns the size the
    claim made; the caller commits only if it is the size the rows were built for."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise AuditUnavailable("the store connection is closed")
    try:
        statements = [_unnest_insert(conn, table, rows) for table, rows in tables if rows]
    except TypeError:  # a value without a literal form here: claim, then COPY as usual
        claimed = conn.exec_driver_sql(_CLAIM, (count,)).scalar_one()
        for table, rows in tables:
            _insert_rows(conn, table, rows)
        return int(claimed)
    claim = raw.cursor()
    try:
        with raw.pipeline():
            claim.execute(_CLAIM, (count,))
            for sql, params in statements:
                raw.cursor().execute(sql, params)
        found = claim.fetchone()
    except psycopg.Error as exc:
        # Those indexes were taken meanwhile (or the batch failed otherwise): the retry
        # claims first and reads the head, as a writer without a remembered head does.
        raise HeadMoved("the log grew in another process since this one wrote") from exc
    finally:
        claim.close()
    if found is None:
        raise AuditUnavailable("the audit sequencer row is missing")
    return int(found[0])


# The claim of a batch built ahead, refusing to go on unless it leaves exactly the size the
# rows were built for: a division by zero aborts the transaction, and the COMMIT queued
# behind it, when another process appended since (or the sequencer row is missing).
_CLAIM_EXACTLY = (
    "WITH claim AS (UPDATE audit_sequencer SET size = size + %s WHERE id = 1 RETURNING size) "
    "SELECT 1 / (SELECT COUNT(*) FROM claim WHERE size = %s)::integer"
)


def _pipelined_commit(
    conn: Connection, count: int, end: int, tables: list[tuple[Table, list[dict[str, Any]]]]
) -> bool:
    """Claim ``count`` indexes, insert every row and commit, in one round trip, if the
    claim leaves the log at ``end``; otherwise nothing is committed and ``HeadMoved`` is
    raised. False (nothing sent) when a value has no literal form here."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise AuditUnavailable("the store connection is closed")
    try:
        statements = [_unnest_insert(conn, table, rows) for table, rows in tables if rows]
    except TypeError:
        return False
    try:
        # One cursor for every statement: no result is read before the COMMIT's.
        with raw.pipeline(), raw.cursor() as cursor:
            cursor.execute(_CLAIM_EXACTLY, (count, end))
            for sql, params in statements:
                cursor.execute(sql, params)
            raw.commit()
    except psycopg.Error as exc:
        raise HeadMoved("the log grew in another process since this one wrote") from exc
    return True


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
            batch = [first]
            # Under load (the last batch had company) wait a moment for more callers: one
            # commit then serves them all. An idle gateway never waits.
            deadline = time.monotonic() + _GATHER_SECONDS if self._last_batch > 1 else 0.0
            while len(batch) < _MAX_BATCH:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and self._overlap and self._commits.full():
                    # The committer has not taken the batch before this one yet: callers
                    # arriving meanwhile join this batch instead of waiting for the next.
                    remaining = _GATHER_SECONDS / 4
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else (self._queue.get_nowait())
                    )
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(item)
                    break
                batch.append(item)
            self._last_batch = len(batch)
            if self._overlap:
                self._hand_over(batch)
            else:
                self._write(batch)

    # -- overlapped (PostgreSQL): build here, commit in the committer ---------------------

    def _hand_over(self, batch: _Batch) -> None:
        """Build ``batch`` on the predicted head (if there is one) and queue it."""
        with self._drained:
            if self._stale or self._predicted is None:
                # A batch did not commit as built (or none has yet): once everything handed
                # over is finished, the committed head is final and is built on again.
                while self._in_flight:
                    self._drained.wait()
                self._predicted, self._stale = self.appender.head, False
            base = self._predicted
            self._in_flight += 1
        built = None
        if base is not None and not self._contended():
            try:
                built = self.appender.build([w.pending for w in batch], base)
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
            with self._transaction() as conn:
                if not _pipelined_commit(conn, len(batch), built.head.size, built.tables):
                    raise HeadMoved("a value the pipelined insert cannot write")
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
