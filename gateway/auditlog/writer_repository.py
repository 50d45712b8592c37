"""The audit writer's SQL: the claim on the sequencer, the row inserts, the checkpoint reads.

The writer (``writer.py``) decides what to write and when; every statement it sends is
here. The hot ones are prebuilt driver SQL, the same text every batch: a claim is one
``UPDATE … RETURNING``, rows go in by COPY or one ``INSERT … SELECT FROM unnest(…)`` per
table (each column one array parameter, its text made here), and on PostgreSQL a batch
built ahead is claimed, inserted and committed in one round trip (psycopg's pipeline).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, LargeBinary, Table, func, insert, select, update
from sqlalchemy.orm import Session

from gateway.auditlog.models import (
    CHECKPOINTS,
    SEQUENCER,
    AuditCheckpoint,
    AuditSequencer,
)


@dataclass(frozen=True)
class Rows:
    """Rows for one table by column: ``columns[i]`` holds every row's value of ``names[i]``.

    The writer makes them column by column and the PostgreSQL insert sends them so (one
    array per column): no dict per row, no turning rows into columns again.
    """

    names: tuple[str, ...]
    columns: list[list[Any]]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns, strict=True)

    def column(self, name: str) -> list[Any]:
        return self.columns[self.names.index(name)]


Tables = list[tuple[Table, Rows]]
Statement = tuple[str, list[str]]

_CLAIM = "UPDATE audit_sequencer SET size = size + %s WHERE id = 1 RETURNING size"
_CLAIM_QMARK = _CLAIM.replace("%s", "?")
# The claim of a batch built ahead, refusing to go on unless it leaves exactly the size the
# rows were built for: a division by zero aborts the transaction, and the COMMIT queued
# behind it, when another process appended since (or the sequencer row is missing).
_CLAIM_EXACTLY = (
    "WITH claim AS (UPDATE audit_sequencer SET size = size + %s WHERE id = 1 RETURNING size) "
    "SELECT 1 / (SELECT COUNT(*) FROM claim WHERE size = %s)::integer"
)


def claim(conn: Connection, count: int) -> int:
    """Take the appenders' lock and ``count`` indexes; returns the new size."""
    dialect = conn.dialect
    if dialect.update_returning:
        # Driver SQL: the statement is the same every batch, nothing to build or cache.
        sql = _CLAIM if dialect.paramstyle in ("format", "pyformat") else _CLAIM_QMARK
        return int(conn.exec_driver_sql(sql, (count,)).scalar_one())
    conn.execute(update(SEQUENCER).where(SEQUENCER.c.id == 1).values(size=SEQUENCER.c.size + count))
    return int(conn.scalar(select(SEQUENCER.c.size).where(SEQUENCER.c.id == 1)) or 0)


def lock_sequencer(session: Session) -> None:
    """Take the appenders' lock without claiming anything (a checkpoint is stored under it)."""
    session.execute(
        update(AuditSequencer).where(AuditSequencer.id == 1).values(size=AuditSequencer.size)
    )


# Read on every batch that finds the head moved by another process: built once.
_LAST_CHECKPOINT = (
    select(CHECKPOINTS.c.size, CHECKPOINTS.c.signed_at).order_by(CHECKPOINTS.c.size.desc()).limit(1)
)


def last_checkpoint(session: Session) -> tuple[int, datetime | None]:
    """Size and signing time of the newest stored checkpoint ((0, None) if none)."""
    last = session.execute(_LAST_CHECKPOINT).first()
    return (int(last[0]), last[1]) if last else (0, None)


def checkpoint_size_below(session: Session, size: int) -> int:
    """Size of the newest stored checkpoint smaller than ``size`` (0 if none)."""
    found = session.scalar(
        select(AuditCheckpoint.size)
        .where(AuditCheckpoint.size < size)
        .order_by(AuditCheckpoint.size.desc())
        .limit(1)
    )
    return int(found or 0)


def tail_unsigned(session: Session) -> bool:
    """Whether entries exist past the newest stored checkpoint."""
    size = session.scalar(select(AuditSequencer.size).where(AuditSequencer.id == 1)) or 0
    last = session.scalar(select(func.max(AuditCheckpoint.size))) or 0
    return int(size) > int(last)


def checkpoints_below(session: Session, below: int, limit: int) -> list[tuple[int, str]]:
    """(size, note) of the newest ``limit`` stored checkpoints smaller than ``below``."""
    rows = session.execute(
        select(CHECKPOINTS.c.size, CHECKPOINTS.c.note)
        .where(CHECKPOINTS.c.size < below)
        .order_by(CHECKPOINTS.c.size.desc())
        .limit(limit)
    )
    return [(int(size), str(note)) for size, note in rows]


def insert_rows(conn: Connection, table: Table, rows: Rows) -> None:
    """Insert ``rows`` into ``table`` in this transaction.

    PostgreSQL gets COPY: SQLAlchemy's executemany there sends one INSERT per row through
    the driver's pipeline, which cost the writer more than everything else it does. SQLite
    gets the driver's executemany of a statement made once per table and column set (a
    Core insert is compiled, or looked up in the cache, every batch). The column types'
    own bind processing is applied, so the stored values are the same.
    """
    if not len(rows):
        return
    dialect = conn.dialect.name
    names = rows.names
    if dialect not in ("postgresql", "sqlite"):
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows.tuples()])
        return
    processors = _processors(conn.dialect, table, names)
    columns = [
        column if convert is None else [convert(value) for value in column]
        for column, (_, convert) in zip(rows.columns, processors, strict=True)
    ]
    quoted = ", ".join(f'"{name}"' for name in names)
    if dialect == "sqlite":
        marks = ", ".join("?" * len(names))
        # Only the table's own column names are joined in; values are parameters.
        sql = f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})"  # noqa: S608
        conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))
        return
    raw = driver_connection(conn)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
        for values in zip(*columns, strict=True):
            copy.write_row(values)


def driver_connection(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn`` (PostgreSQL only)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise ConnectionError("the store connection is closed")
    return raw


_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], list[tuple[str, Any]]] = {}


def _processors(dialect: Dialect, table: Table, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(column, bind processor or None) for these columns, looked up once per dialect."""
    key = (dialect.name, table.name, names)
    found = _PROCESSORS.get(key)
    if found is None:
        found = [(name, table.c[name].type.bind_processor(dialect)) for name in names]
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


_UNNEST: dict[tuple[str, tuple[str, ...]], tuple[str, list[Any]]] = {}


def _unnest_insert(dialect: Dialect, table: Table, rows: Rows) -> Statement:
    """One INSERT of every row, each column one array parameter (PostgreSQL)."""
    names = rows.names
    found = _UNNEST.get((table.name, names))
    if found is None:
        converters, casts = [], []
        for name in names:
            column_type = table.c[name].type
            # Hashes stay bytes (the driver's processor would wrap them for its adapter).
            binary = isinstance(column_type, LargeBinary)
            converters.append(None if binary else column_type.bind_processor(dialect))
            casts.append(f"%s::{column_type.compile(dialect=dialect)}[]")
        quoted = ", ".join(f'"{name}"' for name in names)
        # Only the table's own column names and types are joined in; values are parameters.
        sql = f"INSERT INTO {table.name} ({quoted}) SELECT * FROM unnest({', '.join(casts)})"  # noqa: S608
        found = _UNNEST[(table.name, names)] = (sql, converters)
    sql, converters = found
    arrays = [
        _array_literal(values if convert is None else [convert(v) for v in values])
        for values, convert in zip(rows.columns, converters, strict=True)
    ]
    return sql, arrays


def unnest_statements(dialect: Dialect, tables: Tables) -> list[Statement] | None:
    """The inserts of ``tables`` as PostgreSQL statements with their array texts (made
    before the batch is sent, off the committing thread); None when a value has no
    literal form here (the rows then go by COPY)."""
    try:
        return [_unnest_insert(dialect, table, rows) for table, rows in tables if len(rows)]
    except TypeError:
        return None


def pipelined_insert(conn: Connection, count: int, tables: Tables) -> int:
    """Claim ``count`` indexes and insert every row, in one round trip (psycopg's pipeline
    mode: the statements run in order, the claim's row lock first). Returns the size the
    claim made; the caller commits only if it is the size the rows were built for.

    Raises ``psycopg.Error`` when a statement failed (the transaction is then aborted) and
    ``LookupError`` when the sequencer row is missing.
    """
    raw = driver_connection(conn)
    statements = unnest_statements(conn.dialect, tables)
    if statements is None:  # a value without a literal form here: claim, then COPY
        claimed = conn.exec_driver_sql(_CLAIM, (count,)).scalar_one()
        for table, rows in tables:
            insert_rows(conn, table, rows)
        return int(claimed)
    with raw.cursor() as claim_cursor:
        with raw.pipeline():
            claim_cursor.execute(_CLAIM, (count,))
            for sql, params in statements:
                raw.cursor().execute(sql, params)
        found = claim_cursor.fetchone()
    if found is None:
        raise LookupError("the audit sequencer row is missing")
    return int(found[0])


def pipelined_commit(
    conn: Connection, count: int, end: int, statements: Sequence[Statement]
) -> None:
    """Claim ``count`` indexes, run ``statements`` and commit, in one round trip, if the
    claim leaves the log at ``end``. Raises ``psycopg.Error`` when it does not (or a
    statement failed): then nothing is committed."""
    raw = driver_connection(conn)
    # One cursor for every statement: no result is read before the COMMIT's.
    with raw.pipeline(), raw.cursor() as cursor:
        cursor.execute(_CLAIM_EXACTLY, (count, end))
        for sql, params in statements:
            cursor.execute(sql, params)
        raw.commit()
