"""Tables in docs/api.md that are rendered from the code, so the page cannot drift from it.

A block between ``<!-- generated: NAME -->`` and ``<!-- end generated -->`` holds the
table NAME renders; ``python -m gateway.api.doc_tables`` rewrites the blocks, and
tests/gateway/api/test_doc_tables.py fails when the committed page differs (the same
pattern as docs/audit.md and gateway/auditlog/events.py).

* ``connect-failures``: why a source connection failed (gateway/catalog/connect_errors.py).

``error_types`` lists every ``error`` a client can receive with its status (gateway/errors.py
and the names the HTTP layer gives in gateway/api/errors.py); the test holds the page's
hand-written error table, which says when each happens, to exactly that list.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from gateway import errors
from gateway.api.errors import _HTTP_NAMES
from gateway.catalog.connect_errors import CONNECT_FAILURES

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def connect_failures() -> str:
    rows = [f"| `{f.code}` | {f.zh} | {f.en} |" for f in CONNECT_FAILURES.values()]
    return "\n".join(["| `reason` | 中文 | English |", "|---|---|---|", *rows])


def error_types() -> dict[str, int]:
    """``error`` value -> HTTP status, for every error a client can receive."""
    found = {"InternalError": 500}
    pending: list[type[errors.GatewayError]] = [errors.GatewayError]
    while pending:
        cls = pending.pop()
        found[cls.error_type] = cls.status_code
        pending.extend(cls.__subclasses__())
    for status, name in _HTTP_NAMES.items():
        found.setdefault(name, status)
    return found


TABLES: dict[str, Callable[[], str]] = {
    "connect-failures": connect_failures,
}
_BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n).*?(<!-- end generated -->)", re.S)


def render(page: str) -> str:
    """The page with each generated block replaced by its table from the code."""

    def fill(match: re.Match[str]) -> str:
        return f"{match.group(1)}{TABLES[match.group(2)]()}\n{match.group(3)}"

    return _BLOCK.sub(fill, page)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
