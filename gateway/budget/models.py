"""Privacy budget spends per (app, dataset, purpose), the DP releases they paid for and
the claims that make identical DP runs single-flight."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, utcnow


class BudgetSpend(Base):
    """One reservation of ε, in micro-units (1e-6), with the instant it was made.

    Windows are rolling sums over these rows, so no setting can start a fresh budget.
    """

    __tablename__ = "budget_spends"
    __table_args__ = (Index("ix_budget_spends_dataset_app", "dataset_id", "app_id", "spent_at"),)

    # A random key, not a sequence: the gateway's database role needs no sequence grant.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid4().hex)
    app_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    purpose: Mapped[str] = mapped_column(String(128))
    cost_micro: Mapped[int] = mapped_column(BigInteger)
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetBudget(Base):
    """A dataset's lifetime spend across every app, and the row each reservation locks."""

    __tablename__ = "budget_datasets"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredRelease(Base):
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


class ReleaseClaim(Base):
    """A DP run holding a release key (gateway/budget/claims_repository.py: single flight)."""

    __tablename__ = "dp_release_claims"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the release key
    holder: Mapped[str] = mapped_column(String(32))  # the run holding it (random)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
