"""A gateway whose log holds runs of one approved row query: the world the tamper tests share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.settings import Settings
from tests.conftest import Gateway, make_settings, open_gateway

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
APP = "heping-committee"


@dataclass
class LoggedGateway:
    gw: Gateway
    settings: Settings
    env: dict[str, str]  # what `cdg` needs to open the same home and store
    query: str  # an approved row query of APP

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.settings.store_url, poolclass=sa.NullPool)


def logged_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, community: Community
) -> LoggedGateway:
    """A gateway on the store ``request.param`` names, checkpointing every 5 entries."""
    store_url = None
    if request.param == "postgresql":
        store_url = str(request.getfixturevalue("pg_url"))
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(community, dict.fromkeys(SOURCE_TABLES, source))
    home = tmp_path / "home"
    settings = make_settings(home, store_url, checkpoint_every_entries=5)
    gw = open_gateway(settings)
    dataset = gw.register_demo_dataset("residents", source)
    query = gw.approved_query(
        APP, dataset, "public-service.elderly-care.home-visit", {"select": ["age"], "limit": 2}
    )
    env = {"CDG_HOME": str(home)}
    if store_url:
        env["CDG_DATABASE_URL"] = store_url
    return LoggedGateway(gw, settings, env, query)
