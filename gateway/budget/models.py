"""Privacy budgets per (app, dataset, window) and the DP releases they paid for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, utcnow


class BudgetLedger(Base):
    """ε in micro-units (1e-6), so reservations add and compare exactly."""

    __tablename__ = "budget_ledgers"

    app_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    window_start: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date
    total_micro: Mapped[int] = mapped_column(BigInteger)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DPRelease(Base):
    """A noisy answer, kept so an identical query in the same window gets the same answer."""

    __tablename__ = "dp_releases"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    query_id: Mapped[str] = mapped_column(ForeignKey("query_requests.id"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    window_start: Mapped[str] = mapped_column(String(10))
    cost_micro: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
