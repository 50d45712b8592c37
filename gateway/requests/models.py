"""Query requests; an approved request is an ApprovedQuery and shares its id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, utcnow


class QueryRequest(Base):
    __tablename__ = "query_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(128))
    justification: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # rows | aggregate
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    example_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending | approved | rejected | revoked; "expired" is derived from expires_at.
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # Why an approved query was revoked: department | dataset_retired | source_retired |
    # policy_replaced (None before revocation, and on rows revoked before this column).
    revoke_cause: Mapped[str | None] = mapped_column(String(32), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(32), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    max_runs: Mapped[int | None] = mapped_column(default=None)
    row_cap: Mapped[int | None] = mapped_column(default=None)
    runs_used: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
