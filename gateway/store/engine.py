"""The gateway store: one engine and session factory per process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

try:
    import fcntl
except ImportError:  # not on Windows: the busy handler alone serialises processes there
    fcntl = None  # type: ignore[assignment]
from sqlalchemy.orm import Session, sessionmaker


def lenient_text(data: bytes) -> str | bytes:
    """SQLite text as str, or as its bytes when it is not UTF-8 (SQLite stores any bytes
    as TEXT, and sqlite3 fails the whole read on them): the reader sees a value of another
    type instead of an error. For the store that reader is verification, which locates
    such a value as a changed one rather than failing."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.text_factory = lenient_text
    # WAL lets readers run while one writer appends; busy_timeout makes several
    # gateway processes wait for the write lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_store_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        # Pool as many connections as requests run at once: a connection past the pool is
        # opened (with its pragmas) and closed for every request, which cost more than the
        # request's own statements.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            pool_size=pool_size * 4,
            max_overflow=pool_size * 2,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_when_idle(engine)
    return engine


# A pooled connection that sat idle this long is checked before use (a restarted or
# failed-over server leaves dead connections in the pool). Checking every checkout, as
# ``pool_pre_ping`` does, cost a round trip per transaction on a busy server, where the
# connections were in use a moment ago.
PING_AFTER_IDLE_SECONDS = 2.0
_IDLE_SINCE = "cdg_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception:
            # The pool drops this connection and hands out another (or opens one).
            raise DisconnectionError("the store connection was lost while idle") from None

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


class Store:
    """Engine plus session factory; services get sessions, never engines."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one write lock per file and its busy handler sleeps in steps of up to
        # 100 ms; short write transactions of one process take turns here instead.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        # Across processes (`cdg serve --workers N` on one SQLite file) they take turns on a
        # lock file beside the store: a waiter wakes when the holder is done instead of
        # sleeping in the busy handler's steps.
        self._lock_path: str | None = None
        database = engine.url.database if self._write_lock is not None else None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._lock_path = database + ".write-lock"
        self._lock_file: int | None = None

    @classmethod
    def from_url(cls, url: str, pool_size: int = 10) -> Store:
        return cls(make_store_engine(url, pool_size))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (the run's load, authentication and decision).

        On a server store its statements run outside a transaction: at the store's READ
        COMMITTED each statement reads its own snapshot either way, and the BEGIN and
        COMMIT round trips are saved (two of the run's round trips on PostgreSQL).
        Nothing written here would be held back on an error, so only reads belong in it.
        On SQLite it is ``transaction()``: its driver opens no transaction for a SELECT.
        """
        if self._write_lock is not None:
            with self.transaction() as session:
                yield session
            return
        with self.engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            with Session(bind=autocommit, expire_on_commit=False) as session:
                yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A short write transaction (serialised within the process on SQLite)."""
        if self._write_lock is None:
            with self.transaction() as session:
                yield session
            return
        with self._write_lock, self._file_lock(), self.transaction() as session:
            yield session

    @contextmanager
    def writing_connection(self) -> Iterator[Connection]:
        """``writing`` without an ORM session, for Core statements on a hot path: a
        connection in a transaction, committed on success and rolled back on any error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self._file_lock(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self._lock_path is None or fcntl is None:
            yield
            return
        if self._lock_file is None:
            try:
                self._lock_file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only directory: the busy handler still serialises
                self._lock_path = None
                yield
                return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def ping(self) -> None:
        """One round trip to the store (the /healthz probe); raises when it cannot answer."""
        with self.sessions() as session:
            session.connection().exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
