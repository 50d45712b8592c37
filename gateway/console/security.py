"""Security headers on every console response, and the CSRF check of every change.

Content-Security-Policy allows scripts, styles, images and form targets from this origin
only — no inline script or style, no eval — and no framing. Pages are ``no-store``: they
show personal data and must not stay in a shared computer's cache.

Every POST (a form, or htmx) must carry the CSRF token: as the form field ``csrf`` or
the header ``X-CSRF-Token`` (the base template sets it for htmx through ``hx-headers``).
Before sign-in the token is the ``cdg_csrf`` cookie's value (double submit), signed by the
gateway (``form_tokens``) so a value planted by someone else is refused; after, it is
derived from the session id, so a token from an ended session is refused. A request whose
``Sec-Fetch-Site`` says it came from another site is refused as well.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Final

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.console.viewer import Visitor, any_visitor

PREFIX: Final[str] = "/console"
CSP: Final[str] = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeadersMiddleware:
    """Adds ``HEADERS`` (and ``Cache-Control: no-store`` on pages) under ``/console``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(PREFIX + "/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                if not static and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfRefused(Exception):
    """The form or htmx request lacked the visitor's CSRF token."""


async def _csrf_checked(
    request: Request, visitor: Annotated[Visitor, Depends(any_visitor)]
) -> None:
    # A browser says where a request comes from: a form posted from another site (or a
    # sibling subdomain that may also plant cookies) is refused whatever token it carries.
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CsrfRefused()
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # Starlette keeps it: the route's Form() reads it again
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
    if not visitor.csrf or not sent or not hmac.compare_digest(sent, visitor.csrf):
        raise CsrfRefused()


CsrfChecked = Depends(_csrf_checked)
