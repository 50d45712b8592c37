"""Service log lines: text or JSON, the request id on every line of a request, and no
exception message or traceback in either format.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.logs import JsonFormatter, RequestIdFilter, TextFormatter, log_config, request_id_var
from tests.conftest import Gateway

SECRET = "SELECT * FROM residents WHERE id_number = '110101199003070000'"


def _record(exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("cdg.test", logging.ERROR, __file__, 1, "failed: %s", ("x",), exc_info)


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_no_exception_message_or_traceback_reaches_a_line(formatter: logging.Formatter) -> None:
    record = _record(exc=True)
    RequestIdFilter().filter(record)
    line = formatter.format(record)
    assert "\n" not in line and SECRET not in line and "Traceback" not in line
    assert "RuntimeError" in line  # the class is kept: an operator knows what failed
    assert record.exc_info is not None  # other handlers still see the record unchanged


def test_json_lines_carry_the_request_id_of_the_context() -> None:
    token = request_id_var.set("a" * 32)
    try:
        record = _record()
        RequestIdFilter().filter(record)
        out = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert out["request_id"] == "a" * 32 and out["level"] == "ERROR"
    assert out["logger"] == "cdg.test" and out["message"] == "failed: x"
    assert out["time"].endswith("Z")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("cdg")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_every_request_logs_one_json_line_with_its_id_and_route_template(
    gateway: Gateway, json_lines: io.StringIO
) -> None:
    r = gateway.post("heping-committee", "/v1/queries/qr_secret_id/run", {"params": {}})
    assert r.status_code == 404
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    access = [p for p in lines if p["logger"] == "cdg.http"]
    assert len(access) == 1
    assert access[0]["request_id"] == r.headers["x-request-id"]
    assert access[0]["route"] == "/v1/queries/{query_request}/run"
    assert access[0]["status"] == 404 and access[0]["method"] == "POST"
    assert "qr_secret_id" not in json_lines.getvalue()
    # Lines written inside the request (here the access log's own refusal entry) carry it too.
    assert all(p["request_id"] == r.headers["x-request-id"] for p in lines)


def test_the_server_config_uses_the_chosen_format() -> None:
    config = log_config("INFO", "json")
    assert config["handlers"]["default"]["formatter"] == "json"
    assert config["formatters"]["json"]["()"] is JsonFormatter
    assert log_config("DEBUG", "text")["loggers"]["cdg"]["level"] == "DEBUG"


def test_lines_written_in_the_run_thread_carry_the_request_id(
    gateway: Gateway, json_lines: io.StringIO
) -> None:
    # A run authenticates in its worker thread; a refused expired key is logged there.
    from datetime import timedelta

    from sqlalchemy import update

    from gateway.auth.models import ApiKey
    from gateway.auth.service import digest
    from gateway.store.base import utcnow

    with gateway.ctx.store.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.digest == digest(gateway.keys["heping-committee"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = gateway.post("heping-committee", "/v1/queries/qr_any/run", {"params": {}})
    assert r.status_code == 401 and r.json()["reason"] == "key_expired"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    refused = [p for p in lines if p["logger"] == "cdg.auth"]
    assert refused and all(p["request_id"] == r.headers["x-request-id"] for p in refused)
