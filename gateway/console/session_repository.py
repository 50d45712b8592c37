"""All SQL of console sessions (``console_sessions``); gateway/console/sessions.py decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from gateway.auth.models import ApiKey, ConsoleSession, Principal
from gateway.principal import AuthPrincipal


@dataclass(frozen=True)
class StoredSession:
    """A session row with its principal, and whether the key that signed in still works."""

    created_at: datetime
    last_seen_at: datetime
    principal: AuthPrincipal
    active: bool  # the principal's own flag (``cdg principal revoke`` clears it)
    display_name: str | None
    key_live: bool  # the key is neither revoked nor expired at ``now``


class ConsoleSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def key_id(self, key_digest: str) -> str:
        """The id of the API key with this digest (one exists: the caller just used it)."""
        return self.session.execute(
            select(ApiKey.id).where(ApiKey.digest == key_digest)
        ).scalar_one()

    def add(self, row: ConsoleSession) -> None:
        self.session.add(row)
        self.session.flush()

    def find(self, session_digest: str, now: datetime) -> StoredSession | None:
        """The session, its principal and its key's state, in one statement."""
        row = self.session.execute(
            select(
                ConsoleSession.created_at,
                ConsoleSession.last_seen_at,
                Principal.id,
                Principal.name,
                Principal.kind,
                Principal.role,
                Principal.domain,
                Principal.active,
                Principal.display_name,
                ApiKey.id.label("key_live"),
            )
            .join(Principal, Principal.id == ConsoleSession.principal_id)
            .outerjoin(
                ApiKey,
                (ApiKey.id == ConsoleSession.key_id)
                & ApiKey.revoked_at.is_(None)
                & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
            )
            .where(ConsoleSession.digest == session_digest)
        ).first()
        if row is None:
            return None
        principal = AuthPrincipal(
            id=row.id, name=row.name, kind=row.kind, role=row.role, domain=row.domain
        )
        return StoredSession(
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            principal=principal,
            active=row.active,
            display_name=row.display_name,
            key_live=row.key_live is not None,
        )

    def touch(self, session_digest: str, now: datetime) -> None:
        self.session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.digest == session_digest)
            .values(last_seen_at=now)
        )

    def delete(self, session_digest: str) -> None:
        self.session.execute(delete(ConsoleSession).where(ConsoleSession.digest == session_digest))
