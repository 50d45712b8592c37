"""Console sessions: an API key exchanged once for a random session id, kept server-side.

The browser holds the id in an HttpOnly cookie; the store keeps only its SHA-256
(``console_sessions``), the principal and when the session was last used. A session
unused for ``CDG_CONSOLE_IDLE_MINUTES`` is ended at its next use; one older than
``MAX_AGE`` is ended whatever its use. A principal made inactive (``cdg principal
revoke``) ends every session of it at the next request, and so does the end of the API key
that signed in (revoked, rotated past its grace, expired): a session never outlives the
credential it was exchanged for.

The CSRF token of a session is derived from its id (HMAC-free: the id is 256 random bits
and never leaves the cookie), so it needs no storage and dies with the session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from gateway.auth.models import ConsoleSession
from gateway.auth.service import authenticate
from gateway.auth.service import digest as key_digest
from gateway.console.session_repository import ConsoleSessionRepository
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow

MAX_AGE: Final = timedelta(hours=12)  # a working day, whatever the idle setting
_TOUCH_EVERY: Final = timedelta(seconds=60)  # spare the store a write on every page


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_token(session_id: str) -> str:
    return hashlib.sha256(b"cdg-console-csrf\x00" + session_id.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Live:
    digest: str
    principal: AuthPrincipal
    display_name: str = ""  # e.g. 区民政局: what the header shows


@dataclass(frozen=True)
class Ended:
    """The cookie named no live session (unknown, idle too long, too old, principal gone)."""


def sign_in(session: Session, ctx: GatewayContext, api_key: str) -> tuple[str, AuthPrincipal]:
    """A new session for the holder of ``api_key`` (raises ``Unauthenticated`` otherwise)."""
    principal = authenticate(session, api_key)
    repo = ConsoleSessionRepository(session)
    key_id = repo.key_id(key_digest(api_key))
    token = new_token()
    now = utcnow()
    repo.add(
        ConsoleSession(
            digest=digest(token),
            principal_id=principal.id,
            key_id=key_id,
            created_at=now,
            last_seen_at=now,
        )
    )
    return token, principal


def _expired(created: datetime, last_seen: datetime, now: datetime, idle: timedelta) -> bool:
    return now - last_seen > idle or now - created > MAX_AGE


def resolve(ctx: GatewayContext, token: str) -> Live | Ended:
    """The live session the cookie names, touched; an expired one is deleted."""
    if len(token) > 100:
        return Ended()
    key = digest(token)
    idle = timedelta(minutes=ctx.settings.console_idle_minutes)
    with ctx.store.sessions() as session:
        repo = ConsoleSessionRepository(session)
        row = repo.find(key, utcnow())
        now = utcnow()
        if row is None or not row.key_live:
            # Unknown, or the key that signed in was revoked or expired since: end it.
            if row is not None:
                repo.delete(key)
                session.commit()
            return Ended()
        if not row.active or _expired(row.created_at, row.last_seen_at, now, idle):
            repo.delete(key)
            session.commit()
            return Ended()
        if now - row.last_seen_at > _TOUCH_EVERY:
            repo.touch(key, now)
            session.commit()
        return Live(
            digest=key, principal=row.principal, display_name=row.display_name or row.principal.name
        )


def sign_out(ctx: GatewayContext, session_digest: str) -> None:
    with ctx.store.sessions() as session:
        ConsoleSessionRepository(session).delete(session_digest)
        session.commit()
