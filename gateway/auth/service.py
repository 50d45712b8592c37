"""Principals and API keys.

An API key is ``cdg_`` + 32 random bytes (url-safe base64). Only its SHA-256
digest is stored: keys carry 256 bits of entropy, so a fast hash suffices and
lookups stay one indexed read.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.access.repository import AccessRepository
from gateway.auth.cache import PrincipalCache
from gateway.auth.models import ApiKey, Principal
from gateway.auth.repository import AuthRepository
from gateway.auth.rules import rebuild_role_rules
from gateway.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from gateway.principal import KINDS, AuthPrincipal
from gateway.store.base import new_id, utcnow

log = logging.getLogger("cdg.auth")

_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
KEY_PREFIX = "cdg_"


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def as_principal(row: Principal) -> AuthPrincipal:
    return AuthPrincipal(id=row.id, name=row.name, kind=row.kind, role=row.role, domain=row.domain)


def check_key_form(api_key: str) -> None:
    """Refuse what cannot be an API key before anything is read for it."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 100:
        raise Unauthenticated("invalid API key")


def authenticate(
    session: Session,
    api_key: str,
    cache: PrincipalCache | None = None,
    epoch: int | None = None,
) -> AuthPrincipal:
    """The caller holding ``api_key``; with ``cache``, remembered for the policy epoch.

    ``epoch``: the policy epoch already read in this transaction (a run reads it once for
    authentication and its decision).
    """
    check_key_form(api_key)
    key = digest(api_key)
    if cache is None:
        epoch = -1
    elif epoch is None:
        epoch = AccessRepository(session).epoch()
    if cache is not None and (known := cache.get(key, epoch)) is not None:
        return known
    holder = AuthRepository(session).principal_by_digest(key)
    if holder is None:
        raise Unauthenticated("invalid API key")
    if holder.expires_at is not None and holder.expires_at <= utcnow():
        # The key was real: its owner is told why, the operator sees whose (never the key).
        log.warning("refused an expired API key of %s (%s…)", holder.principal.name, holder.prefix)
        raise Unauthenticated(
            "此API密钥已过期，请使用新密钥 / this API key has expired; use the new key",
            reason="key_expired",
        )
    if cache is not None:
        cache.put(key, epoch, holder.principal, holder.expires_at)
    return holder.principal


def issue_key(session: Session, principal: Principal, expires_at: datetime | None = None) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    AuthRepository(session).add(
        ApiKey(
            id=new_id("key"),
            principal_id=principal.id,
            digest=digest(key),
            prefix=key[:10],
            expires_at=expires_at,
        )
    )
    return key


def add_principal(
    session: Session, *, name: str, kind: str, domain: str, role: str, display_name: str = ""
) -> tuple[Principal, str]:
    """Create a principal and its first API key (shown once, stored as a digest)."""
    if not _NAME.fullmatch(name) or not _NAME.fullmatch(domain) or not _NAME.fullmatch(role):
        raise InvalidRequest("name, domain and role must be lowercase identifiers")
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}")
    repo = AuthRepository(session)
    if repo.by_name(name) is not None:
        raise Conflict("a principal with this name exists")
    row = Principal(
        id=new_id("pr"), name=name, kind=kind, domain=domain, role=role, display_name=display_name
    )
    repo.add(row)
    key = issue_key(session, row)
    rebuild_role_rules(session)
    return row, key


def revoke_principal(session: Session, name: str) -> None:
    repo = AuthRepository(session)
    row = repo.by_name(name)
    if row is None:
        raise NotFound("no such principal")
    row.active = False
    repo.revoke_keys(row.id)
    session.flush()
    rebuild_role_rules(session)
