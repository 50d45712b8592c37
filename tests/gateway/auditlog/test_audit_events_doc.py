"""docs/audit.md's tables are the registry's, and the registry covers what the code records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.auditlog import derived_checks
from gateway.auditlog.events import DOC, EVENTS, OUTCOMES, PROBLEMS, REASONS, check, render

ROOT = Path(__file__).resolve().parents[3]


def sources(*folders: str) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for f in folders for p in sorted((ROOT / f).rglob("*.py"))
    )


def test_the_committed_page_equals_the_rendered_tables() -> None:
    page = DOC.read_text(encoding="utf-8")
    assert page.count("<!-- generated: ") == 4
    assert render(page) == page, "run `python -m gateway.auditlog.events` and commit docs/audit.md"


def test_rendering_replaces_a_stale_table() -> None:
    stale = "x\n<!-- generated: outcomes -->\n| outcome |\n| `gone` |\n<!-- end generated -->\n"
    rendered = render(stale)
    assert "`gone`" not in rendered and all(f"`{o}`" in rendered for o in OUTCOMES)


def test_every_event_the_code_records_is_registered() -> None:
    code = sources("gateway")
    literal = re.findall(r"record(?:_in)?\(\s*(?:session,\s*)?ctx,\s*\"([a-z_]+\.[a-z_]+)\"", code)
    conditional = re.findall(r"\"(request\.[a-z]+)\" if \w+ else \"(request\.[a-z]+)\"", code)
    found = set(literal) | {e for pair in conditional for e in pair}
    found |= {f"request.{s}" for s in ("rejected", "revoked")}  # f"request.{to_status}"
    assert {"query.run", "policy.replaced", "dataset.registered", "source.registered"} <= found
    assert found <= set(EVENTS), found - set(EVENTS)
    assert set(re.findall(r"outcome=\"([a-z_]+)\"", code)) <= set(OUTCOMES)


def test_every_reason_code_the_code_writes_is_registered() -> None:
    decision = (ROOT / "policies" / "decision.py").read_text(encoding="utf-8")
    denials = set(re.findall(r"_deny\(\s*\"([a-z_]+)\"", decision))
    runs = (ROOT / "gateway" / "runs" / "context.py").read_text(encoding="utf-8")
    not_runnable = set(re.findall(r"^\s+\"[a-z]+\": \(\"([a-z_]+)\"", runs, re.M))
    queries = sources("gateway/runs", "gateway/queries", "gateway/tokens")
    refusals = set(re.findall(r"deny\(\s*ctx,\s*principal,\s*run,\s*\w+,\s*\"([a-z_]+)\"", queries))
    refusals |= set(re.findall(r"reason=\"([a-z_]+)\"", sources("gateway/runs", "gateway/queries")))
    refusals |= set(re.findall(r"_refuse\([^)]*?\"([a-z_]+)\"", queries, re.S))
    assert (
        len(denials) > 10 and not_runnable and {"budget_exhausted", "too_many_groups"} <= refusals
    )
    codes = denials | not_runnable | refusals
    assert codes <= set(REASONS), codes - set(REASONS)


def test_every_verify_problem_is_registered() -> None:
    code = sources("gateway/auditlog", "gateway/cli")
    kinds = set(re.findall(r"Problem\(\s*[^,()]+,\s*\"([a-z_]+)\"", code))
    verify = (ROOT / "gateway" / "auditlog" / "verify.py").read_text(encoding="utf-8")
    for pair in re.findall(r"\"([a-z_]+)\" if [^\n]+ else \"([a-z_]+)\"", verify):
        kinds |= set(pair)  # kinds chosen by a condition
    kinds |= {v for k, v in vars(derived_checks).items() if k.isupper() and isinstance(v, str)}
    assert {"changed_entry", "changed_column", "missing_node"} <= kinds
    assert kinds <= set(PROBLEMS), kinds - set(PROBLEMS)


def test_an_unregistered_event_or_outcome_is_refused() -> None:
    check("query.run", "ok")
    with pytest.raises(ValueError):
        check("query.sneaked", None)
    with pytest.raises(ValueError):
        check("query.run", "vanished")
