"""The home directory and the private files in it.

Home holds the key files, the config (which may carry a store URL with its password)
and, on SQLite, the whole store: it is 0700 and every file the gateway creates there
is 0600, whatever the process umask. Files are created with their mode (never created
readable and narrowed afterwards), and an existing home is narrowed when the gateway
prepares it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700, or narrow it to 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; narrow it to 0600 either way."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)
    return path


def prepare_sqlite_store(url: str) -> None:
    """Create an SQLite store's file 0600 before SQLite does (it would use the umask).

    SQLite gives its -wal and -shm files the mode of the database file, so they follow.
    Other dialects and in-memory databases are left alone.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    if path.exists():
        return
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
