"""Write a generated :class:`~gateway.demo.community.Community` into departmental databases.

Each department ("source") keeps one table in its own database, reached through a
SQLAlchemy URL: SQLite files for the embedded demo, PostgreSQL (``postgresql+psycopg``)
or MariaDB/MySQL (``mysql+pymysql``) when testing for real. Writing drops and recreates
the table, so running it twice leaves exactly one copy of the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

import sqlalchemy as sa

from gateway.demo.community import Community

__all__ = ["SOURCE_TABLES", "sqlite_urls", "table_for", "write_sources"]

#: Source name -> the table it holds.
SOURCE_TABLES: Final[Mapping[str, str]] = MappingProxyType(
    {"civil_affairs": "residents", "health": "checkups", "hotline": "complaints"}
)

_CHUNK_SIZE: Final = 2_000
_ISO_DATE: Final = 10

_metadata = sa.MetaData()

_residents = sa.Table(
    "residents",
    _metadata,
    sa.Column("resident_id", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("gender", sa.String(2), nullable=False),
    sa.Column("birth_date", sa.String(_ISO_DATE), nullable=False),
    sa.Column("age", sa.Integer, nullable=False),
    sa.Column("mobile", sa.String(20), nullable=False),
    sa.Column("community", sa.String(32), nullable=False),
    sa.Column("building", sa.Integer, nullable=False),
    sa.Column("unit", sa.Integer, nullable=False),
    sa.Column("room", sa.String(8), nullable=False),
    sa.Column("address", sa.String(128), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("lives_alone", sa.SmallInteger, nullable=False),
    sa.Column("disability_level", sa.SmallInteger, nullable=False),
    sa.Column("subsidy_status", sa.String(16), nullable=False),
    sa.Index("ix_residents_community", "community"),
    sa.Index("ix_residents_household_id", "household_id"),
    mysql_charset="utf8mb4",
)

_checkups = sa.Table(
    "checkups",
    _metadata,
    sa.Column("checkup_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("resident_id", sa.String(18), nullable=False),
    sa.Column("community", sa.String(32), nullable=False),
    sa.Column("checkup_date", sa.String(_ISO_DATE), nullable=False),
    sa.Column("systolic", sa.Integer, nullable=False),
    sa.Column("diastolic", sa.Integer, nullable=False),
    sa.Column("diagnosis_code", sa.String(8), nullable=False),
    sa.Column("hypertension", sa.SmallInteger, nullable=False),
    sa.Column("diabetes", sa.SmallInteger, nullable=False),
    sa.Column("heart_disease", sa.SmallInteger, nullable=False),
    sa.Index("ix_checkups_community", "community"),
    sa.Index("ix_checkups_resident_id", "resident_id"),
    mysql_charset="utf8mb4",
)

_complaints = sa.Table(
    "complaints",
    _metadata,
    sa.Column("complaint_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("resident_id", sa.String(18), nullable=False),
    sa.Column("community", sa.String(32), nullable=False),
    sa.Column("received_at", sa.String(_ISO_DATE), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Index("ix_complaints_community", "community"),
    sa.Index("ix_complaints_resident_id", "resident_id"),
    mysql_charset="utf8mb4",
)

_TABLES: Final[Mapping[str, sa.Table]] = MappingProxyType(
    {source: _metadata.tables[table] for source, table in SOURCE_TABLES.items()}
)


def table_for(source: str) -> sa.Table:
    """The table a source holds (``civil_affairs``, ``health`` or ``hotline``)."""
    try:
        return _TABLES[source]
    except KeyError:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCE_TABLES)}") from None


def sqlite_urls(directory: Path) -> dict[str, str]:
    """One SQLite database file per source inside ``directory`` (which must exist)."""
    return {source: f"sqlite:///{directory / f'{source}.db'}" for source in SOURCE_TABLES}


def write_sources(community: Community, urls: Mapping[str, str]) -> None:
    """Write each source named in ``urls`` (source -> SQLAlchemy URL) into its database.

    The table is dropped and recreated, then filled in one transaction in chunks of
    2,000 rows. Unknown source names are refused before anything is written.
    """
    tables = {source: table_for(source) for source in urls}
    for source, url in urls.items():
        _write_table(url, tables[source], _rows_for(community, source))


def _rows_for(community: Community, source: str) -> Sequence[Mapping[str, object]]:
    table = SOURCE_TABLES[source]
    if table == "residents":
        return community.residents
    if table == "checkups":
        return community.checkups
    return community.complaints


def _write_table(url: str, table: sa.Table, rows: Sequence[Mapping[str, object]]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            table.drop(connection, checkfirst=True)
            table.create(connection)
            for start in range(0, len(rows), _CHUNK_SIZE):
                connection.execute(table.insert(), list(rows[start : start + _CHUNK_SIZE]))
    finally:
        engine.dispose()
