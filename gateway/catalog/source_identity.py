"""What a database says about itself: the identity that makes a source one department's.

Never derived from URL text, which has many spellings for one server. PostgreSQL gives
its cluster's ``system_identifier`` and the connected database; MySQL its
``server_uuid`` and the database; MariaDB (which has no server UUID) its own host name,
port and data directory and the database; SQLite the file's device and inode, which
every path, symlink and hard link to the file shares. Stored as a SHA-256, so the store
holds no server detail.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import Forbidden, GatewayError, InvalidRequest


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def sqlite_identity(path: Path) -> str:
    stat = os.stat(path)
    return _digest("sqlite", stat.st_dev, stat.st_ino)


def _server_identity(conn: Connection) -> str:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        row = conn.exec_driver_sql(
            "SELECT (SELECT system_identifier FROM pg_control_system()), current_database()"
        ).one()
        return _digest("postgresql", row[0], row[1])
    if dialect in ("mysql", "mariadb"):
        database = conn.exec_driver_sql("SELECT database()").scalar_one()
        if getattr(conn.dialect, "is_mariadb", False):
            row = conn.exec_driver_sql("SELECT @@hostname, @@port, @@datadir").one()
            return _digest("mariadb", *row, database)
        uuid = conn.exec_driver_sql("SELECT @@server_uuid").scalar_one()
        return _digest("mysql", uuid, database)
    raise Forbidden(
        "this kind of database cannot prove which database it is; "
        "the gateway accepts SQLite, PostgreSQL, MariaDB and MySQL sources "
        "/ 此类数据库无法证明自身身份，网关仅接受 SQLite、PostgreSQL、MariaDB 和 MySQL 数据源",
        reason="source_identity_unavailable",
    )


def database_identity(engine: Engine) -> str:
    """The identity of the database ``engine`` connects to (a hex SHA-256)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        if database.startswith("file:"):
            database = database[len("file:"):].split("?", 1)[0]
        return sqlite_identity(Path(database).resolve())
    try:
        with engine.connect() as conn:
            return _server_identity(conn)
    except SQLAlchemyError as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501":
            raise Forbidden(
                "the source account may not read pg_control_system(), which the gateway "
                "needs to tell databases apart; grant it the pg_monitor role "
                "/ 数据源账号无权读取 pg_control_system()，请授予 pg_monitor 角色",
                reason="source_identity_unavailable",
            ) from None
        raise InvalidRequest("the gateway could not ask the source which database it is") from None


def store_identity(engine: Engine) -> str | None:
    """The gateway store's own identity, or None when it cannot be read."""
    try:
        return database_identity(engine)
    except (GatewayError, OSError):
        return None
