"""Which way imports point: libraries never import the gateway; gateway folders form no cycle."""

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


def gateway_graph() -> dict[str, set[str]]:
    """Which gateway folders (and top-level modules) import which, from the source."""
    gateway = ROOT / "gateway"
    graph: dict[str, set[str]] = {}
    for path in sorted(gateway.rglob("*.py")):
        parts = path.relative_to(gateway).parts
        source = parts[0] if len(parts) > 1 else path.stem
        targets = graph.setdefault(source, set())
        for module in imported_modules(path):
            names = module.split(".")
            if names[0] == "gateway" and len(names) > 1 and names[1] != source:
                targets.add(names[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_run_path_libraries_sit_below_the_pipeline() -> None:
    # queries/ (spec, planning, release) is what the pipeline composes; it never reaches
    # back to the pipeline, query requests, decisions, the catalogue or HTTP.
    forbidden = {"runs", "requests", "access", "decisions", "api", "auth", "catalog"}
    assert not gateway_graph()["queries"] & forbidden


def test_gateway_folders_import_each_other_without_cycles() -> None:
    # Bottom up (docs/architecture.md): the basics, store/ and queries/; access/; auth/ and
    # auditlog/; catalog/; decisions/, budget/ and context.py; the domains that act; runs/
    # and oversight/; console/, cli/ and migrations/; api/. A type-only import counts too.
    assert cycles(gateway_graph()) == []
