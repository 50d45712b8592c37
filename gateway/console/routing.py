"""``console_router()``: an APIRouter whose routes answer failures with HTML, not JSON.

Every console page module makes its router with ``console_router()``. Its routes:

- are left out of the OpenAPI document (they are pages, not the API);
- turn ``SignInRequired`` into a redirect to the sign-in page (``HX-Redirect`` for htmx),
  ``CsrfRefused`` into a 403 page, a ``GatewayError`` (e.g. a permission refusal from
  ``permissions.require``: 404 for a hidden refusal, 403 otherwise) into a page with
  its status, and a malformed form or path into a 422 page — never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.console.security import CsrfRefused
from gateway.console.viewer import SignInRequired, Visitor, any_visitor
from gateway.errors import GatewayError

log = logging.getLogger("gateway.console")

SIGN_IN_PATH = "/console/sign-in"


def safe_next(path: str) -> str:
    """Where to go after sign-in: only a console path of this site."""
    return path if path.startswith("/console/") and not path.startswith("//") else "/console/"


def sign_in_redirect(request: Request, *, expired: bool) -> Response:
    target = SIGN_IN_PATH + "?next=" + quote(safe_next(request.url.path), safe="/")
    if expired:
        target += "&expired=1"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def error_page(request: Request, status: int, message: str) -> Response:
    from gateway.console.templating import render  # templating imports this module's users

    visitor: Visitor = await any_visitor(request)
    return render(
        request,
        visitor,
        "error.html",
        {"status": status, "message": visitor.t.gettext(message)},
        status_code=status,
    )


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return sign_in_redirect(request, expired=exc.expired)
            except CsrfRefused:
                return await error_page(
                    request,
                    403,
                    "This form has expired or did not come from this console. "
                    "Reload the page and try again.",
                )
            except GatewayError as exc:
                return await error_page(request, exc.status_code, exc.detail)
            except RequestValidationError:
                return await error_page(request, 422, "Some fields of the form are not valid.")

        return console_handler


def console_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for console pages (see the module docstring)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False, **kwargs)
