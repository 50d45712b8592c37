"""The CLI's remote commands run against the same live gateway as the client's tests.

Messages follow the locale: tests run in English unless they set a Chinese one.
"""

from collections.abc import Iterator

import pytest

from tests.gateway.client.conftest import live

__all__ = ["live"]


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
