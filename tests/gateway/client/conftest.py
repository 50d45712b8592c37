"""Fixtures: a live gateway (SQLite or PostgreSQL store) with the test principals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings, open_gateway
from tests.gateway.client.live import LiveGateway, live_gateway

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveGateway]:
    """A gateway served over HTTP on a free port; its store is SQLite or PostgreSQL."""
    store_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    gw = open_gateway(make_settings(tmp_path / "home", store_url))
    try:
        with live_gateway(gw) as served:
            yield served
    finally:
        gw.client.close()
        gw.ctx.close()
