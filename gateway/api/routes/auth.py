"""Who am I, and the caller's API keys: rotation, reissue, expiry."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from gateway.access.permissions import require
from gateway.api.dependencies import AuditRecorder, Context, CurrentPrincipal, DbSession
from gateway.api.json_body import api_router
from gateway.api.schemas import ERRORS
from gateway.auth import keys
from gateway.auth.schemas import KeyIssuedOut, KeyRequest, KeysExpiredOut, PrincipalOut

router = api_router(prefix="/v1", tags=["principals"], responses=ERRORS)


@router.get("/principals/me", summary="The principal the API key belongs to")
def me(who: CurrentPrincipal) -> PrincipalOut:
    require("principal.me", who)
    return PrincipalOut(name=who.name, kind=who.kind, role=who.role, domain=who.domain)


@router.post(
    "/principals/me/rotate-key",
    summary="A new API key for the caller; earlier keys work for the grace period",
)
def rotate_key(
    request: Request,
    body: KeyRequest,
    session: DbSession,
    ctx: Context,
    record: AuditRecorder,
    who: CurrentPrincipal,
) -> KeyIssuedOut:
    grace = timedelta(seconds=ctx.settings.key_rotation_grace_seconds)
    api_key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return keys.rotate_own_key_http(session, record, who, grace, body.expires_at, api_key)


@router.post(
    "/principals/{principal}/reissue-key",
    summary="A new API key for a principal; its earlier keys stop now (its department)",
)
def reissue_key(
    principal: str,
    body: KeyRequest,
    session: DbSession,
    record: AuditRecorder,
    who: CurrentPrincipal,
) -> KeyIssuedOut:
    return keys.reissue_key_http(session, record, who, principal, body.expires_at)


@router.post(
    "/principals/{principal}/expire-keys",
    summary="Every working API key of a principal stops now (its department, for its staff)",
)
def expire_keys(
    principal: str, session: DbSession, record: AuditRecorder, who: CurrentPrincipal
) -> KeysExpiredOut:
    return keys.expire_keys_http(session, record, who, principal)
