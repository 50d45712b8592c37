"""Checking one aligned range of stored entries: the per-entry half of ``verify_store``.

A range starts at a multiple of its length ``2**level``, so every tree node its leaves
complete (up to ``level``) lies inside it, and the root of any prefix of the log is the
fold of the perfect subtrees before the range with the range's own partial root. A range
can therefore be checked on its own, in another process, and the results joined in index
order (``gateway.auditlog.store_verify``): only the chain link into the range's first
entry, the time order across the boundary and the nodes above ``level`` are left to the
join.

Per entry, in this order (the same checks and problem kinds as ``verify`` and
``DerivedChecks``, which read the log in one stream): its position, its leaf hash, the
index it claims, the tree's leaf, the previous-leaf link, the indexed columns, the time
order, the subject index rows, the entry MAC, and the tree nodes it completes. The entry
text is read for the dozen fields these checks need with a typed decoder that skips the
rest; an entry that decoder refuses is parsed whole, as before, so nothing is decided on
a partial reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from typing import Any, cast

import msgspec
import orjson
from sqlalchemy import Connection, String, Table, and_, case, or_, select, type_coerce

from audit import node_hash
from gateway.auditlog.derived import (
    column_mismatches,
    indexed_values,
    stored_text,
    subject_mismatch,
    subjects_digest,
)
from gateway.auditlog.derived_checks import (
    CHANGED_COLUMN,
    CHANGED_NODE,
    CHANGED_SUBJECT_INDEX,
    FORGED_ENTRY_MAC,
)
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.models import AuditEntryRow, AuditNode, AuditSubject
from gateway.auditlog.repository import readable_time
from gateway.auditlog.time_order import TIME_REVERSED, TimeOrder
from gateway.auditlog.verify import Problem

_ENTRIES = cast(Table, AuditEntryRow.__table__)
_NODES = cast(Table, AuditNode.__table__)
_SUBJECTS = cast(Table, AuditSubject.__table__)
_PROBLEM_CAP = 101  # as the one-stream verifier: past 100 problems the rest is noise
_FETCH = 10_000
_UNREADABLE_TIME = "(a time that does not read back)"  # equals no entry's time
_NO_SUBJECTS = subjects_digest([])  # most entries: a commitment to no residents


class _Head(msgspec.Struct):
    """The fields of an entry that verification reads; the decoder skips all others."""

    index: Any = None
    prev: Any = None
    recorded_at: Any = None
    principal: Any = None
    dataset: Any = None
    purpose: Any = None
    event: Any = None
    decision: Any = None
    row_count: Any = None
    privacy_cost: Any = None
    subjects_digest: Any = None
    subject_count: Any = None


_DECODE_HEAD = msgspec.json.Decoder(_Head).decode
_AS_DICT = msgspec.structs.asdict


@dataclass(frozen=True)
class RangeJob:
    start: int  # first position of the range (a multiple of 2**level)
    stop: int  # one past its last position
    level: int  # log2 of the range length: nodes up to this level are checked here
    targets: tuple[int, ...]  # checkpoint sizes in (start, stop] whose roots are wanted
    first: bool = False  # the first range also reads entries at negative indexes
    last: bool = False  # the last range also reads entries past ``stop``
    # Every index below ``stop`` is stored in an intact log (it is at most the highest
    # stored index + 1): a range that ends short has lost its last entries, or all of them.
    filled: bool = False


@dataclass
class RangeResult:
    start: int
    position: int  # one past the last entry checked
    gap: Problem | None = None  # the log stops being contiguous here (nothing after counts)
    core: list[Problem] = field(default_factory=list)  # kinds of ``verify``
    derived: list[Problem] = field(default_factory=list)  # kinds of ``DerivedChecks``
    # (index, claimed prev) of the first entry when it got as far as the chain check.
    chain: tuple[int, str | None] | None = None
    last_digest: str = ""
    roots: dict[int, bytes] = field(default_factory=dict)  # size -> root of [start, size)
    top: bytes | None = None  # root of the whole range from the entries (a full range)
    node_top: bytes | None = None  # the same node from the tree's stored leaves
    first_time: tuple[int, datetime] | None = None
    last_time: tuple[int, datetime] | None = None
    unmacked: list[list[int]] = field(default_factory=list)
    missing: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, idx, hash)


def _blob(value: object) -> bytes:
    """A stored hash as bytes; a value of another type (text) becomes bytes that match nothing."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "replace")


def _int(value: object) -> object:
    try:
        return None if value is None else int(cast(Any, value))
    except (TypeError, ValueError):
        return value  # a stored value of another type: it will not match the entry


def _float(value: object) -> object:
    try:
        return None if value is None else float(cast(Any, value))
    except (TypeError, ValueError):
        return value


def _parse_whole(text: str) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # orjson refuses some valid JSON (integers past 64 bits)
            entry = json.loads(text)
        except ValueError:
            return None  # the leaf hash check reports a damaged entry
    return entry if isinstance(entry, dict) else None


def _read(text: str, data: bytes) -> dict[str, Any] | None:
    """The entry's fields (those verification reads), or None when it is no JSON object.

    Reading a missing field and a null one is the same for every check (``get``), so the
    typed decoder's defaults stand for absent fields.
    """
    try:
        return _AS_DICT(_DECODE_HEAD(data))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _parse_whole(text)


def _columns_ok(values: tuple[Any, ...], stored: tuple[Any, ...]) -> bool:
    """True when the stored columns certainly equal the entry's ``indexed_values``;
    False means ``column_mismatches`` must decide."""
    if values[1:] != stored[1:]:
        return False
    when, have = values[0], stored[0]
    if when is None:
        return True
    if isinstance(have, datetime):
        # A naive stored time is UTC (how the store keeps it); equal means the same instant.
        return bool(have == (when.replace(tzinfo=None) if have.tzinfo is None else when))
    return isinstance(have, str) and have == stored_text(when)


def _entries_query(job: RangeJob, dialect: str) -> Any:
    leaf = _NODES.alias("leaf")
    e = _ENTRIES.c
    readable = readable_time(dialect)
    # The leaves' bounds are implied by the entries' (leaf.idx = index), but stated they let
    # PostgreSQL read just the range's leaves in index order: without them it sorted every
    # leaf of the log for each range (on disk, at a million entries).
    on = (leaf.c.level == 0) & (leaf.c.idx == e.index)
    if not job.first:
        on &= leaf.c.idx >= job.start
    if not job.last:
        on &= leaf.c.idx < job.stop
    stmt = (
        select(
            e.index,
            e.entry,
            e.leaf_hash,
            leaf.c.hash,
            # As stored: SQLite keeps text, and only its exact form is the derived value.
            # A PostgreSQL time no datetime holds (infinity) would fail the whole read:
            # it is read as null and flagged (the last column) instead.
            type_coerce(case((readable, e.recorded_at), else_=None), String),
            e.principal,
            e.dataset,
            e.purpose,
            e.event,
            e.decision,
            e.row_count,
            e.privacy_cost,
            e.mac,
            case((readable, False), (e.recorded_at.is_(None), False), else_=True),
        )
        .outerjoin(leaf, on)
        .order_by(e.index)
    )
    if not job.first:
        stmt = stmt.where(e.index >= job.start)
    if not job.last:
        stmt = stmt.where(e.index < job.stop)
    return stmt


def _subjects(conn: Connection, job: RangeJob) -> dict[int, list[str]]:
    s = _SUBJECTS.c
    found: dict[int, list[str]] = {}
    rows = conn.execute(
        select(s.entry_index, s.subject_ref).where(
            s.entry_index >= job.start, s.entry_index < job.stop
        )
    )
    for index, ref in rows:
        found.setdefault(int(index), []).append(str(ref))
    return found


def _nodes(conn: Connection, job: RangeJob) -> dict[tuple[int, int], bytes]:
    """Stored interior nodes (levels 1..level) whose last leaf lies in the range."""
    n = _NODES.c
    terms = []
    for level in range(1, job.level + 1):
        lo = -(-(job.start + 1) // (1 << level)) - 1
        hi = job.stop // (1 << level) - 1
        if lo <= hi:
            terms.append(and_(n.level == level, n.idx >= lo, n.idx <= hi))
    if not terms:
        return {}
    rows = conn.execute(select(n.level, n.idx, n.hash).where(or_(*terms)))
    return {(int(level), int(idx)): _blob(digest) for level, idx, digest in rows}


def check_range(conn: Connection, job: RangeJob, macs: EntryMacs | None) -> RangeResult:
    """Read and check the entries of ``job`` on ``conn`` (one pass, streamed)."""
    subjects = _subjects(conn, job)
    stored_nodes = _nodes(conn, job)
    stmt = _entries_query(job, conn.dialect.name)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql" and raw is not None:
        # The driver's own server-side cursor: plain tuples, no per-row result processing
        # (a million rows); the statement is the same one, compiled for this dialect.
        compiled = stmt.compile(dialect=conn.dialect)
        with raw.cursor(name=f"cdg_verify_{job.start}") as cursor:
            cursor.itersize = _FETCH
            cursor.execute(str(compiled), compiled.params)
            return _check_rows(_fetched(cursor), job, macs, subjects, stored_nodes)
    rows = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(stmt)
    try:
        return _check_rows(rows, job, macs, subjects, stored_nodes)
    finally:
        rows.close()


def _fetched(cursor: Any) -> Iterator[Sequence[Any]]:
    """The cursor's rows, ``_FETCH`` at a time: iterating a server-side cursor fetches
    row by row through the driver's Python code, a few microseconds per row."""
    while rows := cursor.fetchmany(_FETCH):
        yield from rows


def _check_rows(  # one tight loop, run a million times: kept in one piece
    rows: Iterable[Sequence[Any]],
    job: RangeJob,
    macs: EntryMacs | None,
    subjects: dict[int, list[str]],
    stored_nodes: dict[tuple[int, int], bytes],
) -> RangeResult:
    result = RangeResult(start=job.start, position=job.start)
    core, derived = result.core, result.derived
    targets = set(job.targets)
    mac_valid = macs.checker() if macs is not None else None
    order = TimeOrder()
    acc: list[tuple[int, bytes]] = []  # (level, hash): the entries' own subtrees
    tree: list[tuple[int, bytes]] | None = None  # the stored leaves' subtrees, once they differ
    seen: set[int] = set()
    prev: str | None = "" if job.start == 0 else None  # unknown before a later range
    position = job.start
    start = job.start
    leaf_prefix = b"\x00"
    node_prefix = b"\x01"

    def problem(into: list[Problem], index: int, kind: str, message: str) -> None:
        if len(into) < _PROBLEM_CAP:
            into.append(Problem(index, kind, message))

    for row in rows:
        index = row[0]
        if index != position:
            kind = "missing_entry" if index > position else "reordered_entries"
            result.gap = Problem(
                position, kind, f"entry {position}: expected next, found index {index}"
            )
            break
        text = row[1]
        if type(text) is str:
            data = text.encode("utf-8")
            entry = _read(text, data)
        else:
            # Not the text the writer stores (a blob, invalid UTF-8): hashed as the bytes
            # it holds, so the leaf hash locates it, and changed whatever it hashes to.
            data, entry = _blob(text), None
        digest = sha256(leaf_prefix + data).digest()
        hexed = digest.hex()
        if entry is None:
            claimed_index, claimed_prev = None, None
        else:
            claimed = entry.get("index")
            claimed_index = claimed if isinstance(claimed, int) else None
            claimed_p = entry.get("prev")
            claimed_prev = claimed_p if isinstance(claimed_p, str) else None
        node = row[3]
        if node is not None and type(node) is not bytes:
            node = _blob(node)
        # The entry itself (the checks of ``verify``, first failing one reported).
        if hexed != row[2] or type(text) is not str:
            problem(
                core,
                position,
                "changed_entry",
                f"entry {position}: content does not match its leaf hash"
                if type(text) is str
                else f"entry {position}: content is not stored as text",
            )
        elif claimed_index != position:
            problem(
                core,
                position,
                "reordered_entries",
                f"entry {position}: it was written as entry {claimed_index}",
            )
        elif node is not None and node != digest:
            problem(
                core,
                position,
                "changed_entry",
                f"entry {position}: the Merkle tree holds another entry here",
            )
        elif prev is None:
            result.chain = (position, claimed_prev)  # the join checks the link into the range
        elif claimed_prev != prev:
            problem(
                core,
                position,
                "broken_chain",
                f"entry {position}: the entry before it was changed, removed or inserted",
            )
        prev = hexed
        # What the store keeps beside the entry.
        if entry is not None:
            stored = (
                _UNREADABLE_TIME if row[13] else row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                row[9],
                _int(row[10]),
                _float(row[11]),
            )
            values = indexed_values(entry)
            if not _columns_ok(values, stored):
                wrong = column_mismatches(entry, stored)
                if wrong:
                    problem(
                        derived,
                        index,
                        CHANGED_COLUMN,
                        f"entry {index}: stored {', '.join(wrong)} differ from the entry",
                    )
            when = values[0]
            if when is not None:
                if result.first_time is None:
                    result.first_time = (index, when)
                result.last_time = (index, when)
                reversed_time = order.step(index, when)
                if reversed_time is not None:
                    problem(derived, index, TIME_REVERSED, reversed_time)
            refs = subjects.get(index)
            why = (
                None
                if refs is None and entry.get("subjects_digest") == _NO_SUBJECTS
                else subject_mismatch(entry, refs or [])
            )
            if why is not None:
                problem(
                    derived,
                    index,
                    CHANGED_SUBJECT_INDEX,
                    f"entry {index}: subject index {why}",
                )
        if mac_valid is not None:
            mac = row[12]
            if mac is None:
                runs = result.unmacked
                if runs and runs[-1][1] == index - 1:
                    runs[-1][1] = index
                else:
                    runs.append([index, index])
            elif type(mac) is not str or not mac_valid(index, digest, mac):
                problem(
                    derived,
                    index,
                    FORGED_ENTRY_MAC,
                    f"entry {index}: its MAC does not verify (not written by the gateway)",
                )
        # The tree: interior nodes are checked against the tree's own leaves (an edited
        # entry is the leaf check's finding, not every node above it), the root against
        # the entries.
        if node is None:
            node = digest
            result.missing.append((0, index, node))
        elif len(node) != 32:
            problem(derived, index, CHANGED_NODE, f"tree node 0/{index} is not a 32-byte hash")
            node = digest  # reported once here, not again at every node above it
        if tree is None and node != digest:
            tree = list(acc)  # the two stacks part here; until now they were one
        level, value = 0, digest
        while acc and acc[-1][0] == level:
            value = sha256(node_prefix + acc.pop()[1] + value).digest()
            level += 1
            if tree is None:
                _check_node(level, index, value, stored_nodes, result, derived)
        acc.append((level, value))
        if tree is not None:
            level, value = 0, node
            while tree and tree[-1][0] == level:
                value = sha256(node_prefix + tree.pop()[1] + value).digest()
                level += 1
                _check_node(level, index, value, stored_nodes, result, derived)
            tree.append((level, value))
        seen.add(index)
        position += 1
        if position in targets:
            result.roots[position] = _fold(acc)
    if result.gap is None and job.filled and position < job.stop:
        # Where the single stream stops too: at the first missing index, not at the
        # broken link into the next range.
        result.gap = Problem(
            position, "missing_entry", f"entry {position}: expected next, found none"
        )
    result.position = position
    result.last_digest = prev or ""
    if position - start == 1 << job.level and acc:
        result.top = acc[-1][1]
        result.node_top = (tree or acc)[-1][1]
    for index in sorted(set(subjects) - seen):
        if result.gap is not None and index > position:
            break  # past a gap nothing is read: those entries are not known to be missing
        problem(derived, index, CHANGED_SUBJECT_INDEX, "index rows for an entry not stored")
    return result


def _check_node(
    level: int,
    last_leaf: int,
    value: bytes,
    stored: dict[tuple[int, int], bytes],
    result: RangeResult,
    derived: list[Problem],
) -> None:
    idx = (last_leaf + 1) // (1 << level) - 1
    have = stored.get((level, idx))
    if have is None:
        result.missing.append((level, idx, value))
    elif have != value and len(derived) < _PROBLEM_CAP:
        derived.append(
            Problem(last_leaf, CHANGED_NODE, f"tree node {level}/{idx} does not hash its entries")
        )


def _fold(stack: list[tuple[int, bytes]]) -> bytes:
    digest = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        digest = node_hash(left, digest)
    return digest
