"""Where a department's SQLite sources may live, and what file a SQLite URL really names.

Each department has one directory of its own (``HOME/sources/<department>`` unless the
operator sets roots with ``CDG_SOURCE_DIRS``); a file belongs to the department whose
root is the deepest one holding it, so one department's directory can never reach into
another's. The path is resolved (``file:`` URI forms, query strings, ``..`` and symlinks)
before the check, so only where the file really is counts.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL

from gateway.errors import InvalidRequest
from gateway.settings import Settings


def department_roots(settings: Settings) -> dict[str, Path]:
    """Operator-set roots, ``department=path`` entries separated by os.pathsep."""
    roots: dict[str, Path] = {}
    for entry in settings.source_dirs.split(os.pathsep):
        if not entry.strip():
            continue
        department, sep, path = entry.partition("=")
        if not sep or not department.strip() or not path.strip():
            raise ValueError("CDG_SOURCE_DIRS entries must read department=path")
        roots[department.strip()] = Path(path.strip()).expanduser().resolve()
    return roots


def department_dir(settings: Settings, department: str) -> Path:
    """The directory a department's SQLite sources must lie in."""
    root = department_roots(settings).get(department)
    return root if root is not None else (settings.home / "sources" / department).resolve()


def owning_department(settings: Settings, path: Path) -> str | None:
    """The department whose directory is the deepest one holding ``path`` (or None)."""
    candidates = dict(department_roots(settings))
    default_base = (settings.home / "sources").resolve()
    inside = path.relative_to(default_base).parts if path.is_relative_to(default_base) else ()
    if len(inside) >= 2:  # HOME/sources/<department>/<file>
        candidates.setdefault(inside[0], default_base / inside[0])
    holders = [(len(root.parts), dept) for dept, root in candidates.items()
               if path.is_relative_to(root) and department_dir(settings, dept) == root]
    return max(holders)[1] if holders else None


def sqlite_file(url: URL) -> Path:
    """The real file a SQLite URL opens: URI forms and query strings unwrapped, links resolved."""
    database = url.database or ""
    if database.startswith("file:"):
        parts = urlsplit(database)
        if parts.netloc not in ("", "localhost"):
            raise InvalidRequest("a SQLite source must be a local file")
        database = unquote(parts.path)
    if not database or database == ":memory:" or "mode=memory" in str(url.query):
        raise InvalidRequest("a SQLite source must be a file")
    # No file name holds a NUL (the OS refuses it), and resolving one raises ValueError.
    if "\x00" in database:
        raise InvalidRequest("a SQLite source path cannot contain a NUL character")
    try:
        return Path(database).resolve()
    except (OSError, ValueError, RuntimeError):  # a symlink loop, a name too long
        raise InvalidRequest("the SQLite source path cannot be resolved") from None


def vet_sqlite_path(path: Path, settings: Settings, department: str) -> None:
    if owning_department(settings, path) != department:
        raise InvalidRequest(
            "a SQLite source must lie in the registering department's own directory",
            reason="source_outside_directory",
        )
    if not path.is_file():
        raise InvalidRequest("the SQLite file does not exist")
