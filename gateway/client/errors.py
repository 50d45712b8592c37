"""The one exception the client raises: the gateway's documented error shape.

Every failure a caller of :class:`~gateway.client.GatewayClient` sees is a
``GatewayAPIError`` carrying the fields of the gateway's error body
(``{"error", "detail", "request_id", "reason"}``, see docs/api.md "Errors") plus the
HTTP status. When no answer came (the gateway could not be reached, the connection
broke, the answer was not the documented shape) ``status`` is ``None`` or the status
seen, ``error`` names what happened on this side, and ``request_id`` is empty.
"""

from __future__ import annotations

from typing import Any

# ``error`` values the client itself uses when the gateway gave no error body.
CONNECTION_FAILED = "ConnectionFailed"
TIMED_OUT = "TimedOut"
BAD_RESPONSE = "BadResponse"
INVALID_ARGUMENT = "InvalidArgument"  # the URL or key given to the client cannot be used


class GatewayAPIError(Exception):
    """An error answer of the gateway, or no usable answer at all."""

    def __init__(
        self,
        status: int | None,
        error: str,
        detail: str,
        request_id: str = "",
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{error}: {detail}" if status is None else f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.request_id = request_id
        self.reason = reason
        self.retry_after = retry_after

    @property
    def code(self) -> str:
        """The stable code: the reason code where the gateway gave one, else the error type."""
        return self.reason or self.error

    def as_dict(self) -> dict[str, Any]:
        """The documented error shape, with the status: what ``cdg ... --json`` prints."""
        return {
            "status": self.status,
            "error": self.error,
            "detail": self.detail,
            "request_id": self.request_id,
            "reason": self.reason,
        }
