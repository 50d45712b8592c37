"""Console page modules; ``ROUTERS`` lists the routers ``mount`` includes, in order.

A new page module makes ``router = console_router()`` and is appended here.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.console.pages import (
    apps,
    auditor,
    department,
    home,
    resident,
    resident_links,
    sign_in,
)

ROUTERS: list[APIRouter] = [
    sign_in.router,
    home.router,
    apps.router,
    department.router,
    auditor.router,
    resident.router,
    resident_links.router,
]
