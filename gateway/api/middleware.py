"""A request id on every request and response (pure ASGI: no per-request task overhead)."""

from __future__ import annotations

import itertools
import os
import secrets
import threading

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import request_id_var


class RequestIds:
    """Unique request ids without a system call per request.

    A uuid4 per request read the kernel's random source on the event loop, and that call
    lets go of the interpreter lock: under load the loop then waited for a worker thread
    to hand it back, for a large share of its time. An id only has to be unique (it is
    not a secret: the client is shown it), so each process draws a random prefix once and
    counts: 32 hex characters, as before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        # A server that forks after building the app: each child draws its own prefix.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        number = next(self._counter)
        if number >= 1 << 64:  # never in practice; a fresh prefix keeps ids unique
            with self._lock:
                self._reset()
                number = next(self._counter)
        return f"{self._prefix}{number:016x}"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self.ids.next()
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        token = request_id_var.set(rid)  # every log line of this request carries it
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
