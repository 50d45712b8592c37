"""Which databases a department may register as a source.

A source URL is an open door into whatever it names. SQLite files must lie in the
registering department's own directory (source_paths) and are opened read-only; servers
must be on the operator's host allow-list, named only by the URL's host (source_hosts).
Which database it really is, and so whether it is the gateway's store or another
department's, is asked of the database itself after connecting (source_identity).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from gateway.catalog.source_hosts import vet_host
from gateway.catalog.source_paths import sqlite_file, vet_sqlite_path
from gateway.settings import Settings


def vet_source_url(url: str, settings: Settings, department: str) -> URL:
    """Raise InvalidRequest when ``department`` may not register this URL (never echoes it)."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        vet_sqlite_path(sqlite_file(target), settings, department)
    else:
        vet_host(target, settings)
    return target


def read_only(url: str) -> str:
    """SQLite sources are opened read-only (and never created), by their resolved path."""
    target = make_url(url)
    if target.get_backend_name() != "sqlite" or not target.database:
        return url
    path: Path = sqlite_file(target)
    return f"sqlite:///file:{path}?mode=ro&uri=true"
