import ast
from pathlib import Path

import anonymizers

PACKAGE_DIR = Path(anonymizers.__file__).parent


def test_public_names_resolve() -> None:
    assert len(anonymizers.__all__) == len(set(anonymizers.__all__))
    for name in anonymizers.__all__:
        assert hasattr(anonymizers, name), name


def test_is_typed() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_imports_nothing_from_gateway() -> None:
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] != "gateway", f"{path.name} imports {module}"
