"""Reason codes: the policy table is generated from the code, and every code is documented."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.access.permissions import _REFUSAL_CODES
from gateway.access.reason_table import DOC, policy_denials, render
from gateway.auditlog.events import REASONS
from gateway.catalog.connect_errors import CONNECT_FAILURES

ROOT = Path(__file__).resolve().parents[3]
# How code names a reason: a denial, an error's reason, a recorded reason_code, a run-state.
_IN_CODE = (
    re.compile(r"_deny\(\s*\"([a-z][a-z_]+)\""),
    re.compile(r"\breason(?:_code)?=\"([a-z][a-z_]+)\""),
    re.compile(r"\"reason_code\":\s*\"([a-z][a-z_]+)\""),
    # key: (code, "中文…", …): a code with its Chinese message, as the run states are kept
    re.compile(r":\s*\(\s*\"([a-z][a-z_]+)\",\s*\"[^\"]*[\u4e00-\u9fff]"),
)


def codes_in_code() -> set[str]:
    found = set(policy_denials()) | set(REASONS) | set(CONNECT_FAILURES)
    found |= set(_REFUSAL_CODES.values())  # one code per kind of caller an action is for
    for folder in ("gateway", "policies"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern in _IN_CODE:
                found.update(pattern.findall(text))
    return found


def documented() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    # `code` in tables and prose, or "code" in JSON examples ("reason": "key_expired")
    return set(re.findall(r"[`\"]([a-z][a-z_]+)[`\"]", text))


def test_the_committed_policy_table_equals_the_rendered_one() -> None:
    page = DOC.read_text(encoding="utf-8")
    assert page.count("<!-- generated: policy-decisions -->") == 1
    assert render(page) == page, "run `python -m gateway.access.reason_table` and commit"


def test_the_table_has_every_denial_with_both_languages() -> None:
    denials = policy_denials()
    assert {"unknown_purpose", "column_withheld", "epsilon_too_high"} <= set(denials)
    for code, (zh, en) in denials.items():
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert re.search(r"[a-z]", en) and not re.search(r"[\u4e00-\u9fff]", en), code
    stale = "<!-- generated: policy-decisions -->\n| `gone` |\n<!-- end generated -->"
    assert "`gone`" not in render(stale) and "`column_withheld`" in render(stale)


def test_every_reason_code_the_code_answers_is_documented() -> None:
    found = codes_in_code()
    assert len(found) >= 40
    missing = sorted(found - documented())
    assert not missing, f"reason codes used in code but documented nowhere in docs/: {missing}"


def test_the_reason_code_tables_name_only_codes_that_exist() -> None:
    page = DOC.read_text(encoding="utf-8")
    section = page.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)`", section, re.M))
    assert len(listed) >= 25
    stale = sorted(listed - codes_in_code())
    assert not stale, f"docs/policies.md lists reason codes the code no longer has: {stale}"
