"""Who is looking at a page: ``Visitor`` (anyone) and the dependencies that make one.

``Visitor`` carries the language (``t``: gettext/ngettext), the time zone, the CSRF token
forms must echo and, once signed in, the ``principal`` — the same ``AuthPrincipal`` the
API's permission checks take. Pages declare one of:

- ``AnyVisitor``: signed in or not (sign-in page, language switch);
- ``SignedIn``: a signed-in principal; otherwise the browser is sent to the sign-in page
  (an htmx request gets ``HX-Redirect``), and an idle session is ended there.

A page then asks ``gateway.access.permissions`` (``require``/``check``) about its action:
nothing here decides who may see what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.console import form_tokens, sessions
from gateway.console.cookies import CSRF_COOKIE, SESSION_COOKIE
from gateway.context import GatewayContext
from gateway.i18n import LOCALE_COOKIE, Translator, negotiate, translator
from gateway.principal import AuthPrincipal


@dataclass(frozen=True)
class Visitor:
    locale: str
    t: Translator
    time_zone: str
    csrf: str  # the token forms and htmx requests must send back
    principal: AuthPrincipal | None = None
    session_digest: str | None = None
    session_expired: bool = False  # the cookie named a session that idled out
    display_name: str = ""  # the principal's display name (区民政局), else its name

    @property
    def kind(self) -> str | None:
        return None if self.principal is None else self.principal.kind


class SignInRequired(Exception):
    """Raised by ``SignedIn``: the console route answers with a redirect to sign in."""

    def __init__(self, expired: bool) -> None:
        super().__init__("sign in required")
        self.expired = expired


def context_of(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


def _visitor(request: Request) -> Visitor:
    ctx = context_of(request)
    locale = negotiate(request.cookies.get(LOCALE_COOKIE), request.headers.get("accept-language"))
    t = translator(locale)
    zone_name = ctx.settings.time_zone
    token = request.cookies.get(SESSION_COOKIE)
    # Before a session, only a token this gateway signed counts (never one a page planted).
    planted = request.cookies.get(CSRF_COOKIE, "")
    form_csrf = planted if form_tokens.valid(ctx, planted) else ""
    if not token:
        return Visitor(locale, t, zone_name, form_csrf)
    found = sessions.resolve(ctx, token)
    if isinstance(found, sessions.Live):
        return Visitor(
            locale,
            t,
            zone_name,
            sessions.csrf_token(token),
            principal=found.principal,
            session_digest=found.digest,
            display_name=found.display_name,
        )
    return Visitor(locale, t, zone_name, form_csrf, session_expired=True)


async def any_visitor(request: Request) -> Visitor:
    cached = request.scope.get("cdg_visitor")
    if isinstance(cached, Visitor):
        return cached
    # The session lookup reads the store: off the event loop.
    from starlette.concurrency import run_in_threadpool

    visitor = await run_in_threadpool(_visitor, request)
    request.scope["cdg_visitor"] = visitor
    return visitor


async def signed_in(visitor: Annotated[Visitor, Depends(any_visitor)]) -> Visitor:
    if visitor.principal is None:
        raise SignInRequired(expired=visitor.session_expired)
    return visitor


AnyVisitor = Annotated[Visitor, Depends(any_visitor)]
SignedIn = Annotated[Visitor, Depends(signed_in)]


def principal_of(visitor: Visitor) -> AuthPrincipal:
    """The signed-in principal (``SignedIn`` guarantees one)."""
    assert visitor.principal is not None
    return visitor.principal
