"""Who am I."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.access.permissions import require
from gateway.api.dependencies import CurrentPrincipal
from gateway.api.schemas import ERRORS

router = APIRouter(prefix="/v1", tags=["principals"], responses=ERRORS)


class PrincipalOut(BaseModel):
    name: str
    kind: str
    role: str
    domain: str


@router.get("/principals/me", summary="The principal the API key belongs to")
def me(who: CurrentPrincipal) -> PrincipalOut:
    require("principal.me", who)
    return PrincipalOut(name=who.name, kind=who.kind, role=who.role, domain=who.domain)
