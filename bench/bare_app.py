"""The baseline of bench/http_run.py: the benchmark's SQL behind a bare FastAPI endpoint.

No API key, no policy decision, no masking, no run counter, no access log: one
pooled SQLAlchemy engine on the department's SQLite file and a sync ``def``
endpoint (so it runs in Starlette's threadpool, like the gateway's route) that
executes the same SELECT the gateway plans for the benchmark query and answers
``{"columns": [...], "rows": [[...], ...]}``.

Run by http_run.py as::

    BENCH_SOURCE_DB=.../sources/civil_affairs.db BENCH_COMMUNITY=heping \\
        python -m uvicorn bare_app:create_app --factory --app-dir bench --port N

Settings are read when the factory runs, never at import time.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine, text

# The gateway's plan for the benchmark query is
#   policy row scope (community = <app's domain> AND age >= 70)
#   AND the query's filters (lives_alone = 1 AND age >= :min_age)
#   ORDER BY building, unit, room LIMIT <row cap + 1>
# The gateway fetches one row beyond its cap to tell whether the answer was
# truncated; the baseline asks for the cap itself. Same index use, same rows.
SQL = text(
    "SELECT name, mobile, age, building, unit, room FROM residents"
    " WHERE community = :community AND age >= :scope_min_age"
    " AND lives_alone = :lives_alone AND age >= :min_age"
    " ORDER BY building ASC, unit ASC, room ASC"
    " LIMIT :limit"
)


class RunBody(BaseModel):
    """Same request body shape as the gateway's ``POST /v1/queries/{id}/run``."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict, max_length=50)


def create_app() -> FastAPI:
    source_db = os.environ["BENCH_SOURCE_DB"]
    community = os.environ.get("BENCH_COMMUNITY", "heping")
    scope_min_age = int(os.environ.get("BENCH_SCOPE_MIN_AGE", "70"))
    limit = int(os.environ.get("BENCH_LIMIT", "20"))
    # Same engine settings as gateway.catalog.engines.make_source_engine for SQLite.
    engine = create_engine(f"sqlite:///{source_db}", connect_args={"check_same_thread": False})

    app = FastAPI(title="bench baseline", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    @app.post("/run")
    def run(body: RunBody):  # type: ignore[no-untyped-def]
        values = {
            "community": community,
            "scope_min_age": scope_min_age,
            "lives_alone": 1,
            "min_age": int(body.params.get("min_age", 80)),
            "limit": limit,
        }
        with engine.connect() as conn:
            result = conn.execute(SQL, values)
            columns = list(result.keys())
            rows = [list(r) for r in result.fetchall()]
        return {"columns": columns, "rows": rows}

    return app
