"""The append-only access log table (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Float, ForeignKey, Index, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"
    # Daily quotas count an app's recent runs on a dataset.
    __table_args__ = (Index("ix_audit_entries_quota", "principal", "dataset", "recorded_at"),)

    # Assigned by the gateway under a sequencer lock so the order has no gaps.
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry: Mapped[str] = mapped_column(Text)  # canonical JSON, the bytes that are hashed
    leaf_hash: Mapped[str] = mapped_column(String(64))
    # HMAC of (index, leaf hash) under a key derived from the master key: "<version>:<hex>".
    # Shows the gateway wrote the entry; NULL only on entries from before MACs existed.
    mac: Mapped[str | None] = mapped_column(String(80), default=None)
    # Denormalised for the auditor's filters; the entry text stays the truth.
    principal: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str | None] = mapped_column(String(64), index=True)
    purpose: Mapped[str | None] = mapped_column(String(128), default=None)
    event: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Privacy loss charged by the release (differential privacy), in the ledger's unit.
    privacy_cost: Mapped[float | None] = mapped_column(Float, default=None)


class AuditNode(Base):
    """Perfect-subtree hashes of the RFC 6962 tree; level 0 holds the leaf hashes."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditSequencer(Base):
    """One row: the log's size. Updating it is the lock that orders appenders.

    A row lock on PostgreSQL and the write lock on SQLite: either way one appender
    at a time, across every gateway process on the store.
    """

    __tablename__ = "audit_sequencer"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class AuditCheckpoint(Base):
    """Signed checkpoints (C2SP signed note); the signing key never enters the database."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditSubject(Base):
    """Which entries released rows about which resident (by SubjectRef only)."""

    __tablename__ = "audit_subjects"

    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class ResidentLink(Base):
    """A one-time link through which a resident reads who received their data.

    Issued by a department (or an auditor) for one SubjectRef. Only SHA-256 digests of the
    link's token and of the short session it opens are kept: the store never holds anything
    that opens a link or a session. ``opened_at`` is set once, by the single UPDATE that
    exchanges the token, so a second open finds it set and is refused.
    """

    __tablename__ = "resident_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(64))
    issuer_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    session_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    session_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


# The log's tables as Core tables, for the repositories' driver and Core statements.
ENTRIES = cast(Table, AuditEntryRow.__table__)
NODES = cast(Table, AuditNode.__table__)
SUBJECTS = cast(Table, AuditSubject.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
SEQUENCER = cast(Table, AuditSequencer.__table__)
