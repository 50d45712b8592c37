"""All SQL of resident links (gateway/oversight/resident_links.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from gateway.auditlog.models import ResidentLink
from gateway.auth.models import Principal


class ResidentLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: ResidentLink) -> None:
        self.session.add(row)
        self.session.flush()

    def of_department(self, domain: str, limit: int) -> Sequence[Any]:
        """(link, issuer name) of links issued by a department's principals, newest first."""
        return self.session.execute(
            select(ResidentLink, Principal.name)
            .join(Principal, Principal.id == ResidentLink.issuer_id)
            .where(Principal.kind == "department", Principal.domain == domain)
            .order_by(ResidentLink.created_at.desc(), ResidentLink.id)
            .limit(limit)
        ).all()

    def with_issuer(self, link_id: str) -> Any:
        """(link, issuer name, issuer domain), or None."""
        return self.session.execute(
            select(ResidentLink, Principal.name, Principal.domain)
            .join(Principal, Principal.id == ResidentLink.issuer_id)
            .where(ResidentLink.id == link_id)
        ).first()

    def revoke(self, row: ResidentLink, now: datetime) -> None:
        row.revoked_at = now
        self.session.flush()

    def by_token(self, token_digest: str) -> ResidentLink | None:
        return self.session.scalars(
            select(ResidentLink).where(ResidentLink.token_digest == token_digest)
        ).first()

    def by_token_with_domain(self, token_digest: str) -> Any:
        """(link, issuer domain), or None."""
        return self.session.execute(
            select(ResidentLink, Principal.domain)
            .join(Principal, Principal.id == ResidentLink.issuer_id)
            .where(ResidentLink.token_digest == token_digest)
        ).first()

    def claim_open(
        self, token_digest: str, now: datetime, session_digest: str, ends: datetime
    ) -> bool:
        """Open the link once: one conditional UPDATE (unused, unrevoked, not expired)."""
        result = self.session.execute(
            update(ResidentLink)
            .where(
                ResidentLink.token_digest == token_digest,
                ResidentLink.opened_at.is_(None),
                ResidentLink.revoked_at.is_(None),
                ResidentLink.expires_at > now,
            )
            .values(opened_at=now, session_digest=session_digest, session_expires_at=ends)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount == 1)

    def live_session(self, session_digest: str, now: datetime) -> Any:
        """(link, issuer domain, display name, name) of a live session, or None."""
        return self.session.execute(
            select(ResidentLink, Principal.domain, Principal.display_name, Principal.name)
            .join(Principal, Principal.id == ResidentLink.issuer_id)
            .where(
                ResidentLink.session_digest == session_digest,
                ResidentLink.revoked_at.is_(None),
                ResidentLink.session_expires_at > now,
            )
        ).first()

    def end_session(self, session_digest: str, now: datetime) -> None:
        self.session.execute(
            update(ResidentLink)
            .where(ResidentLink.session_digest == session_digest)
            .values(session_expires_at=now)
            .execution_options(synchronize_session=False)
        )

    def display_names(self, names: set[str]) -> dict[str, str]:
        """Principals' display names, for those that have one."""
        if not names:
            return {}
        stmt = select(Principal.name, Principal.display_name).where(Principal.name.in_(names))
        return {n: d for n, d in self.session.execute(stmt).all() if d}
