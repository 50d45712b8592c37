"""Seeding the demo community through the same services the API uses.

Safe to run again in the same CDG_HOME: whatever exists is reused. API keys are
stored only as digests, so the keys handed out are kept in ``home/demo.json``
(mode 0600) and re-issued only if that file no longer matches the store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gateway.auth.models import Principal
from gateway.auth.repository import AuthRepository
from gateway.auth.service import add_principal, as_principal, authenticate, issue_key
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.schemas import DatasetCreate, SourceCreate
from gateway.catalog.service import register_dataset, register_source
from gateway.catalog.source_paths import department_dir
from gateway.context import GatewayContext
from gateway.demo.catalog import DATASETS, PRINCIPALS, QUERIES, SOURCE_OWNERS
from gateway.demo.community import generate_community
from gateway.demo.seed_repository import SeedRepository
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import Unauthenticated
from gateway.home import private_dir, private_file
from gateway.requests.schemas import Approval, QueryRequestCreate
from gateway.requests.service import approve, file_request
from gateway.settings import Settings


def summary_path(settings: Settings) -> Path:
    return settings.home / "demo.json"


def ensure_sources(settings: Settings, residents: int, seed: int) -> dict[str, str]:
    """Each demo source in its owning department's own directory (HOME/sources/<dept>)."""
    files = {
        name: department_dir(settings, SOURCE_OWNERS[name]) / f"{name}.db" for name in SOURCE_TABLES
    }
    urls = {name: f"sqlite:///{path}" for name, path in files.items()}
    if not all(path.is_file() for path in files.values()):
        private_dir(settings.home / "sources")
        for path in files.values():  # residents' (synthetic) records: private like the store
            if not path.parent.exists():
                # Only a directory made here is narrowed: CDG_SOURCE_DIRS may name a shared
                # one (tests name the temporary directory, which MariaDB also writes to).
                private_dir(path.parent)
            private_file(path)
        write_sources(generate_community(seed=seed, residents=residents), urls)
    return urls


def _previous_keys(settings: Settings) -> dict[str, str]:
    path = summary_path(settings)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {p["name"]: p["api_key"] for p in data.get("principals", [])}
    except (ValueError, KeyError, TypeError):
        return {}


def _ensure_principals(
    session: Session, previous: dict[str, str]
) -> dict[str, tuple[Principal, str]]:
    out: dict[str, tuple[Principal, str]] = {}
    for name, kind, domain, role, display in PRINCIPALS:
        row = AuthRepository(session).by_name(name)
        if row is None:
            row, key = add_principal(
                session, name=name, kind=kind, domain=domain, role=role, display_name=display
            )
        else:
            key = previous.get(name, "")
            try:
                if authenticate(session, key).id != row.id:
                    raise Unauthenticated("stale")
            except Unauthenticated:
                key = issue_key(session, row)
        out[name] = (row, key)
    return out


def seed_demo(ctx: GatewayContext, residents: int = 10_000, seed: int = 20261127) -> dict[str, Any]:
    settings = ctx.settings
    urls = ensure_sources(settings, residents, seed)
    with ctx.store.transaction() as session:
        principals = _ensure_principals(session, _previous_keys(settings))
    who = {name: as_principal(row) for name, (row, _) in principals.items()}

    datasets: dict[str, str] = {}
    for spec in DATASETS:
        owner = who[SOURCE_OWNERS[spec["source"]]]
        with ctx.store.transaction() as session:
            repo = CatalogRepository(session)
            if repo.source_by_name(spec["source"]) is None:
                source = SourceCreate.model_validate(
                    {"name": spec["source"], "url": urls[spec["source"]]}
                )
                register_source(session, ctx, owner, source)
        with ctx.store.transaction() as session:
            existing = CatalogRepository(session).dataset_by_name(spec["name"])
            if existing is None:
                created = register_dataset(session, ctx, owner, DatasetCreate.model_validate(spec))
                datasets[spec["name"]] = created.id
            else:
                datasets[spec["name"]] = existing.id

    approved: list[dict[str, Any]] = []
    for app, dataset_name, purpose, justification, query, params in QUERIES:
        dataset_id = datasets[dataset_name]
        with ctx.store.transaction() as session:
            found = SeedRepository(session).approved_request(who[app].id, dataset_id, purpose)
            if found is None:
                request = QueryRequestCreate.model_validate(
                    {
                        "dataset": dataset_id,
                        "purpose": purpose,
                        "justification": justification,
                        "spec": query,
                        "example_params": params,
                    }
                )
                filed = file_request(session, ctx, who[app], request)
                query_id, kind = filed.id, filed.kind
                if filed.status == "pending":
                    owner = next(d for d in DATASETS if d["name"] == dataset_name)["source"]
                    approve(
                        session,
                        ctx,
                        who[SOURCE_OWNERS[owner]],
                        filed.id,
                        Approval(note="演示数据: 已审核 / demo: reviewed"),
                    )
            else:
                query_id, kind = found.id, found.kind
        approved.append(
            {
                "id": query_id,
                "app": app,
                "dataset": dataset_id,
                "purpose": purpose,
                "kind": kind,
                "params": params,
            }
        )

    summary: dict[str, Any] = {
        "base_url": settings.base_url,
        "home": str(settings.home.resolve()),
        "principals": [
            {
                "name": name,
                "kind": row.kind,
                "domain": row.domain,
                "role": row.role,
                "display_name": row.display_name,
                "api_key": key,
            }
            for name, (row, key) in principals.items()
        ],
        "datasets": [
            {"id": datasets[d["name"]], "name": d["name"], "owner": SOURCE_OWNERS[d["source"]]}
            for d in DATASETS
        ],
        "approved_queries": approved,
    }
    path = summary_path(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, ensure_ascii=False, indent=2)
    return summary
