"""The audit package's contract: a typed library that never imports the gateway."""

from __future__ import annotations

import ast
from pathlib import Path

import audit

PACKAGE_DIR = Path(audit.__file__).parent


def test_no_module_imports_the_gateway() -> None:
    # The offline verifier ships without the service; DESIGN.md makes
    # audit/ a library that the gateway composes, never the other way round.
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] != "gateway", f"{path.name} imports {name}"


def test_public_names_resolve() -> None:
    for name in audit.__all__:
        assert getattr(audit, name) is not None, name
    assert sorted(audit.__all__) == sorted(set(audit.__all__))


def test_typed_marker_is_shipped() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_every_error_is_an_audit_error() -> None:
    for error in (audit.ProofError, audit.StoreError, audit.CheckpointError):
        assert issubclass(error, audit.AuditError)
