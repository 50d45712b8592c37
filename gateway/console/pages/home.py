"""The console's first page after sign-in: who you are and where to go."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from gateway.access import permissions
from gateway.console.routing import console_router
from gateway.console.templating import render
from gateway.console.viewer import SignedIn, principal_of
from gateway.errors import NotFound

router = console_router()


@router.get("/console/")
async def home(request: Request, visitor: SignedIn) -> Response:
    permissions.require("console.home", principal_of(visitor))
    return render(request, visitor, "home.html")


not_found_router = console_router()


@not_found_router.get("/console/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    raise NotFound("no such page")
