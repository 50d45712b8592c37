"""casbin rules derived from usage policies and role assignments, their epoch, and the
daily run counts a decision reads (a policy's ``max_runs_per_day``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class CasbinRule(Base):
    """One casbin policy line (the layout casbin's SQL adapters use)."""

    __tablename__ = "casbin_rules"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str] = mapped_column(String(128), default="")
    v1: Mapped[str] = mapped_column(String(128), default="")
    v2: Mapped[str] = mapped_column(String(128), default="")
    v3: Mapped[str] = mapped_column(String(128), default="")


class PolicyEpoch(Base):
    """One row, bumped whenever the rules change; every gateway process compares it."""

    __tablename__ = "policy_epoch"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger)


class DailyRuns(Base):
    """Runs per (app, dataset, granted purpose, UTC day): daily quotas, taken atomically."""

    __tablename__ = "daily_runs"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date, UTC
    runs: Mapped[int] = mapped_column(default=0)
