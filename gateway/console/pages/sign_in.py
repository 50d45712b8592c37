"""Sign-in (API key for a session cookie), sign-out and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from gateway.access import permissions
from gateway.auditlog.service import record, record_in
from gateway.console import form_tokens, sessions
from gateway.console.cookies import CSRF_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from gateway.console.routing import console_router, safe_next
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.throttle import throttle_of
from gateway.console.viewer import AnyVisitor, Visitor, context_of
from gateway.errors import Unauthenticated
from gateway.i18n import LOCALE_COOKIE, LOCALES
from gateway.principal import AuthPrincipal

router = console_router()

# Who a refused sign-in is logged as: nobody is known, and nothing of the key is kept.
ANONYMOUS = AuthPrincipal(id="anonymous", name="anonymous", kind="anonymous", role="", domain="")
_YEAR = 365 * 24 * 3600


def _form(
    request: Request,
    visitor: Visitor,
    next_path: str,
    *,
    error: str = "",
    status: int = 200,
    expired: bool = False,
) -> Response:
    csrf = visitor.csrf or form_tokens.issue(context_of(request))
    shown = Visitor(
        locale=visitor.locale, t=visitor.t, time_zone=visitor.time_zone, csrf=csrf
    )  # the form is for signing in anew, whoever the cookie named
    response = render(
        request,
        shown,
        "sign_in.html",
        {
            "next_path": safe_next(next_path),
            "error": error,
            "expired": expired,
        },
        status_code=status,
    )
    if csrf != request.cookies.get(CSRF_COOKIE):
        set_cookie(response, request, context_of(request).settings, CSRF_COOKIE, csrf)
    return response


@router.get("/console/sign-in")
async def sign_in_page(
    request: Request, visitor: AnyVisitor, next: str = "/console/", expired: int = 0
) -> Response:
    permissions.require("console.sign_in", ANONYMOUS)
    if visitor.principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, visitor, next, expired=expired == 1 or visitor.session_expired)


def _exchange(request: Request, api_key: str) -> tuple[str, AuthPrincipal] | None:
    ctx = context_of(request)
    try:
        with ctx.store.sessions() as session:
            token, principal = sessions.sign_in(session, ctx, api_key.strip())
            record_in(session, ctx, "console.signed_in", principal, outcome="ok")
            session.commit()
            return token, principal
    except Unauthenticated:
        record(
            ctx,
            "console.sign_in_failed",
            ANONYMOUS,
            outcome="refused",
            decision={"allowed": False, "reason_code": "invalid_key"},
        )
        return None


@router.post("/console/sign-in", dependencies=[CsrfChecked])
async def sign_in(
    request: Request,
    visitor: AnyVisitor,
    api_key: Annotated[str, Form(max_length=200)],
    next_path: Annotated[str, Form(alias="next", max_length=500)] = "/console/",
) -> Response:
    permissions.require("console.sign_in", ANONYMOUS)
    address = request.client.host if request.client else ""
    # One per app; sign_in runs on the event loop, so the first request creates it alone.
    throttle = throttle_of(request.app)
    wait = throttle.wait_seconds(address)
    if wait:
        minutes = (wait + 59) // 60
        message = visitor.t.gettext(
            "Too many failed sign-ins from this computer. Try again in %(n)d minutes."
        ) % {"n": minutes}
        return _form(request, visitor, next_path, error=message, status=429)
    exchanged = await run_in_threadpool(_exchange, request, api_key)
    if exchanged is None:
        throttle.failed(address)
        return _form(
            request,
            visitor,
            next_path,
            error="The API key was not accepted.",
            status=401,
        )
    token, _ = exchanged
    response = RedirectResponse(safe_next(next_path), status_code=303)
    settings = context_of(request).settings
    if visitor.session_digest is not None:  # signing in over a live session replaces it
        await run_in_threadpool(sessions.sign_out, context_of(request), visitor.session_digest)
    set_cookie(response, request, settings, SESSION_COOKIE, token)
    clear_cookie(response, request, settings, CSRF_COOKIE)
    return response


@router.post("/console/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request, visitor: AnyVisitor) -> Response:
    if visitor.session_digest is not None:
        await run_in_threadpool(sessions.sign_out, context_of(request), visitor.session_digest)
    response = RedirectResponse("/console/sign-in", status_code=303)
    clear_cookie(response, request, context_of(request).settings, SESSION_COOKIE)
    return response


@router.post("/console/language", dependencies=[CsrfChecked])
async def switch_language(
    request: Request,
    locale: Annotated[str, Form(max_length=10)],
    next_path: Annotated[str, Form(alias="next", max_length=500)] = "/console/",
) -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    if locale in LOCALES:
        set_cookie(
            response,
            request,
            context_of(request).settings,
            LOCALE_COOKIE,
            locale,
            max_age=_YEAR,
        )
    return response
