"""A gateway with the demo's residents and checkups datasets, for console page tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway
from tests.console.helpers import sign_in

HOME_VISIT = "public-service.elderly-care.home-visit"
PLANNING = "public-service.community-planning"
FOLLOW_UP = "public-service.elderly-care.health-follow-up"


@dataclass
class World:
    gw: Gateway
    residents: str
    checkups: str

    def browser(self, who: str) -> tuple[TestClient, str]:
        """A fresh client signed in as ``who`` and its CSRF token."""
        client = TestClient(self.gw.client.app)
        return client, sign_in(client, self.gw.keys[who])


def make_world(gw: Gateway, community: Community, tmp_path: Path) -> World:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(community, dict.fromkeys(SOURCE_TABLES, url))
    return World(
        gw,
        residents=gw.register_demo_dataset("residents", url),
        checkups=gw.register_demo_dataset("checkups", url),
    )
