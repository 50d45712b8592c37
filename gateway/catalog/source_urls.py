"""Which databases a department may register as a source.

A source URL is an open door into whatever it names. SQLite files must lie in the
registering department's own directory (source_paths) and are opened read-only; servers
must be on the operator's host allow-list, named only by the URL's host (source_hosts),
one host only (a libpq host list would need every host's identity checked) and with
its database named (PostgreSQL would otherwise pick the user's name, MariaDB none, and
an unqualified table would then have no database to be looked up in).
Which database it really is, and so whether it is the gateway's store or another
department's, is asked of the database itself after connecting (source_identity).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gateway.catalog.source_hosts import vet_host
from gateway.catalog.source_paths import sqlite_file, vet_sqlite_path
from gateway.errors import InvalidRequest
from gateway.settings import Settings

# The kinds of database whose identity the gateway can establish (source_identity).
SOURCE_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


# URL schemes without a driver name, and the driver installed with the gateway for each.
# SQLAlchemy would pick psycopg2 or MySQLdb, which are not installed; "postgres://" is the
# spelling libpq, Heroku and many connection strings use, which SQLAlchemy 2 rejects.
_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def with_default_driver(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as ``postgresql+psycopg://`` (MySQL likewise)."""
    scheme, separator, rest = url.partition("://")
    driver = _DEFAULT_DRIVERS.get(scheme.lower()) if separator else None
    return f"{driver}://{rest}" if driver else url


def parse_source_url(url: str) -> URL:
    """The URL parsed, or InvalidRequest for anything SQLAlchemy cannot read (never echoed).

    make_url raises ArgumentError for no dialect, and ValueError for a port that is not
    a number (a libpq host list "h1:5432,h2:5433" reads as one such port).
    """
    try:
        target = make_url(url)
        port = target.port
        dialect = target.get_backend_name()
    except (ArgumentError, ValueError, TypeError):
        raise InvalidRequest("url is not a valid SQLAlchemy database URL") from None
    parts = (target.host, target.database, target.username, str(target.password or ""))
    if any("\x00" in (part or "") for part in parts):  # also "%00": make_url decodes it
        raise InvalidRequest("the source URL cannot contain a NUL character")
    if dialect not in SOURCE_DIALECTS:
        raise InvalidRequest(
            "the gateway accepts SQLite, PostgreSQL, MariaDB and MySQL sources "
            "/ 网关仅接受 SQLite、PostgreSQL、MariaDB 和 MySQL 数据源"
        )
    if port is not None and not 1 <= port <= 65535:
        raise InvalidRequest("the source URL's port must be 1-65535")
    if target.host is not None and "," in target.host:
        raise InvalidRequest(
            "a source URL names one server; host lists are not accepted "
            "/ 数据源地址只能指定一台服务器"
        )
    return target


def vet_source_url(url: str, settings: Settings, department: str) -> URL:
    """Raise InvalidRequest when ``department`` may not register this URL (never echoes it)."""
    target = parse_source_url(url)
    if target.get_backend_name() == "sqlite":
        vet_sqlite_path(sqlite_file(target), settings, department)
    else:
        if not (target.database or "").strip():
            raise InvalidRequest(
                "a server source URL must name its database "
                "/ 服务器数据源地址必须指明数据库"
            )
        vet_host(target, settings)
    return target


def read_only(url: str) -> str:
    """SQLite sources are opened read-only (and never created), by their resolved path."""
    target = make_url(url)
    if target.get_backend_name() != "sqlite" or not target.database:
        return url
    path: Path = sqlite_file(target)
    return f"sqlite:///file:{path}?mode=ro&uri=true"
