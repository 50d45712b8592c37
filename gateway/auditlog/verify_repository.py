"""The statements verification reads the stored log with (``store_verify``, ``range_checks``).

Verification reads everything once, in aligned ranges of entries (see
``gateway.auditlog.range_checks``); for a range it reads the subject index rows, the tree
nodes up to the range's level (one ordered statement per level) and the entries with
their indexed columns and MACs, in index order.

On PostgreSQL the entries are read through the driver itself, in chunks of
``ENTRY_CHUNK`` entries, by a thread that fetches the next chunk while the caller checks
the one before (the server's work and the checking overlap instead of taking turns), in
psycopg's binary format (no text to format on the server and to parse here), and with the
entry as its UTF-8 bytes (the bytes that are hashed, without decoding them to text and
encoding them back). Other stores are read through SQLAlchemy as stored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Select,
    String,
    bindparam,
    case,
    func,
    literal,
    select,
    type_coerce,
)

from gateway.auditlog.models import CHECKPOINTS, ENTRIES, NODES, SEQUENCER, SUBJECTS
from gateway.auditlog.repository import readable_time

ENTRY_CHUNK = 8192  # entries per statement on PostgreSQL: about 11 MB of rows
_FETCH = 10_000  # rows per fetch when streaming through SQLAlchemy
_LOWEST = -(2**63)  # a BIGINT bound that excludes nothing
_HIGHEST = 2**63 - 1

# The columns of an entry row, in this order (``range_checks`` reads them by position):
# index, entry, leaf_hash, recorded_at, principal, dataset, purpose, event, decision,
# row_count, privacy_cost, mac, and whether the stored recorded_at is null (recorded_at is
# read as null also when it holds a time that does not read back).
# recorded_at .. privacy_cost (positions 3 to 10) are the indexed columns as stored.


@dataclass(frozen=True)
class LogHead:
    """What verification starts from: the stored checkpoints (size, root, note) in size
    order, the sequencer's size and the highest stored index (None when none)."""

    checkpoints: list[tuple[int, bytes, str]]
    sequencer: int | None
    highest: int | None


def log_head(conn: Connection) -> LogHead:
    # Checkpoints first, then both sizes in one statement: appends committed meanwhile
    # can only add entries past what is read, never a checkpoint past the log.
    c = CHECKPOINTS.c
    checkpoints = [
        (size, bytes(root), note)
        for size, root, note in conn.execute(select(c.size, c.root, c.note).order_by(c.size))
        # A size or note of another type is no checkpoint (``stray_rows`` counts it).
        if type(size) is int and type(note) is str and isinstance(root, bytes | memoryview)
    ]
    sequencer, highest = conn.execute(
        select(
            select(SEQUENCER.c.size).where(SEQUENCER.c.id == 1).scalar_subquery(),
            select(func.max(ENTRIES.c.index)).scalar_subquery(),
        )
    ).one()
    return LogHead(
        checkpoints,
        None if sequencer is None else int(sequencer),
        None if highest is None else int(highest),
    )


def nodes_above(conn: Connection, level: int) -> dict[tuple[int, int], bytes]:
    """Every stored tree node above ``level`` (the few that span several ranges)."""
    n = NODES.c
    rows = conn.execute(select(n.level, n.idx, n.hash).where(n.level > level))
    return {(lv, ix): bytes(h) for lv, ix, h in rows if type(lv) is int and type(ix) is int}


@dataclass
class RangeRows:
    """What is stored for one range of entries."""

    subjects: dict[int, list[str]]  # entry index -> its SubjectRefs
    # level -> (idx, hash as stored) in idx order, levels 0..level; level 0 holds the
    # leaves of the entries read, the others the nodes whose last leaf is in the range.
    nodes: dict[int, tuple[list[int], list[Any]]]
    entries: Iterator[Sequence[Any]]  # rows in the column order above, by index
    # The entry arrives as the UTF-8 bytes of the stored text (PostgreSQL): always text.
    utf8: bool
    # row_count and privacy_cost arrive as the columns' types (int, float) or None.
    typed: bool


@contextmanager
def read_range(
    conn: Connection, start: int, stop: int, level: int, *, first: bool, last: bool
) -> Iterator[RangeRows]:
    """The rows of positions ``[start, stop)`` (``first``: also negative indexes; ``last``:
    also indexes past ``stop``); the entries are read while the caller iterates them."""
    subjects = _subjects(conn, start, stop)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql" and raw is not None:
        nodes = _nodes(
            lambda sql, params: _driver_rows(raw, sql, params),
            conn,
            start,
            stop,
            level,
            first,
            last,
        )
        stmt = _entries_statement(conn.dialect.name, first=False, last=False, utf8=True)
        compiled = stmt.compile(dialect=conn.dialect)
        sql, fixed = str(compiled), dict(compiled.params)
        bounds = _chunks(start, stop, first=first, last=last)
        entries = _prefetched(
            lambda lo, hi: _driver_rows(raw, sql, {**fixed, "lo": lo, "hi": hi}), bounds
        )
        try:
            yield RangeRows(subjects, nodes, entries, utf8=True, typed=True)
        finally:
            entries.close()  # stops the fetching thread when the caller stopped early
        return
    nodes = _nodes(
        lambda stmt, params: list(conn.execute(stmt, params)), conn, start, stop, level, first, last
    )
    stmt = _entries_statement(conn.dialect.name, first=first, last=last, utf8=False)
    result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(
        stmt, {"lo": start, "hi": stop}
    )
    try:
        yield RangeRows(subjects, nodes, iter(result), utf8=False, typed=False)
    finally:
        result.close()


def _subjects(conn: Connection, start: int, stop: int) -> dict[int, list[str]]:
    s = SUBJECTS.c
    found: dict[int, list[str]] = {}
    rows = conn.execute(
        select(s.entry_index, s.subject_ref).where(s.entry_index >= start, s.entry_index < stop)
    )
    for index, ref in rows:
        # A row at a non-integer position (SQLite keeps 56.25 in an integer column) belongs
        # to no entry: it is not read as entry 56's (``stray_rows`` counts it).
        if type(index) is int:
            found.setdefault(index, []).append(str(ref))
    return found


def _nodes(
    run: Callable[[Any, dict[str, int]], Sequence[Sequence[Any]]],
    conn: Connection,
    start: int,
    stop: int,
    level: int,
    first: bool,
    last: bool,
) -> dict[int, tuple[list[int], list[Any]]]:
    """Stored nodes of levels 0..``level`` whose last leaf lies in the range, one ordered
    statement per level (each an index range scan, no sort)."""
    n = NODES.c
    stmt: Any = (
        select(n.idx, n.hash)
        .where(
            n.level == bindparam("level"),
            n.idx >= bindparam("lo"),
            n.idx <= bindparam("hi"),
        )
        .order_by(n.idx)
    )
    if conn.dialect.name == "postgresql":
        stmt = str(stmt.compile(dialect=conn.dialect))
    out: dict[int, tuple[list[int], list[Any]]] = {}
    for lv in range(level + 1):
        if lv == 0:
            # The leaves read beside the entries (their bounds are the entries').
            lo, hi = (_LOWEST if first else start), (_HIGHEST if last else stop - 1)
        else:
            lo = -(-(start + 1) // (1 << lv)) - 1
            hi = stop // (1 << lv) - 1
            if lo > hi:
                continue
        # A node at a non-integer position is at none (``stray_rows`` counts it).
        rows = [r for r in run(stmt, {"level": lv, "lo": lo, "hi": hi}) if type(r[0]) is int]
        out[lv] = ([r[0] for r in rows], [r[1] for r in rows])
    return out


def _entries_statement(dialect: str, *, first: bool, last: bool, utf8: bool) -> Select[Any]:
    e = ENTRIES.c
    readable = readable_time(dialect)
    stmt = select(
        e.index,
        # PostgreSQL's text is valid in the server's encoding: converted, it is the UTF-8
        # bytes the writer hashed.
        func.convert_to(e.entry, literal("UTF8")) if utf8 else e.entry,
        e.leaf_hash,
        # As stored: SQLite keeps text, and only its exact form is the derived value.
        # A PostgreSQL time no datetime holds (infinity) would fail the whole read:
        # it is read as null instead, and told apart from a null by the last column.
        type_coerce(case((readable, e.recorded_at), else_=None), String),
        e.principal,
        e.dataset,
        e.purpose,
        e.event,
        e.decision,
        e.row_count,
        e.privacy_cost,
        e.mac,
        # Null stored times read as null too: with this, a null above is a time that does not
        # read back (the readable test is not evaluated twice per row).
        e.recorded_at.is_(None),
    ).order_by(e.index)
    if not first:
        stmt = stmt.where(e.index >= bindparam("lo"))
    if not last:
        stmt = stmt.where(e.index < bindparam("hi"))
    return stmt


def _chunks(start: int, stop: int, *, first: bool, last: bool) -> list[tuple[int, int]]:
    """[lo, hi) bounds of the statements that read ``[start, stop)`` in chunks."""
    bounds = [
        (lo, min(lo + ENTRY_CHUNK, stop)) for lo in range(start, max(stop, start + 1), ENTRY_CHUNK)
    ]
    if first:
        bounds[0] = (_LOWEST, bounds[0][1])
    if last:
        bounds[-1] = (bounds[-1][0], _HIGHEST)
    return bounds


def _driver_rows(raw: Any, sql: str, params: dict[str, int]) -> list[Any]:
    # Binary results: integers, times and hashes as the server keeps them, nothing
    # formatted as text on the server and parsed back here.
    with raw.cursor(binary=True) as cursor:
        cursor.execute(sql, params)
        return cast(list[Any], cursor.fetchall())


_END = object()


def _prefetched(
    fetch: Callable[[int, int], list[Any]], bounds: list[tuple[int, int]]
) -> Generator[Sequence[Any], None, None]:
    """The rows of every chunk in order, each fetched by a thread while the caller works
    through the one before (at most two waiting)."""
    ready: queue.Queue[object] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def run() -> None:
        try:
            for lo, hi in bounds:
                if stop.is_set():
                    return
                ready.put(fetch(lo, hi))
            ready.put(_END)
        except BaseException as exc:  # handed to the caller, raised there
            ready.put(exc)

    thread = threading.Thread(target=run, name="cdg-verify-fetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from cast(list[Any], item)
    finally:
        stop.set()
        while thread.is_alive():  # let a fetch waiting on the full queue finish
            with suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()
