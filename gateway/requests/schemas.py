"""Bodies of query requests and their approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.bounds import Instant
from gateway.queries.spec import QuerySpec
from policies.document import TEXT
from policies.purposes import PURPOSE_PATTERN


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryRequestCreate(_In):
    dataset: str = Field(max_length=32, pattern=TEXT, description="Dataset id from the catalog.")
    purpose: str = Field(
        pattern=PURPOSE_PATTERN, description="Declared purpose, e.g. elderly-care.home-visit."
    )
    justification: str = Field(min_length=1, max_length=2000, pattern=TEXT)
    spec: QuerySpec
    example_params: dict[str, Any] = Field(default_factory=dict, max_length=50)


class Approval(_In):
    expires_at: Instant | None = Field(
        default=None, description="After this the query no longer runs (a future time)."
    )
    max_runs: int | None = Field(default=None, ge=1, le=1_000_000)
    row_cap: int | None = Field(default=None, ge=1, le=1_000_000)
    note: str = Field(default="", max_length=2000, pattern=TEXT)


class Rejection(_In):
    reason: str = Field(min_length=1, max_length=2000, pattern=TEXT)


class QueryRequestOut(BaseModel):
    id: str
    app: str
    dataset: str
    purpose: str
    justification: str
    kind: str
    spec: dict[str, Any]
    example_params: dict[str, Any]
    status: str
    reason: str = Field(description="The department's note, rejection or revocation reason.")
    revoke_cause: str | None = Field(
        default=None,
        description="Why a revoked query was revoked: department, dataset_retired, "
        "source_retired or policy_replaced.",
    )
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    max_runs: int | None
    row_cap: int | None
    runs_used: int
    created_at: datetime
