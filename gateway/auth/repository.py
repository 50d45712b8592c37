"""All SQL of principals and API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.auth.models import ApiKey, Principal
from gateway.store.base import utcnow


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def principal_by_digest(self, digest: str) -> tuple[str, str, str, str, str] | None:
        """(id, name, kind, role, domain) of the live key's active principal: one Core
        statement, no ORM objects, since every request asks it."""
        stmt = (
            select(Principal.id, Principal.name, Principal.kind, Principal.role, Principal.domain)
            .join(ApiKey, ApiKey.principal_id == Principal.id)
            .where(ApiKey.digest == digest, ApiKey.revoked_at.is_(None), Principal.active.is_(True))
            .limit(1)
        )
        row = self.session.connection().execute(stmt).first()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def by_name(self, name: str) -> Principal | None:
        return self.session.scalars(select(Principal).where(Principal.name == name)).first()

    def all(self) -> Sequence[Principal]:
        return self.session.scalars(
            select(Principal).order_by(Principal.kind, Principal.name)
        ).all()

    def add(self, row: Principal | ApiKey) -> None:
        self.session.add(row)
        self.session.flush()

    def revoke_keys(self, principal_id: str) -> None:
        self.session.execute(
            update(ApiKey)
            .where(ApiKey.principal_id == principal_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
