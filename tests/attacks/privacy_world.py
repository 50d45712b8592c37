"""Shared by the privacy attacks: the demo residents on SQLite or PostgreSQL, a gateway
registering them under a policy the test chooses, and an independent margin audit."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway

SOURCES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PLANNING = "public-service.community-planning"
HEPING = "heping-committee"


def make_source(request: pytest.FixtureRequest, community: Community, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    write_sources(community, dict.fromkeys(SOURCE_TABLES, url))
    return url


def residents_document(purposes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    if purposes is not None:
        spec["policy"]["purposes"] = purposes
    return spec


def planning_rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = copy.deepcopy(residents_document()["policy"]["purposes"][1])
    rule.update(changes)
    return rule


def register(gateway: Gateway, url: str, purposes: list[dict[str, Any]] | None = None) -> Any:
    """POST the residents dataset; returns the response (201, or 422 with the problems)."""
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "src", "url": url})
    assert r.status_code in (201, 409), r.text
    spec = residents_document(purposes)
    spec["source"] = "src"
    return gateway.post("civil-affairs", "/v1/datasets", spec)


def file(gateway: Gateway, dataset: str, purpose: str, spec: dict[str, Any], **extra: Any) -> Any:
    body = {"dataset": dataset, "purpose": purpose, "justification": "test", "spec": spec}
    return gateway.post(HEPING, "/v1/query-requests", {**body, **extra})


def truth(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()
