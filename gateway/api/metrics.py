"""Process-local request counters and latency sums, exposed at /metrics (Prometheus text).

Labels use the route template (``/v1/queries/{query_request}/run``), never the raw
path, so ids never reach the metrics and the label set stays small. The same middleware
writes the server's access log (logger ``cdg.http``, one line per request: method, route
template, status, milliseconds, request id) in place of uvicorn's, which would write the
raw path, and a path can hold what a caller should not have put there (an ID number).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("cdg.http")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, int], int] = defaultdict(int)
        self._seconds: dict[tuple[str, str, int], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        with self._lock:
            self._count[key] += 1
            self._seconds[key] += seconds

    def render(self) -> str:
        with self._lock:
            items = sorted(self._count.items())
            seconds = dict(self._seconds)
        lines = [
            "# HELP cdg_http_requests_total HTTP requests by route template and status.",
            "# TYPE cdg_http_requests_total counter",
        ]
        for (method, route, status), n in items:
            labels = f'method="{method}",route="{route}",status="{status}"'
            lines.append(f"cdg_http_requests_total{{{labels}}} {n}")
        lines += [
            "# HELP cdg_http_request_seconds_total Time spent answering, by route and status.",
            "# TYPE cdg_http_request_seconds_total counter",
        ]
        for (method, route, status), _ in items:
            labels = f'method="{method}",route="{route}",status="{status}"'
            total = seconds[(method, route, status)]
            lines.append(f"cdg_http_request_seconds_total{{{labels}}} {total:.6f}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            self.metrics.observe(scope["method"], route, status, seconds)
            rid = scope.get("state", {}).get("request_id", "-")
            access_log.info(
                "%s %s %d %.1fms request_id=%s", scope["method"], route, status, seconds * 1000, rid
            )
