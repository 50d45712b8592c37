"""The department's page for residents' one-time links: issue one, see them, revoke one.

The link is shown once, on the page that answers the issuing form (the store keeps only
its digest). Issuing, listing and revoking go through ``gateway.auditlog.resident_links``,
which asks the permission module (``resident_link.issue|list|revoke``) and logs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from gateway.auditlog.schemas import ResidentLinkCreate, ResidentLinkIssued
from gateway.console.navigation import N_
from gateway.console.routing import console_router
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.viewer import SignedIn, Visitor, context_of, principal_of
from gateway.oversight import resident_links

router = console_router()


def _rid(request: Request) -> str:
    """The request id the middleware set (what the API's RequestId dependency reads)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


PAGE = "/console/department/resident-links"
HOURS = (24, 72, 168, 720)  # the choices of the form: 1 day, 3 days, 1 week, 30 days


def _page(
    request: Request,
    visitor: Visitor,
    *,
    issued: ResidentLinkIssued | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        links = resident_links.list_links(session, principal_of(visitor))
    return render(
        request,
        visitor,
        "resident/links.html",
        {
            "links": links,
            "issued": issued,
            "error": error,
            "hours": sorted({*HOURS, ctx.settings.resident_link_hours}),
            "default_hours": ctx.settings.resident_link_hours,
        },
        status_code=status,
    )


@router.get(PAGE)
def links_page(request: Request, visitor: SignedIn) -> Response:
    return _page(request, visitor)


@router.post(PAGE, dependencies=[CsrfChecked])
def issue(
    request: Request,
    visitor: SignedIn,
    id_number: Annotated[str, Form(max_length=64)],
    hours: Annotated[int | None, Form(ge=1, le=720)] = None,
) -> Response:
    try:
        body = ResidentLinkCreate(id_number=id_number, expires_in_hours=hours)
    except ValidationError:
        # The page never repeats the number: it is a resident's ID number.
        return _page(request, visitor, error=N_("Not a valid resident ID number."), status=422)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        issued = resident_links.issue(session, ctx, principal_of(visitor), body, _rid(request))
        session.commit()
    return _page(request, visitor, issued=issued, status=201)


@router.post(PAGE + "/{link_id}/revoke", dependencies=[CsrfChecked])
def revoke(
    request: Request,
    visitor: SignedIn,
    link_id: Annotated[str, Path(min_length=1, max_length=32)],
) -> Response:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        resident_links.revoke(session, ctx, principal_of(visitor), link_id, _rid(request))
        session.commit()
    return RedirectResponse(PAGE, status_code=303)
