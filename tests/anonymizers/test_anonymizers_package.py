from pathlib import Path

import anonymizers

PACKAGE_DIR = Path(anonymizers.__file__).parent


def test_public_names_resolve() -> None:
    assert len(anonymizers.__all__) == len(set(anonymizers.__all__))
    for name in anonymizers.__all__:
        assert hasattr(anonymizers, name), name


def test_is_typed() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
