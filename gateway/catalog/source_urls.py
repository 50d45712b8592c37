"""Which databases a department may register as a source.

A source URL is an open door into whatever it names, so two doors stay shut:
SQLite files must lie under the directories the operator allows (by default
``CDG_HOME/sources``) and are opened read-only, and no source may be the
gateway's own store. Without this, a department could publish the gateway's
tables, or another department's SQLite file, to an app.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from gateway.errors import InvalidRequest
from gateway.settings import Settings


def allowed_sqlite_dirs(settings: Settings) -> list[Path]:
    if settings.sqlite_source_dirs:
        parts = settings.sqlite_source_dirs.split(os.pathsep)
        return [Path(p).resolve() for p in parts if p]
    return [(settings.home / "sources").resolve()]


def _same_server_database(a: URL, b: URL) -> bool:
    return (
        a.get_backend_name() == b.get_backend_name()
        and (a.host or "localhost") == (b.host or "localhost")
        and (a.port or 0) == (b.port or 0)
        and a.database == b.database
    )


def vet_source_url(url: str, settings: Settings) -> None:
    """Raise InvalidRequest when a department may not register this URL (never echoes it)."""
    target = make_url(url)
    store = make_url(settings.store_url)
    if target.get_backend_name() != "sqlite":
        if _same_server_database(target, store):
            raise InvalidRequest("a source cannot be the gateway's own store")
        return
    database = target.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or target.query:
        raise InvalidRequest("a SQLite source must be a plain file path")
    path = Path(database).resolve()
    if not any(path.is_relative_to(d) for d in allowed_sqlite_dirs(settings)):
        raise InvalidRequest("SQLite sources must lie under a directory the operator allows")
    if store.get_backend_name() == "sqlite" and path == Path(store.database or "").resolve():
        raise InvalidRequest("a source cannot be the gateway's own store")
    if not path.is_file():
        raise InvalidRequest("the SQLite file does not exist")


def read_only(url: str) -> str:
    """SQLite sources are opened read-only (and never created)."""
    target = make_url(url)
    if target.get_backend_name() != "sqlite" or not target.database:
        return url
    if target.database.startswith("file:"):
        return url
    path = Path(target.database).resolve()
    return f"sqlite:///file:{path}?mode=ro&uri=true"
