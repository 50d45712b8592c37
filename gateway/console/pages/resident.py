"""The resident's pages: open a one-time link, read who received your data, sign out.

A resident has no API key. The link's page (GET) only says what the link is and offers a
button: opening happens on the POST, so a chat app's link preview or a mail scanner that
fetches the URL does not use the link up. The POST exchanges the token once
(``resident_links.open_link``) for a short session held in its own cookie
(``cdg_resident``: HttpOnly, SameSite=Strict, Path=/console, Secure behind https). The
history page shows only what ``resident.own_history`` allows: that resident's accesses on
the issuing department's datasets, as who / when / purpose / legal basis.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from gateway.access import permissions
from gateway.console import form_tokens
from gateway.console.cookies import CSRF_COOKIE, clear_cookie, set_cookie
from gateway.console.routing import console_router
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.viewer import AnyVisitor, Visitor, context_of
from gateway.oversight import resident_links
from gateway.principal import AuthPrincipal

router = console_router()


def _rid(request: Request) -> str:
    """The request id the middleware set (what the API's RequestId dependency reads)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


RESIDENT_COOKIE: Final[str] = "cdg_resident"
Token = Annotated[str, Path(min_length=1, max_length=100)]
# Whoever follows a link, before it is known whose it is (asks the public action).
_VISITOR = AuthPrincipal(id="", name="visitor", kind="visitor", role="", domain="")

# The status of the page when a link cannot be opened: unknown 404, used up 410.
_ENDED_STATUS = {"unknown": 404, "opened": 410, "expired": 410, "revoked": 410}


def _with_csrf(
    request: Request, visitor: Visitor, template: str, context: dict[str, object], status: int = 200
) -> Response:
    """A page whose form posts before any session exists: a double-submit CSRF cookie."""
    csrf = visitor.csrf or form_tokens.issue(context_of(request))
    shown = Visitor(locale=visitor.locale, t=visitor.t, time_zone=visitor.time_zone, csrf=csrf)
    response = render(request, shown, template, context, status_code=status)
    if csrf != request.cookies.get(CSRF_COOKIE):
        set_cookie(response, request, context_of(request).settings, CSRF_COOKIE, csrf)
    return response


@router.get("/console/resident/open/{token}")
def open_page(request: Request, visitor: AnyVisitor, token: Token) -> Response:
    permissions.require("resident_link.open", _VISITOR)
    with context_of(request).store.sessions() as session:
        state = resident_links.link_state(session, token)
    if state != "unused":
        return _with_csrf(
            request, visitor, "resident/ended.html", {"state": state}, _ENDED_STATUS[state]
        )
    return _with_csrf(
        request,
        visitor,
        "resident/open.html",
        {"token": token, "minutes": context_of(request).settings.resident_session_minutes},
    )


@router.post("/console/resident/open/{token}", dependencies=[CsrfChecked])
def open_link(request: Request, visitor: AnyVisitor, token: Token) -> Response:
    permissions.require("resident_link.open", _VISITOR)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        opened = resident_links.open_link(session, ctx, token, _rid(request))
        session.commit()  # the open, or a refused open of a known link, is logged either way
    if opened.session_token is None:
        return _with_csrf(
            request,
            visitor,
            "resident/ended.html",
            {"state": opened.state},
            _ENDED_STATUS.get(opened.state, 410),
        )
    response = RedirectResponse("/console/resident", status_code=303)
    set_cookie(
        response,
        request,
        ctx.settings,
        RESIDENT_COOKIE,
        opened.session_token,
        max_age=ctx.settings.resident_session_minutes * 60,
    )
    return response


@router.get("/console/resident")
def history(request: Request, visitor: AnyVisitor) -> Response:
    ctx = context_of(request)
    token = request.cookies.get(RESIDENT_COOKIE, "")
    with ctx.store.sessions() as session:
        resident = resident_links.resident_for_session(session, token)
        if resident is None:
            return _with_csrf(request, visitor, "resident/ended.html", {"state": "session"}, 401)
        accesses, cut = resident_links.history(session, ctx, resident, _rid(request))
    return _with_csrf(
        request,
        visitor,
        "resident/history.html",
        {
            "resident": resident,
            "accesses": accesses,
            "cut": cut,
            "max_shown": resident_links.MAX_SHOWN,
        },
    )


@router.post("/console/resident/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, visitor: AnyVisitor) -> Response:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        resident_links.end_session(session, request.cookies.get(RESIDENT_COOKIE, ""))
        session.commit()
    response = _with_csrf(request, visitor, "resident/ended.html", {"state": "signed_out"})
    clear_cookie(response, request, ctx.settings, RESIDENT_COOKIE)
    return response
