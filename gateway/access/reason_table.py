"""docs/policies.md's table of policy decisions, rendered from policies/decision.py itself.

Every denial ``policies.decide`` can answer is one ``_deny(code, english, chinese, version)``
call; the table lists each code with its two messages, read from those calls (placeholders
such as ``{purpose}`` stand for the values filled in). ``python -m gateway.access.reason_table``
rewrites the block between ``<!-- generated: policy-decisions -->`` and
``<!-- end generated -->``; tests/gateway/access/test_reason_table.py fails when the committed
page differs, and when a reason code the code can answer is documented nowhere in docs/.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from policies import decision

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
_BLOCK = re.compile(r"(<!-- generated: policy-decisions -->\n).*?(<!-- end generated -->)", re.S)


def _placeholder(node: ast.expr) -> str:
    """The name a reader recognises: ``rule.not_before.isoformat()`` -> ``not_before``."""
    while isinstance(node, ast.Call):
        node = node.func
        if isinstance(node, ast.Attribute):
            node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return "value"


def _text(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            "{" + _placeholder(part.value) + "}"
            if isinstance(part, ast.FormattedValue)
            else str(getattr(part, "value", ""))
            for part in node.values
        )
    raise ValueError(f"a _deny message that is not a string literal: {ast.unparse(node)}")


def policy_denials() -> dict[str, tuple[str, str]]:
    """Reason code -> (Chinese, English) of every denial in policies/decision.py, in order."""
    tree = ast.parse(Path(decision.__file__).read_text(encoding="utf-8"))
    calls = sorted(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_deny"
        ),
        key=lambda node: node.lineno,
    )
    found: dict[str, tuple[str, str]] = {}
    for call in calls:
        code, english, chinese = (_text(arg) for arg in call.args[:3])
        found.setdefault(code, (chinese, english))
    return found


def table() -> str:
    rows = [f"| `{code}` | {zh} | {en} |" for code, (zh, en) in policy_denials().items()]
    return "\n".join(["| code | 中文 | English |", "|---|---|---|", *rows])


def render(page: str) -> str:
    return _BLOCK.sub(lambda m: f"{m.group(1)}{table()}\n{m.group(2)}", page)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
