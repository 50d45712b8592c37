"""The libraries the gateway composes never import the gateway (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module or "")
    return modules


@pytest.mark.parametrize("library", ["policies", "anonymizers", "audit"])
def test_library_imports_nothing_from_the_gateway(library: str) -> None:
    # The offline verifier and the policy checker ship without the service, so
    # these packages stay libraries the gateway composes, never the other way round.
    files = sorted((ROOT / library).rglob("*.py"))
    assert files, f"no modules found under {library}/"
    for path in files:
        for module in imported_modules(path):
            assert module.split(".")[0] != "gateway", f"{path.relative_to(ROOT)} imports {module}"
