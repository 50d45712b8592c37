"""The request body limit, enforced while the body arrives (pure ASGI).

A declared ``Content-Length`` over the limit is answered 413 before any of the body is
read; a body without one (chunked) is counted chunk by chunk and refused as soon as it
passes the limit, so a large upload is never buffered, parsed or validated first.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import PAYLOAD_TOO_LARGE, error_response


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so the route layer passes it on as a 413."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, counted, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    detail = "the request body is larger than the gateway accepts"
    response = error_response(Request(scope), 413, PAYLOAD_TOO_LARGE, detail)
    await response(scope, receive, send)
