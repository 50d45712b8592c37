"""The web console (网页控制台), served by the gateway process at ``/console/``.

Server-rendered Jinja2 pages with htmx for partial updates; every asset ships in
``static/`` (no CDN, no front-end build). ``mount(app)`` adds it to the FastAPI app.
How to add a page: docs/console.md, "Adding a page".
"""

from __future__ import annotations

from gateway.console.mount import mount

__all__ = ["mount"]
