"""Sources (department databases), datasets and their policy versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, utcnow


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    dialect: Mapped[str] = mapped_column(String(32))
    # The URL holds credentials: AES-GCM under a key derived from the master key.
    url_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    # What the database says about itself (see source_identity); NULL on rows registered
    # before identities existed, filled in at the next registration.
    identity: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retirement is soft: the row stays, so the access log's entries keep their names.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    retired_by: Mapped[str | None] = mapped_column(String(64), default=None)
    retire_reason: Mapped[str | None] = mapped_column(Text, default=None)


class SourceIdentity(Base):
    """One row per database ever registered: its primary key makes it one department's."""

    __tablename__ = "source_identities"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    table_name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    privacy_unit: Mapped[str] = mapped_column(String(64))
    # The column holding residents' ID numbers, which the access log indexes (None: the unit).
    resident_id: Mapped[str | None] = mapped_column(String(64), default=None)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    retired_by: Mapped[str | None] = mapped_column(String(64), default=None)
    retire_reason: Mapped[str | None] = mapped_column(Text, default=None)


class PolicyVersion(Base):
    """Every policy a dataset ever had, so an audit entry's version hash stays explainable."""

    __tablename__ = "policy_versions"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
