"""API-key lifecycle: rotation (with a grace period), reissue and expiry.

- **rotate**: the principal gets a new key; its earlier keys keep working for
  ``CDG_KEY_ROTATION_GRACE_SECONDS`` (or until their own earlier expiry), then stop.
- **reissue**: a new key, and every earlier key stops now (a key was lost or leaked).
- **expire**: every working key stops now; no new key.

A stopped key is *expired*, not revoked, so its holder is told why (``401
key_expired``). Each change moves the policy epoch, so no process's principal cache
serves a key whose expiry just moved. The functions below change the store only; the
``*_http`` ones also ask the permission module and append the access-log entry through
the ``Recorder`` the route hands them (the auth domain does not import the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gateway.access.permissions import Resource, require, require_caller
from gateway.access.repository import AccessRepository
from gateway.auth.models import Principal
from gateway.auth.repository import AuthRepository
from gateway.auth.schemas import KeyIssuedOut, KeysExpiredOut
from gateway.auth.service import digest as key_digest
from gateway.auth.service import issue_key
from gateway.errors import Conflict, Forbidden, InvalidRequest, NotFound
from gateway.principal import AuthPrincipal
from gateway.store.base import utcnow


class Recorder(Protocol):
    """Appends one access-log entry in ``session``'s transaction."""

    def __call__(
        self, session: Session, event: str, principal: AuthPrincipal, **fields: Any
    ) -> object: ...


@dataclass(frozen=True)
class Issued:
    key: str
    expires_at: datetime | None
    previous_until: datetime | None


def _future(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("expires_at is in the past")


def _principal(session: Session, name: str) -> Principal:
    row = AuthRepository(session).by_name(name)
    if row is None:
        raise NotFound("no such principal")
    if not row.active:
        raise Conflict("该主体已被停用 / this principal is revoked", reason="principal_revoked")
    return row


def _end_keys(session: Session, row: Principal, until: datetime) -> int:
    """Let every working key of ``row`` work until ``until`` at the latest."""
    now = utcnow()
    keys = AuthRepository(session).live_keys(row.id, now)
    for key in keys:
        if key.expires_at is None or key.expires_at > until:
            key.expires_at = until
    session.flush()
    # Cached callers are remembered per epoch: moving it makes every process re-read keys.
    AccessRepository(session).bump()
    return len(keys)


def rotate_key(
    session: Session, name: str, grace: timedelta, expires_at: datetime | None = None
) -> Issued:
    _future(expires_at)
    row = _principal(session, name)
    until = utcnow() + grace
    had = _end_keys(session, row, until)
    key = issue_key(session, row, expires_at)
    return Issued(key, expires_at, until if had else None)


def reissue_key(session: Session, name: str, expires_at: datetime | None = None) -> Issued:
    _future(expires_at)
    row = _principal(session, name)
    now = utcnow()
    had = _end_keys(session, row, now)
    key = issue_key(session, row, expires_at)
    return Issued(key, expires_at, now if had else None)


def expire_keys(session: Session, name: str) -> tuple[int, datetime]:
    row = _principal(session, name)
    now = utcnow()
    return _end_keys(session, row, now), now


# -- over HTTP: permission, then the change, then its entry ------------------------------


def _issued_out(name: str, issued: Issued) -> KeyIssuedOut:
    return KeyIssuedOut(
        principal=name,
        api_key=issued.key,
        prefix=issued.key[:10],
        expires_at=issued.expires_at,
        previous_keys_valid_until=issued.previous_until,
    )


def _target(session: Session, principal: AuthPrincipal, action: str, name: str) -> None:
    require_caller(action, principal)
    row = AuthRepository(session).by_name(name)
    if row is None:
        raise NotFound("no such principal")
    require(action, principal, Resource(owner=row.domain, app_id=row.id))
    # Within a domain only the department itself (the principal named like its domain)
    # acts on keys, and only on its staff: otherwise a clerk could lock out or take over
    # the department, and a department the app or auditor that happens to share its
    # domain code. Apps, auditors and the department's own key are the operator's.
    if principal.name != principal.domain:
        raise Forbidden(
            "只有部门本身可以管理其工作人员的密钥 / only the department itself manages its "
            "staff's keys",
            reason="not_domain_head",
        )
    if row.kind != "department" or row.name == row.domain:
        raise Forbidden(
            "应用、审计方和部门本身的密钥由运维人员管理 / keys of apps, auditors and the "
            "department itself are managed by the operator (cdg principal)",
            reason="operator_only",
        )


def _newest_key_expiry(session: Session, principal: AuthPrincipal, api_key: str) -> datetime | None:
    """The calling key's expiry, if it is the principal's newest working key.

    Only that key rotates: a key in its grace period (or any older key) that leaked must
    not mint a fresh key for whoever holds it.
    """
    newest = AuthRepository(session).live_keys(principal.id, utcnow())
    if not newest or newest[-1].digest != key_digest(api_key):
        raise Forbidden(
            "此密钥已被更新的密钥取代，请使用最新密钥轮换 / a newer key replaced this one; "
            "rotate with the newest key",
            reason="key_superseded",
        )
    return newest[-1].expires_at


def rotate_own_key_http(
    session: Session,
    record: Recorder,
    principal: AuthPrincipal,
    grace: timedelta,
    expires_at: datetime | None,
    api_key: str,
) -> KeyIssuedOut:
    require("principal.rotate_key", principal)
    limit = _newest_key_expiry(session, principal, api_key)
    if limit is not None:
        # A key its department gave an end keeps that end through rotation.
        expires_at = limit if expires_at is None else min(expires_at, limit)
        grace = min(grace, max(limit - utcnow(), timedelta(0)))
    issued = rotate_key(session, principal.name, grace, expires_at)
    record(
        session,
        "principal.key_rotated",
        principal,
        target=principal.name,
        key_prefix=issued.key[:10],
        grace_seconds=int(grace.total_seconds()),
    )
    return _issued_out(principal.name, issued)


def reissue_key_http(
    session: Session,
    record: Recorder,
    principal: AuthPrincipal,
    name: str,
    expires_at: datetime | None,
) -> KeyIssuedOut:
    _target(session, principal, "principal.reissue_key", name)
    issued = reissue_key(session, name, expires_at)
    record(session, "principal.key_reissued", principal, target=name, key_prefix=issued.key[:10])
    return _issued_out(name, issued)


def expire_keys_http(
    session: Session, record: Recorder, principal: AuthPrincipal, name: str
) -> KeysExpiredOut:
    _target(session, principal, "principal.expire_keys", name)
    count, at = expire_keys(session, name)
    record(session, "principal.keys_expired", principal, target=name, keys=count)
    return KeysExpiredOut(principal=name, expired=count, at=at)
