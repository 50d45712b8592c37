"""The console's cookies: names and the attributes every one of them carries."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from gateway.settings import Settings

SESSION_COOKIE: Final[str] = "cdg_session"
CSRF_COOKIE: Final[str] = "cdg_csrf"  # before sign-in: the double-submit token of the form
PATH: Final[str] = "/console"


def secure(request: Request, settings: Settings) -> bool:
    """``Secure`` when the setting says so, else when the request or public URL is https."""
    if settings.console_secure_cookies is not None:
        return settings.console_secure_cookies
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https://")


def set_cookie(
    response: Response,
    request: Request,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=http_only,
        samesite="strict",
        secure=secure(request, settings),
    )


def clear_cookie(response: Response, request: Request, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, httponly=True, samesite="strict", secure=secure(request, settings)
    )
