"""All SQL of the run path: the load (request, dataset and source in one SELECT) and the
run counts (the query's runs and the day's runs, each one atomic statement).

The dataset's policy and columns and the query's spec are JSON documents of several
kilobytes that every run needs and that rarely change. They come back as text, and each
distinct row is decoded once per process: a row whose every column (the JSON text
included) equals one already decoded reuses that object. Nothing can be stale, because
the key is the row itself; only decoding and object building are skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Executable,
    Table,
    Text,
    bindparam,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.access.models import DailyRuns, PolicyEpoch
from gateway.catalog.models import Dataset, Source
from gateway.requests.models import QueryRequest
from gateway.store.base import Base

_T = TypeVar("_T", bound=Base)

_LIMIT = 1_000  # distinct rows remembered per table; emptied when full


_DOCUMENTS: dict[str, Any] = {}


def _document(text: str | None) -> Any:
    """A JSON column's value, decoded once per distinct text (a query's spec is the same
    text on every run while its row's counters move)."""
    if text is None:
        return None
    found = _DOCUMENTS.get(text)
    if found is None:
        found = json.loads(text)
        if len(_DOCUMENTS) >= _LIMIT:
            _DOCUMENTS.clear()
        _DOCUMENTS[text] = found
    return found


class _Decoded:
    """ORM objects built from raw rows, one per distinct row (not attached to a session).

    They are shared by concurrent runs, which only read them.
    """

    def __init__(self, model: type[Base], leave_out: tuple[str, ...] = ()) -> None:
        table = cast(Table, model.__table__)
        mapper = model.__mapper__
        self.model = model
        self.columns = [c for c in table.columns if c.name not in leave_out]
        self.keys = [mapper.get_property_by_column(c).key for c in self.columns]
        self.json = [isinstance(c.type, JSON) for c in self.columns]
        self._rows: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def selected(self) -> list[ColumnElement[Any]]:
        # JSON as text: the text is the cache key, decoded only on a miss.
        return [
            sql_cast(c, Text).label(f"{c.table.name}_{c.name}")
            if is_json
            else c.label(f"{c.table.name}_{c.name}")
            for c, is_json in zip(self.columns, self.json, strict=True)
        ]

    def get(self, row: tuple[Any, ...], processors: _Processors) -> Any:
        """The object for a row as the driver returned it (``processors``: the column
        types' conversions, applied only when the row is new)."""
        found = self._rows.get(row)
        if found is not None:
            return found
        values = {
            key: _document(value) if is_json else (value if p is None else p(value))
            for key, value, is_json, p in zip(self.keys, row, self.json, processors, strict=True)
        }
        built = self.model(**values)
        with self._lock:
            if len(self._rows) >= _LIMIT:
                self._rows = {}
            self._rows[row] = built
        return built


# The run counter moves on every run, so with it no query row would ever be decoded twice;
# the run path never reads it (the quota's conditional UPDATE counts), so it is left out.
_QUERIES = _Decoded(QueryRequest, leave_out=("runs_used",))
_DATASETS = _Decoded(Dataset)
_SOURCES = _Decoded(Source)
_WIDTHS = (len(_QUERIES.columns), len(_DATASETS.columns), len(_SOURCES.columns))

_EPOCH = cast(Table, PolicyEpoch.__table__)
_REQUEST_ROWS = (
    cast(Table, QueryRequest.__table__)
    .join(cast(Table, Dataset.__table__), Dataset.id == QueryRequest.dataset_id)
    .join(cast(Table, Source.__table__), Source.id == Dataset.source_id)
)
# The policy epoch and the request in one round trip: always one row (the epoch), with the
# request's columns null when there is no such request, so an unknown id costs the same.
_RUNNABLE = (
    select(_EPOCH.c.epoch, *_QUERIES.selected(), *_DATASETS.selected(), *_SOURCES.selected())
    .select_from(_EPOCH.outerjoin(_REQUEST_ROWS, QueryRequest.id == bindparam("query_request_id")))
    .where(_EPOCH.c.id == literal_column("1"))  # one bound value: the request's id
)

_Processors = list[Callable[[Any], Any] | None]


class _DriverStatement:
    """``_RUNNABLE`` compiled once per store dialect and sent through the driver's cursor:
    the row comes back as the driver's tuple, which is the cache key, and the column
    types' conversions run only for a row not seen before. Through Core, building the
    result's metadata and converting ~45 columns cost several times the SELECT itself."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _RUNNABLE.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        processors: _Processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in _RUNNABLE.selected_columns
        ]
        q, d, _ = _WIDTHS
        self.queries = processors[1 : 1 + q]
        self.datasets = processors[1 + q : 1 + q + d]
        self.sources = processors[1 + q + d :]

    def first(self, conn: Connection, query_request_id: str) -> tuple[Any, ...] | None:
        params: Any = (query_request_id,) if self.positional else {
            "query_request_id": query_request_id
        }
        driver: Any = conn.connection.driver_connection
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else tuple(row)


_CONVERTED: tuple[_Processors, ...] = tuple([None] * width for width in _WIDTHS)
_DRIVER_STATEMENTS: dict[str, _DriverStatement] = {}
_DRIVERS = {"sqlite", "postgresql"}  # the stores whose drivers are known here


# The counting statements are built once, with bound parameters: building them per run
# cost more than executing them.
_REQUESTS = cast(Table, QueryRequest.__table__)
_DAILY = cast(Table, DailyRuns.__table__)

_TAKE_RUN = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("query_request_id"), _REQUESTS.c.status == "approved")
    .where(_REQUESTS.c.max_runs.is_(None) | (_REQUESTS.c.runs_used < _REQUESTS.c.max_runs))
    .values(runs_used=_REQUESTS.c.runs_used + 1)
)


def _daily_upsert(dialect: str, capped: bool) -> Executable:
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return (
        insert(_DAILY)
        .values(
            app=bindparam("app"),
            dataset_id=bindparam("dataset_id"),
            purpose=bindparam("purpose"),
            day=bindparam("day"),
            runs=1,
        )
        .on_conflict_do_update(
            index_elements=["app", "dataset_id", "purpose", "day"],
            set_={"runs": _DAILY.c.runs + 1},
            where=(_DAILY.c.runs < bindparam("quota")) if capped else None,
        )
        # A row comes back when one was counted (rowcount is not reliable here).
        .returning(_DAILY.c.runs)
    )


_DAILY_UPSERTS = {
    (dialect, capped): _daily_upsert(dialect, capped)
    for dialect in ("sqlite", "postgresql")
    for capped in (False, True)
}


class RunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def runnable(
        self, query_request_id: str
    ) -> tuple[int, tuple[QueryRequest, Dataset, Source] | None]:
        """The policy epoch, and the request with its dataset (and policy) and source (None
        when unknown), read together.

        The objects are read-only snapshots of the rows at this moment, not attached to
        the session.
        """
        conn = self.session.connection()
        statement = _driver_statement(conn.dialect)
        row: tuple[Any, ...] | None
        if statement is None:
            found = conn.execute(_RUNNABLE, {"query_request_id": query_request_id}).first()
            row = None if found is None else tuple(found)
            processors = _CONVERTED  # Core converted the values already
        else:
            row = statement.first(conn, query_request_id)
            processors = (statement.queries, statement.datasets, statement.sources)
        if row is None:
            raise RuntimeError("the store has no policy epoch row")  # made by migration 0003
        epoch, *values = row
        q, d, _ = _WIDTHS
        if values[0] is None:  # the request's primary key: no such request
            return int(epoch), None
        query: QueryRequest = _QUERIES.get(tuple(values[:q]), processors[0])
        dataset: Dataset = _DATASETS.get(tuple(values[q : q + d]), processors[1])
        source: Source = _SOURCES.get(tuple(values[q + d :]), processors[2])
        return int(epoch), (query, dataset, source)


def _driver_statement(dialect: Dialect) -> _DriverStatement | None:
    if dialect.name not in _DRIVERS:
        return None
    found = _DRIVER_STATEMENTS.get(dialect.name)
    if found is None:
        found = _DRIVER_STATEMENTS[dialect.name] = _DriverStatement(dialect)
    return found


_STATUS = select(_REQUESTS.c.status, _REQUESTS.c.reason).where(
    _REQUESTS.c.id == bindparam("query_request_id")
)


# Both counts of a run, as driver SQL: this transaction runs on every run, and going through
# the driver's cursor costs a fraction of executing the Core statements above.
_SQLITE_TAKE_RUN = (
    "UPDATE query_requests SET runs_used = runs_used + 1 WHERE id = ? AND status = 'approved'"
    " AND (max_runs IS NULL OR runs_used < max_runs)"
)
_SQLITE_TAKE_DAY = (
    "INSERT INTO daily_runs (app, dataset_id, purpose, day, runs) VALUES (?, ?, ?, ?, 1)"
    " ON CONFLICT (app, dataset_id, purpose, day) DO UPDATE SET runs = daily_runs.runs + 1"
    " WHERE ? IS NULL OR daily_runs.runs < ? RETURNING runs"
)
# PostgreSQL: one statement, one round trip. The day is counted only when the query's run
# was; a refused day leaves the run counted, and the caller rolls the transaction back.
_POSTGRESQL_TAKE = (
    "WITH run AS (UPDATE query_requests SET runs_used = runs_used + 1"
    " WHERE id = %(query)s AND status = 'approved'"
    " AND (max_runs IS NULL OR runs_used < max_runs) RETURNING 1),"
    " day AS (INSERT INTO daily_runs (app, dataset_id, purpose, day, runs)"
    " SELECT %(app)s, %(dataset)s, %(purpose)s, %(day)s, 1 FROM run"
    " ON CONFLICT (app, dataset_id, purpose, day) DO UPDATE SET runs = daily_runs.runs + 1"
    " WHERE %(quota)s::integer IS NULL OR daily_runs.runs < %(quota)s::integer RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM run), EXISTS (SELECT 1 FROM day)"
)

Taken = Literal["counted", "run_refused", "day_refused"]


class RunCounts:
    """The run counts, on a connection in a write transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def take(
        self,
        query_request_id: str,
        app: str,
        dataset_id: str,
        purpose: str,
        day: str,
        quota: int | None,
    ) -> Taken:
        """Count one run of the query and one of the day: ``counted``; or ``run_refused``
        (nothing counted: not approved now, or its runs are used up); or ``day_refused``
        (the day's quota is used: the query's count moved, so the caller must roll the
        transaction back). Atomic across gateway processes on every store."""
        closed = quota is not None and quota <= 0  # a day with no runs allowed
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            driver: Any = self.conn.connection.driver_connection
            params = {
                "query": query_request_id,
                "app": app,
                "dataset": dataset_id,
                "purpose": purpose,
                "day": day,
                "quota": quota,
            }
            with driver.cursor() as cursor:
                run, day_counted = cursor.execute(_POSTGRESQL_TAKE, params).fetchone()
            if not run:
                return "run_refused"
            return "counted" if day_counted and not closed else "day_refused"
        if dialect == "sqlite":
            sqlite: Any = self.conn.connection.driver_connection
            if sqlite.execute(_SQLITE_TAKE_RUN, (query_request_id,)).rowcount != 1:
                return "run_refused"
            if closed:
                return "day_refused"
            row = sqlite.execute(
                _SQLITE_TAKE_DAY, (app, dataset_id, purpose, day, quota, quota)
            ).fetchone()
            return "counted" if row is not None else "day_refused"
        if not self.take_run(query_request_id):
            return "run_refused"
        if not self.take_daily_run(app, dataset_id, purpose, day, quota):
            return "day_refused"
        return "counted"

    def status(self, query_request_id: str) -> tuple[str, str]:
        """The query's stored status and reason now (after a run could not be counted)."""
        row = self.conn.execute(_STATUS, {"query_request_id": query_request_id}).first()
        return (str(row[0]), str(row[1] or "")) if row is not None else ("revoked", "")

    def take_run(self, query_request_id: str) -> bool:
        """Count one run of the query if its quota allows; atomic across gateway processes."""
        result: Any = self.conn.execute(_TAKE_RUN, {"query_request_id": query_request_id})
        return bool(result.rowcount == 1)

    def take_daily_run(
        self, app: str, dataset_id: str, purpose: str, day: str, quota: int | None
    ) -> bool:
        """Count one run of the day, under a daily quota or none, atomically across processes.

        Runs are counted even without a quota, so a quota added later in the day counts
        the runs already made. One upsert where the store has one (SQLite, PostgreSQL):
        the row is created at 1 or moved on while under the quota; a full day matches nothing.
        Elsewhere the row is created at 0 (a concurrent creation is fine) and moved on by a
        conditional UPDATE.
        """
        if quota is not None and quota <= 0:
            return False
        key = {"app": app, "dataset_id": dataset_id, "purpose": purpose, "day": day}
        upsert = _DAILY_UPSERTS.get((self.conn.dialect.name, quota is not None))
        if upsert is not None:
            return self.conn.execute(upsert, {**key, "quota": quota}).first() is not None
        table = _DAILY.c
        match = (
            table.app == app,
            table.dataset_id == dataset_id,
            table.purpose == purpose,
            table.day == day,
        )
        if self.conn.scalar(select(table.runs).where(*match)) is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(_DAILY).values(**key, runs=0))
            except IntegrityError:
                pass  # created by a concurrent run
        capped = () if quota is None else (table.runs < quota,)
        result: Any = self.conn.execute(
            update(_DAILY).where(*match, *capped).values(runs=table.runs + 1)
        )
        return bool(result.rowcount == 1)
