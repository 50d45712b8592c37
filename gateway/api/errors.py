"""One error shape for every failure: {"error", "detail", "request_id"}.

Handlers never echo exception text or the submitted input: validation errors
report where and what kind of problem, not the value; unexpected errors are
logged by type and request id only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.errors import GatewayError

log = logging.getLogger("gateway.api")

_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


def _rid(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(
    request: Request, status: int, error: str, detail: str, reason: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail, "request_id": _rid(request)}
    if reason:
        body["reason"] = reason
    return JSONResponse(body, status_code=status)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")


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
        return error_response(request, exc.status_code, exc.error_type, exc.detail, exc.reason)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 422, "InvalidRequest", _validation_detail(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400:  # FastAPI could not parse the body (too deep, undecodable)
            detail = "the request body is not valid JSON"
            return error_response(request, 422, "InvalidRequest", detail)
        name = _HTTP_NAMES.get(exc.status_code, "HTTPError")
        return error_response(request, exc.status_code, name, name)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s request_id=%s", type(exc).__name__, _rid(request))
        return error_response(request, 500, "InternalError", "internal error")

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
