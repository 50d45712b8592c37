"""Mounting the console on the gateway's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from gateway.console.pages import ROUTERS
from gateway.console.pages.home import not_found_router
from gateway.console.security import SecurityHeadersMiddleware
from gateway.i18n import zone


def mount(app: FastAPI) -> None:
    """Add the console's pages, its static assets and its security headers to ``app``.

    Call before the app starts (middleware cannot be added later). The time zone is
    checked here, so a misspelt ``CDG_TIME_ZONE`` stops startup instead of a page.
    """
    zone(app.state.ctx.settings.time_zone)
    app.add_middleware(SecurityHeadersMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(
        "/console/static",
        StaticFiles(packages=[("gateway.console", "static")]),
        name="console-static",
    )

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    # Last: any other console path is a page saying so, not the API's JSON 404.
    app.include_router(not_found_router)
