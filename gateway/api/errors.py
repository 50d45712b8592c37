"""One error shape for every failure: {"error", "detail", "request_id"}.

Handlers never echo exception text or the submitted input: validation errors
report where and what kind of problem, not the value. An unexpected error is
answered 500 without any trace of it, and logged exactly once, with the request
id and where in the code it happened (frames and exception types, never the
exception's message, which can quote SQL or values).
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, Unavailable

log = logging.getLogger("gateway.api")

PAYLOAD_TOO_LARGE = "PayloadTooLarge"
_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: PAYLOAD_TOO_LARGE,
    415: "UnsupportedMediaType",
}


def _rid(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(
    request: Request,
    status: int,
    error: str,
    detail: str,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail, "request_id": _rid(request)}
    if reason:
        body["reason"] = reason
    return JSONResponse(body, status_code=status, headers=headers)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")


class RepeatedKey(HTTPException):
    """A JSON body gives one key twice in an object (gateway/api/json_body.py).

    An HTTPException so that FastAPI's body parsing passes it on (it turns any other
    exception into a bare 400); answered ``422 InvalidRequest`` below. The key is named
    only when it looks like a simple name, and its values never appear.
    """

    def __init__(self, key: str) -> None:
        shown = f"'{key}'" if _NAME.fullmatch(key) else "<key>"
        super().__init__(
            status_code=422,
            detail=f"body: the key {shown} appears twice in one object; "
            "a JSON object may give each key only once",
        )


def _location(loc: tuple[Any, ...]) -> str:
    # Dictionary keys supplied by the client are part of a location: only names are shown.
    parts = [str(p) if isinstance(p, int) or _NAME.fullmatch(str(p)) else "<key>" for p in loc]
    return ".".join(parts)


def _validation_detail(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors()[:10]:
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        problems.append(f"{_location(tuple(err.get('loc', ())))}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def install(app: FastAPI) -> None:
    async def gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        retry = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
        return error_response(
            request, exc.status_code, exc.error_type, exc.detail, exc.reason, headers=retry
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 422, "InvalidRequest", _validation_detail(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if isinstance(exc, RepeatedKey):
            return error_response(request, 422, "InvalidRequest", exc.detail)
        if exc.status_code == 400:  # FastAPI could not parse the body (too deep, undecodable)
            detail = "the request body is not valid JSON"
            return error_response(request, 422, "InvalidRequest", detail)
        name = _HTTP_NAMES.get(exc.status_code, "HTTPError")
        if exc.status_code == 404:  # no route matched this path
            detail = _NO_SUCH_PATH if _slashed(request) else "no such path"
        else:
            detail = _HTTP_DETAILS.get(exc.status_code, name)
        allow = {"Allow": _allowed(request)} if exc.status_code == 405 else None
        return error_response(request, exc.status_code, name, detail, headers=allow)

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """Every method some route of this path accepts (the router names only its first match)."""
    routes = request.app.router.routes
    return ", ".join(
        m
        for m in _METHODS
        if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)
    )


_NO_SUCH_PATH = "no such path; the API's paths do not end with a slash"


def _slashed(request: Request) -> bool:
    """Whether the path ends with a slash (and is not just "/"): the hint is then useful."""
    path = str(request.scope.get("path", ""))
    return len(path) > 1 and path.endswith("/")


_HTTP_DETAILS = {
    405: "this path does not accept that method; the Allow header lists those it does",
    413: "the request body is larger than the gateway accepts",
}


def _frames(exc: BaseException) -> str:
    """Where an exception (and what caused it) happened: types and frames, no messages."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(type(current).__qualname__)
        lines += [
            f'  File "{f.filename}", line {f.lineno}, in {f.name}'
            for f in traceback.extract_tb(current.__traceback__)
        ]
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


class UnexpectedErrorMiddleware:
    """Turns any exception no handler took into the 500 error shape, logged once.

    It sits inside the request id middleware and catches what would otherwise reach the
    server, which would log the exception a second time, message and all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            request = Request(scope)
            rid = _rid(request)
            log.error("unhandled %s request_id=%s\n%s", type(exc).__name__, rid, _frames(exc))
            if started:  # a streamed body was cut: the missing end tells the client
                return
            response = error_response(request, 500, "InternalError", "internal error")
            await response(scope, receive, send)
