"""Connections to department databases: one pooled engine per source, made lazily.

Statements run with a timeout enforced by the database where it can (PostgreSQL
``statement_timeout``, MariaDB ``max_statement_time``, MySQL
``max_execution_time``) and by SQLite's progress handler otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Select, create_engine, event, inspect, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.catalog.connect_errors import OTHER, ConnectFailure, classify
from gateway.catalog.source_urls import read_only
from gateway.errors import SourceError, SourceTimeout
from gateway.queries.source_result import SourceResult
from gateway.store.engine import lenient_text

# Seconds to wait for a server to accept a connection, unless the URL sets connect_timeout:
# without one, a host that drops packets holds a request for minutes (the kernel's retries).
CONNECT_TIMEOUT_SECONDS = 10


def make_source_engine(url: str, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        # Pooled like the store: a connection past the pool is opened and closed per run.
        sqlite = create_engine(
            read_only(url),
            connect_args={"check_same_thread": False},
            pool_size=pool_size * 2,
            max_overflow=pool_size * 2,
        )
        event.listen(sqlite, "connect", _lenient_sqlite_text)
        return sqlite
    parsed = make_url(url)
    args: dict[str, Any] = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    mysql = parsed.get_backend_name() in ("mysql", "mariadb")
    if mysql:
        # PyMySQL's connect_timeout covers only the TCP connect: a listener that accepts and
        # never sends its handshake would hold the request (and a worker thread) forever.
        # Reads time out like the connect until the handshake is done, then the limit is
        # lifted to a backstop: the server enforces the statement timeout itself.
        handshake = _seconds(parsed.query.get("connect_timeout"), CONNECT_TIMEOUT_SECONDS)
        args |= {"read_timeout": handshake, "write_timeout": handshake}
    engine = create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, connect_args=args
    )
    if mysql:
        event.listen(engine, "connect", _lift_mysql_read_timeout)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        event.listen(engine, "connect", _lenient_dates)
    return engine


def _lenient_sqlite_text(dbapi_connection: Any, _record: Any) -> None:
    """SQLite stores any bytes as TEXT; sqlite3 fails the whole read on bytes that are not
    UTF-8, which failed the run (and told, by failing, that the scope held such a row).
    Decoded here instead, on every read: a read that failed and was retried leniently
    would take longer whenever the scope held one, which a recipient can time."""
    # Bytes are no value of any declared type: conformance releases the cell as null.
    dbapi_connection.text_factory = lenient_text


def _lenient_dates(dbapi_connection: Any, _record: Any) -> None:
    """Dates and timestamps Python cannot hold load as their raw bytes.

    PostgreSQL keeps ``infinity``, BC dates, years past 9999 (and a timestamptz that is
    year 0 in the session's zone); psycopg's loaders raise on them, which failed the
    whole run (and told, by failing, that the scope held one). As bytes they are no date
    of any declared type: conformance releases them as null and counts them."""
    from gateway.catalog.pg_dates import register_lenient_date_loaders

    register_lenient_date_loaders(dbapi_connection.adapters)


def _seconds(value: object, default: float) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return seconds if 0 < seconds <= 600 else default


# Longer than the longest statement timeout a setting allows (600 s): only a server that
# stopped answering mid-result reaches it.
MYSQL_READ_BACKSTOP_SECONDS = 660.0


def _lift_mysql_read_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection._read_timeout = MYSQL_READ_BACKSTOP_SECONDS
    dbapi_connection._write_timeout = MYSQL_READ_BACKSTOP_SECONDS


def _arm_timeout(conn: Connection, seconds: float) -> Callable[[], None]:
    """Make the next statement on ``conn`` stop after ``seconds``; returns a disarm hook."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        return lambda: None
    if dialect in ("mysql", "mariadb"):
        if getattr(conn.dialect, "is_mariadb", False):
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {float(seconds):.3f}")
        else:
            conn.exec_driver_sql(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
        return lambda: None
    if dialect == "sqlite":
        raw: Any = conn.connection.driver_connection
        deadline = time.monotonic() + seconds
        # Returning non-zero from the handler interrupts the running statement.
        # Every call takes the GIL back from whichever thread holds it: checked every
        # 100,000 virtual-machine instructions (well under a millisecond) rather than 1,000.
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 100_000)
        return lambda: raw.set_progress_handler(None, 0)
    return lambda: None


class SourceEngines:
    """Engines keyed by source id; the decrypted URL never leaves this object."""

    def __init__(self, pool_size: int) -> None:
        self._pool_size = pool_size
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine(self, source_id: str, url: Callable[[], str]) -> Engine:
        engine = self._engines.get(source_id)
        if engine is None:
            with self._lock:
                engine = self._engines.get(source_id)
                if engine is None:
                    engine = make_source_engine(url(), self._pool_size)
                    self._engines[source_id] = engine
        return engine

    def dispose(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.dispose()


def connect_failure(engine: Engine, timeout: float) -> ConnectFailure | None:
    """None when the source answers a trivial statement in time, else why it did not."""
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        return classify(exc)
    try:
        with conn:
            disarm = _arm_timeout(conn, timeout)
            try:
                conn.exec_driver_sql("SELECT 1").fetchall()
            finally:
                disarm()
        return None
    except SQLAlchemyError:
        return OTHER


def table_columns(engine: Engine, table: str) -> dict[str, str] | None:
    """Column name -> generic storage type of a source table, or None if it is absent."""
    schema, _, name = table.rpartition(".")
    try:
        inspector = inspect(engine)
        if not inspector.has_table(name, schema=schema or None):
            return None
        found = inspector.get_columns(name, schema=schema or None)
    except SQLAlchemyError:
        raise SourceError("the source could not be read") from None
    return {str(c["name"]): storage_type(c["type"]) for c in found}


def storage_type(sql_type: Any) -> str:
    try:
        python = sql_type.python_type
    except NotImplementedError:
        return "string"
    import datetime
    import decimal

    if python is bool:
        return "boolean"
    if python is int:
        return "integer"
    if python in (float, decimal.Decimal):
        return "number"
    if python in (datetime.date, datetime.datetime):
        return "date"
    return "string"


def execute(
    engine: Engine,
    statement: Select[Any],
    timeout: float,
    max_rows: int,
    values: Mapping[str, Any] | None = None,
) -> SourceResult:
    """Run one SELECT (with bind ``values``) with a timeout; fetch at most ``max_rows`` rows."""
    started = time.monotonic()
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        # Nothing was read yet: the cause (login, port, network, ...) is safe to name.
        failure = classify(exc)
        raise SourceError(failure.detail, reason=failure.code) from None
    try:
        with connection as conn:
            disarm = _arm_timeout(conn, timeout)
            try:
                result = conn.execute(statement, dict(values) if values else None)
                columns = list(result.keys())
                rows: Sequence[Any] = result.fetchmany(max_rows)
                result.close()
            finally:
                disarm()
            conn.rollback()
    except DBAPIError as exc:
        # Driver messages can quote SQL and values: they are never passed on.
        if _is_timeout(exc) or time.monotonic() - started >= timeout * 0.95:
            raise SourceTimeout("the query ran longer than the statement timeout") from None
        raise SourceError("the department's database could not answer the query") from None
    except SQLAlchemyError:
        raise SourceError("the department's database could not answer the query") from None
    return SourceResult(columns=columns, rows=[tuple(r) for r in rows])


def _is_timeout(exc: DBAPIError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "57014":  # PostgreSQL query_canceled
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1969, 3024):  # MariaDB / MySQL statement time exceeded
        return True
    return "interrupted" in str(orig).lower()


def unit_is_unique(engine: Engine, table: str, column: str) -> bool:
    """True when the source itself guarantees one row per value of ``column``.

    Only a primary key or a unique constraint/index on exactly that column, which
    is NOT NULL, on a base table (not a view) counts; anything else is False.
    """
    schema, _, name = table.rpartition(".")
    try:
        inspector = inspect(engine)
        if name in inspector.get_view_names(schema=schema or None):
            return False
        columns = {str(c["name"]): c for c in inspector.get_columns(name, schema=schema or None)}
        if column not in columns or columns[column].get("nullable", True):
            return False
        keyed: list[list[Any]] = [
            inspector.get_pk_constraint(name, schema=schema or None).get("constrained_columns", [])
        ]
        keyed += [
            u.get("column_names", [])
            for u in inspector.get_unique_constraints(name, schema=schema or None)
        ]
        keyed += [
            i.get("column_names", [])
            for i in inspector.get_indexes(name, schema=schema or None)
            if i.get("unique") and not i.get("dialect_options", {}).get("postgresql_where")
        ]
    except SQLAlchemyError:
        return False
    return any(list(cols) == [column] for cols in keyed)
