"""docs/api.md's code facts: the generated tables match the code, the error table is complete."""

from __future__ import annotations

import re

from gateway.api.doc_tables import DOC, TABLES, error_types, render
from gateway.catalog.connect_errors import CONNECT_FAILURES


def test_the_committed_page_equals_the_rendered_tables() -> None:
    page = DOC.read_text(encoding="utf-8")
    assert page.count("<!-- generated: ") == len(TABLES)
    assert render(page) == page, "run `python -m gateway.api.doc_tables` and commit docs/api.md"


def test_rendering_replaces_a_stale_table() -> None:
    stale = "x\n<!-- generated: connect-failures -->\n| `gone` |\n<!-- end generated -->\n"
    rendered = render(stale)
    assert "`gone`" not in rendered
    assert all(f"| `{code}` |" in rendered for code in CONNECT_FAILURES)


def _error_rows() -> set[tuple[int, str]]:
    """(status, error) of every row of the Errors section's status table."""
    section = DOC.read_text(encoding="utf-8").split("## Errors", 1)[1].split("\n## ", 1)[0]
    return {
        (int(status), error)
        for status, error in re.findall(r"^\| (\d{3}) \| `([A-Za-z]+)` \|", section, re.M)
    }


def test_the_error_table_lists_every_error_type_the_code_has() -> None:
    rows = _error_rows()
    known = {(status, name) for name, status in error_types().items()}
    raised = {(s, n) for n, s in error_types().items() if s not in (400, 415)}
    unknown = rows - known
    assert not unknown, f"docs/api.md lists errors the code does not have: {unknown}"
    # 400 never reaches a client (an unparsable body is answered 422); 415 is FastAPI's.
    missing = raised - rows
    assert not missing, f"error types without a row in docs/api.md's Errors table: {missing}"
