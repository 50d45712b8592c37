"""Request metrics and the server's access log, written by one ASGI middleware.

Labels use the route template (``/v1/queries/{query_request}/run``), never the raw
path, so ids never reach the metrics and the label set stays small. The same middleware
writes the server's access log (logger ``cdg.http``, one line per request: method, route
template, status, milliseconds, request id) in place of uvicorn's, which would write the
raw path, and a path can hold what a caller should not have put there (an ID number).
The metric families themselves live in ``gateway/metrics.py``.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import HTTP_REQUESTS, HTTP_SECONDS

access_log = logging.getLogger("cdg.http")
# A client may send any method name; labels keep to these so the series stay few.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(seconds)
            rid = scope.get("state", {}).get("request_id", "-")
            access_log.info(
                "%s %s %d %.1fms request_id=%s",
                method,
                route,
                status,
                seconds * 1000,
                rid,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "request_id": rid,
                },
            )
