"""All SQL of principals and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.auth.models import ApiKey, Principal
from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow


@dataclass(frozen=True)
class KeyHolder:
    principal: AuthPrincipal
    prefix: str  # the key's first characters, to name it in logs
    expires_at: datetime | None


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def principal_by_digest(self, digest: str) -> KeyHolder | None:
        """The unrevoked key's active principal and the key's expiry: one Core statement,
        no ORM objects, since every request asks it. Expired keys are found (and refused
        by the caller, saying so)."""
        stmt = (
            select(
                Principal.id,
                Principal.name,
                Principal.kind,
                Principal.role,
                Principal.domain,
                ApiKey.prefix,
                ApiKey.expires_at,
            )
            .join(ApiKey, ApiKey.principal_id == Principal.id)
            .where(ApiKey.digest == digest, ApiKey.revoked_at.is_(None), Principal.active.is_(True))
            .limit(1)
        )
        row = self.session.connection().execute(stmt).first()
        if row is None:
            return None
        principal = AuthPrincipal(id=row[0], name=row[1], kind=row[2], role=row[3], domain=row[4])
        return KeyHolder(principal, row[5], row[6])

    def live_keys(self, principal_id: str, now: datetime) -> Sequence[ApiKey]:
        """The principal's keys that still work (unrevoked, unexpired), oldest first."""
        return self.session.scalars(
            select(ApiKey)
            .where(
                ApiKey.principal_id == principal_id,
                ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
            )
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()

    def by_name(self, name: str) -> Principal | None:
        return self.session.scalars(select(Principal).where(Principal.name == name)).first()

    def all(self) -> Sequence[Principal]:
        return self.session.scalars(
            select(Principal).order_by(Principal.kind, Principal.name)
        ).all()

    def active(self) -> Sequence[Principal]:
        """Principals that hold roles now (the access rules are derived from them)."""
        return self.session.scalars(select(Principal).where(Principal.active.is_(True))).all()

    def add(self, row: Principal | ApiKey) -> None:
        self.session.add(row)
        self.session.flush()

    def revoke_keys(self, principal_id: str) -> None:
        self.session.execute(
            update(ApiKey)
            .where(ApiKey.principal_id == principal_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
