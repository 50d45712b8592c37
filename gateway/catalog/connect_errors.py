"""Why a connection to a department's database failed, as a stable code with zh/en words.

A department registering a source needs to know whether to fix the password, the port,
the database name or the network; an operator needs the same when a registered source
stops answering. The driver's message says which, but it also quotes the host, the user
and sometimes the URL, so it is only *read* here: the answer is one of the fixed codes
below, and the caller sees our words, never the driver's.

PostgreSQL (psycopg) is classified by SQLSTATE where the server sent one and by the
libpq message otherwise (a refused or timed-out TCP connection has no SQLSTATE);
MariaDB/MySQL (PyMySQL) by the client error number and, for 2003 "can't connect", the
operating system's reason in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class ConnectFailure:
    code: str
    en: str
    zh: str

    @property
    def detail(self) -> str:
        return f"{self.zh} / {self.en}"


AUTH_FAILED = ConnectFailure(
    "source_auth_failed",
    "the source's server refused the login: wrong user name or password, or the account "
    "may not use this database",
    "数据源服务器拒绝登录:用户名或密码错误,或该账户无权使用此数据库",
)
DATABASE_MISSING = ConnectFailure(
    "source_database_missing",
    "the source's server has no database of that name",
    "数据源服务器上没有该名称的数据库",
)
REFUSED = ConnectFailure(
    "source_refused",
    "the source's server refused the connection: nothing listens on that port "
    "(a wrong port, or the database server is down)",
    "数据源服务器拒绝连接:该端口没有数据库在监听(端口错误或数据库未运行)",
)
UNREACHABLE = ConnectFailure(
    "source_unreachable",
    "the source's server cannot be reached over the network",
    "无法通过网络连接到数据源服务器",
)
TIMEOUT = ConnectFailure(
    "source_connect_timeout",
    "the source's server did not answer within the connect timeout",
    "数据源服务器在连接超时时间内没有应答",
)
OTHER = ConnectFailure(
    "source_connect_failed",
    "the gateway could not connect to this source",
    "网关无法连接到该数据源",
)

CONNECT_FAILURES: dict[str, ConnectFailure] = {
    f.code: f for f in (AUTH_FAILED, DATABASE_MISSING, REFUSED, UNREACHABLE, TIMEOUT, OTHER)
}

_POSTGRES_STATES = {"28P01": AUTH_FAILED, "28000": AUTH_FAILED, "3D000": DATABASE_MISSING}
# PyMySQL error numbers: access denied (1044 to the database, 1045 password, 1698 no such
# account), unknown database.
_MYSQL_CODES = {1044: AUTH_FAILED, 1045: AUTH_FAILED, 1698: AUTH_FAILED, 1049: DATABASE_MISSING}
# libpq sends no SQLSTATE for a failed connection: its (English) message is matched instead,
# most specific first. A server whose lc_messages is not English falls back to OTHER.
_MESSAGES = (
    (
        re.compile(r"password authentication failed|no pg_hba\.conf entry|role \".*\" does not"),
        AUTH_FAILED,
    ),
    (re.compile(r"database \".*\" does not exist|unknown database"), DATABASE_MISSING),
    (re.compile(r"connection refused|errno 111\b"), REFUSED),
    (re.compile(r"timeout expired|timed out"), TIMEOUT),
    (
        re.compile(
            r"no route to host|network is unreachable|host is unreachable|"
            r"could not translate host name|name or service not known|errno (101|113)\b"
        ),
        UNREACHABLE,
    ),
)


def classify(exc: BaseException) -> ConnectFailure:
    """The cause of a failed connection attempt (OTHER when it cannot be told)."""
    orig: object = exc.orig if isinstance(exc, DBAPIError) else exc
    if type(orig).__name__ == "ConnectionTimeout":  # psycopg's own class for connect_timeout
        return TIMEOUT
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):  # PyMySQL: (error number, message)
        if args[0] in _MYSQL_CODES:
            return _MYSQL_CODES[args[0]]
    else:
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate in _POSTGRES_STATES:
            return _POSTGRES_STATES[sqlstate]
    message = str(orig).lower()
    for pattern, failure in _MESSAGES:
        if pattern.search(message):
            return failure
    return OTHER
