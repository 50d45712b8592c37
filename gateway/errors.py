"""Errors the gateway reports to clients.

Every error a client can see is a ``GatewayError``; one handler turns it into the
documented shape ``{"error": <type>, "detail": <text>, "request_id": <id>}``.
Details are written by us, never copied from an exception, so no SQL, stack trace
or data value can reach a response through them.

    GatewayError (500)
    ├── Unauthenticated (401)
    ├── Forbidden (403)            carries a reason code
    ├── NotFound (404)
    ├── Conflict (409)
    ├── InvalidRequest (422)
    ├── SourceError (502)          the department's database failed
    ├── Unavailable (503)          busy for now: retry after ``retry_after`` seconds
    └── SourceTimeout (504)        the statement ran past its timeout
"""

from __future__ import annotations


class GatewayError(Exception):
    status_code = 500
    error_type = "InternalError"

    def __init__(self, detail: str = "internal error", *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


class Unauthenticated(GatewayError):
    status_code = 401
    error_type = "Unauthenticated"


class Forbidden(GatewayError):
    status_code = 403
    error_type = "Forbidden"


class NotFound(GatewayError):
    status_code = 404
    error_type = "NotFound"


class Conflict(GatewayError):
    status_code = 409
    error_type = "Conflict"


class InvalidRequest(GatewayError):
    status_code = 422
    error_type = "InvalidRequest"


class SourceError(GatewayError):
    status_code = 502
    error_type = "SourceError"


class Unavailable(GatewayError):
    status_code = 503
    error_type = "Unavailable"

    def __init__(self, detail: str, *, reason: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, reason=reason)
        self.retry_after = retry_after


class SourceTimeout(GatewayError):
    status_code = 504
    error_type = "SourceTimeout"
