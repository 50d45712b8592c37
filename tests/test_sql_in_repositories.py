"""Where the gateway's SQL lives: repository modules, the store and the migrations.

A module "has SQL" when it imports a statement builder from SQLAlchemy (``select``,
``insert``, ``text``, ...), calls ``execute``/``exec_driver_sql`` on anything, or holds
statement text (``"SELECT ..."``, ``"UPDATE t SET ..."``). The ORM's unit of work
(``session.add``, ``session.get``) writes no statement and is not counted.
docs/architecture.md: a domain's ``repository.py`` holds all SQL of that domain.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = ROOT / "gateway"

# Besides every ``repository.py`` and ``*_repository.py`` and everything under
# gateway/migrations/: the store's own modules.
STORE_MODULES = {
    # the pragmas every SQLite connection of the store starts with, and the /healthz probe
    "gateway/store/engine.py",
    "gateway/store/guards.py",  # the append-only triggers the migrations install
}

# Modules that still run SQL outside a repository, each for a reason. Remove an entry when
# its SQL moves; the last test fails on an entry that no longer holds any.
KNOWN_EXCEPTIONS = {
    # Source databases, not the store: what the gateway exists to query.
    "gateway/queries/planner.py": "builds the statement a run sends to a department's database",
    "gateway/queries/dp.py": "builds the DP statement a run sends to a department's database",
    "gateway/catalog/engines.py": "statement timeouts and the probe on source connections",
    "gateway/catalog/scan.py": "samples a source table's text columns for the PII scan",
    "gateway/catalog/source_identity.py": "asks a source database which server and database it is",
    "gateway/catalog/table_location.py": "resolves a table in a source database's catalogue",
    "gateway/demo/sources.py": "writes the demo's synthetic source databases",
}

_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "union",
    "union_all",
    "intersect",
    "except_",
    "exists",
    "literal_column",
    "table",
    "column",
    "bindparam",
    "values",
    "lateral",
    "join",
    "outerjoin",
}
_RUNNERS = {"execute", "exec_driver_sql", "executemany", "executescript"}
# Statement text as this code base writes it (upper-case keywords), not prose or HTTP verbs.
_STATEMENT = re.compile(
    r"\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\b"
    r"|(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(TABLE|INDEX|UNIQUE|FUNCTION|TRIGGER|VIEW)\b"
    r"|SET\s+(LOCAL|SESSION|TRANSACTION)\s|PRAGMA\s|LOCK\s+TABLE\s|TRUNCATE\s)"
)


def sql_in(source: str) -> list[str]:
    """What in this module's source builds or runs SQL, as "line: what"."""
    tree = ast.parse(source)
    modules = set()  # names bound to sqlalchemy or one of its modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in _BUILDERS:
                    found.append((node.lineno, f"imports {alias.name} from {node.module}"))
                elif alias.name == "sql":  # the module: sql.select(...)
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _BUILDERS:
            base = node.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append((node.lineno, f"uses {base.id}.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _RUNNERS:
                found.append((node.lineno, f"calls .{node.func.attr}()"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _STATEMENT.match(node.value)
        ):
            found.append((node.lineno, f"holds statement text {node.value.split()[0]} ..."))
    return [f"{line}: {what}" for line, what in sorted(found)]


def allowed(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        name == "repository.py"
        or name.endswith("_repository.py")
        or path.startswith("gateway/migrations/")
        or path in STORE_MODULES
    )


def modules_with_sql() -> dict[str, list[str]]:
    found = {}
    for path in sorted(GATEWAY.rglob("*.py")):
        where = sql_in(path.read_text(encoding="utf-8"))
        if where:
            found[path.relative_to(ROOT).as_posix()] = where
    return found


def test_the_sql_finder_finds_sql() -> None:
    assert sql_in("from sqlalchemy import select\nsession.scalar(select(A))\n") == [
        "1: imports select from sqlalchemy"
    ]
    assert sql_in("import sqlalchemy as sa\nq = sa.update(t)\n") == ["2: uses sa.update"]
    assert sql_in("conn.exec_driver_sql(x)\n") == ["1: calls .exec_driver_sql()"]
    assert sql_in('Q = "SELECT a FROM t"\n') == ["1: holds statement text SELECT ..."]
    assert sql_in('Q = f"SET LOCAL statement_timeout = {n}"\n') == [
        "1: holds statement text SET ..."
    ]
    assert sql_in('Q = ("UPDATE audit_sequencer SET size = size + %s")\n') != []
    # Not SQL: HTTP verbs, prose, list methods, the ORM's unit of work.
    assert sql_in('M = "DELETE"\nP = "DELETE /v1/webhooks/{id}"\n"""Select the rows."""\n') == []
    assert sql_in("wrong.insert(0, 1)\nsession.add(row)\nsession.get(A, 1)\n") == []
    assert sql_in("from sqlalchemy import String, func\nfrom sqlalchemy.orm import Session\n") == []


def test_only_repositories_the_store_and_migrations_hold_sql() -> None:
    stray = {
        path: where
        for path, where in modules_with_sql().items()
        if not allowed(path) and path not in KNOWN_EXCEPTIONS
    }
    assert stray == {}, (
        "SQL outside a repository module (move it into the domain's repository.py or a "
        f"*_repository.py beside it): {stray}"
    )


def test_every_known_exception_still_holds_sql() -> None:
    # The list only shrinks: an entry whose module no longer holds SQL goes.
    found = modules_with_sql()
    stale = sorted(path for path in KNOWN_EXCEPTIONS if path not in found)
    assert stale == [], f"no SQL left in these: remove them from KNOWN_EXCEPTIONS: {stale}"
    assert not [path for path in KNOWN_EXCEPTIONS if allowed(path)]
