"""The service's log lines: plain text or one JSON object per line, with the request id.

``CDG_LOG_FORMAT=json`` gives lines such as::

    {"time": "2026-12-04T15:20:01.123Z", "level": "INFO", "logger": "cdg.http",
     "message": "POST /v1/queries/{query_request}/run 200 41.0ms request_id=…",
     "request_id": "…", "method": "POST", "route": "/v1/queries/{query_request}/run",
     "status": 200, "duration_ms": 41.0}

Every line logged while a request is served carries its ``request_id`` (a context
variable set by the request-id middleware, also seen by worker threads FastAPI starts).

What a line never holds: exception messages and tracebacks. Both formatters drop
``exc_info`` and ``stack_info`` and keep only the exception's class, because a driver's
message can quote SQL and the values bound to it (an ID number, a source URL with its
password). The gateway's own messages are fixed texts with counts, classes and route
templates; only the whitelisted extra fields below are copied into JSON lines.
"""

from __future__ import annotations

import copy
import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("cdg_request_id", default=None)

# Extra fields a log call may attach (``extra={...}``) that JSON lines carry.
FIELDS = ("method", "route", "status", "duration_ms", "event", "outcome", "attempt")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


def _error_class(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[0] is not None:
        return record.exc_info[0].__name__
    return None


class TextFormatter(logging.Formatter):
    """``time level logger message`` with no traceback; an exception adds its class only."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        error = _error_class(record)
        record = copy.copy(record)  # other handlers keep the record as it was
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        line = super().format(record)
        return f"{line} error_class={error}" if error else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        error = _error_class(record)
        if error:
            out["error_class"] = error
        return json.dumps(out, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """``logging.config.dictConfig`` for the server: uvicorn's loggers and ``cdg.*``.

    uvicorn's access log stays off (``cdg serve``): it would write raw paths.
    """
    handler = {
        "class": "logging.StreamHandler",
        "formatter": fmt,
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"()": TextFormatter},
            "json": {"()": JsonFormatter},
        },
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
            "cdg": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
