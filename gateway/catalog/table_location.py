"""Where a dataset's table may be: in the source's own database, outside its catalogs.

A source URL names one database, but a table name can reach past it. On MariaDB/MySQL a
schema is a database, so a qualified name could read another one on the same server
(another department's, or one never registered). Every server also keeps catalogs of
its own: PostgreSQL's ``pg_catalog`` (``pg_stat_activity`` shows every database's
sessions and statement text, ``pg_authid`` every role) and ``information_schema``;
MariaDB's ``mysql``, ``information_schema``, ``performance_schema`` and ``sys``;
SQLite's ``sqlite_master``/``sqlite_schema`` and the other ``sqlite_`` tables. Those
describe the server, not the department's data, and are refused as dataset tables.

On PostgreSQL the name is resolved by the database itself (``to_regclass``, quoting as
the query planner quotes, through the source's search_path, which puts ``pg_catalog``
first unless told otherwise), so an unqualified ``pg_stat_activity`` is judged by the
relation it really names. The source account still needs least privilege: a view in
the department's own schema over a catalog is the account's to grant or not.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import InvalidRequest, SourceError

_MYSQL_SYSTEM = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
_PG_SYSTEM = frozenset({"pg_catalog", "information_schema"})

SYSTEM_TABLE = (
    "the table is one of the database server's own catalogs, not the department's data "
    "/ 该表属于数据库系统目录，不能登记为数据集"
)


# The relation a name resolves to, quoted as the planner quotes it (%I), unqualified names
# through the search_path; to_regclass gives NULL for no such relation.
_PG_RESOLVE = text(
    "SELECT n.nspname FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = pg_catalog.to_regclass(CASE WHEN CAST(:schema AS text) = '' "
    "THEN pg_catalog.format('%I', CAST(:name AS text)) "
    "ELSE pg_catalog.format('%I.%I', CAST(:schema AS text), CAST(:name AS text)) END)"
)


def _pg_system(schema: str) -> bool:
    return schema in _PG_SYSTEM or schema.startswith("pg_")  # pg_toast, pg_temp_N, ...


def _pg_schema_of(engine: Engine, schema: str, name: str) -> str | None:
    """The schema of the relation the name resolves to in the source's database, or None."""
    try:
        with engine.connect() as conn:
            found = conn.execute(_PG_RESOLVE, {"schema": schema, "name": name}).scalar()
    except SQLAlchemyError:
        raise SourceError("the source could not be read") from None
    return None if found is None else str(found)


def vet_table_location(engine: Engine, dialect: str, database: str | None, table: str) -> None:
    """Refuse a table outside the source's own database or in a system catalog.

    ``database`` is the one the source URL names (None for SQLite).
    """
    schema, _, name = table.rpartition(".")
    if dialect == "sqlite":
        # SQLite names are case-insensitive; "main.sqlite_master" names it too.
        if name.lower().startswith("sqlite_"):
            raise InvalidRequest(SYSTEM_TABLE)
        return
    if not database:
        # Registered before a database was required: an unqualified name has nowhere to be.
        raise InvalidRequest(
            "the source names no database; register it again with its database "
            "/ 数据源未指明数据库，请重新登记"
        )
    if dialect in ("mysql", "mariadb"):
        if schema and schema != database:
            raise InvalidRequest("the table must be in the source's own database")
        if database.lower() in _MYSQL_SYSTEM:
            raise InvalidRequest(SYSTEM_TABLE)
        return
    if dialect == "postgresql":
        if schema and _pg_system(schema.lower()):
            raise InvalidRequest(SYSTEM_TABLE)
        found = _pg_schema_of(engine, schema, name)
        if found is None:
            raise InvalidRequest("the table does not exist in the source")
        if _pg_system(found):
            raise InvalidRequest(SYSTEM_TABLE)
