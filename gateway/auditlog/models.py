"""The append-only access log table (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    # Assigned by the gateway under a sequencer lock so the order has no gaps.
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry: Mapped[str] = mapped_column(Text)  # canonical JSON, the bytes that are hashed
    leaf_hash: Mapped[str] = mapped_column(String(64))
    # Denormalised for the auditor's filters; the entry text stays the truth.
    principal: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str | None] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
