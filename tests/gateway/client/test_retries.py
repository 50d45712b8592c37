"""Retries against a real local server whose front answers 429/503 before the gateway does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.api.app import create_app
from gateway.client import NO_RETRY, GatewayAPIError, GatewayClient, RetryPolicy
from gateway.client.retry import parse_retry_after
from tests.conftest import Gateway
from tests.gateway.client.live import serving


@dataclass
class Flaky:
    """ASGI front: the next ``refusals`` requests get ``status`` (with ``retry_after``)."""

    app: Any
    refusals: list[tuple[int, str | None]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # "METHOD path -> status"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.refusals:
            if scope["type"] == "http":
                self.seen.append(f"{scope['method']} {scope['path']} -> gateway")
            await self.app(scope, receive, send)
            return
        status, retry_after = self.refusals.pop(0)
        self.seen.append(f"{scope['method']} {scope['path']} -> {status}")
        body = json.dumps(
            {
                "error": "Unavailable" if status == 503 else "TooManyRequests",
                "detail": "busy",
                "request_id": "front",
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"x-request-id", b"front")]
        if retry_after is not None:
            headers.append((b"retry-after", retry_after.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def flaky(gateway: Gateway) -> Iterator[tuple[Flaky, str, Gateway]]:
    front = Flaky(create_app(ctx=gateway.ctx))
    with serving(front) as url:
        yield front, url, gateway


def test_retry_after_is_honoured(flaky: tuple[Flaky, str, Gateway]) -> None:
    front, url, gw = flaky
    front.refusals = [(429, "1"), (503, "0")]
    with GatewayClient(url, gw.keys["heping-committee"]) as client:
        started = time.monotonic()
        assert client.me().name == "heping-committee"
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # waited the second the server asked for
    assert [s.rsplit(" ", 1)[-1] for s in front.seen] == ["429", "503", "gateway"]


def test_backoff_without_retry_after_grows_and_is_bounded(
    flaky: tuple[Flaky, str, Gateway],
) -> None:
    front, url, gw = flaky
    front.refusals = [(503, None)] * 3
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, backoff=0.2, max_backoff=0.5)
    with GatewayClient(url, gw.keys["heping-committee"], retry=policy, sleep=waits.append) as c:
        assert c.me().name == "heping-committee"
    assert len(waits) == 3
    assert 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4 and 0.25 <= waits[2] <= 0.5


def test_gives_up_after_the_last_attempt_with_the_servers_error(
    flaky: tuple[Flaky, str, Gateway],
) -> None:
    front, url, gw = flaky
    front.refusals = [(503, "0")] * 5
    client = GatewayClient(url, gw.keys["heping-committee"], retry=RetryPolicy(attempts=3))
    with client, pytest.raises(GatewayAPIError) as err:
        client.me()
    assert (err.value.status, err.value.error) == (503, "Unavailable")
    assert err.value.request_id == "front"
    assert len(front.seen) == 3 and len(front.refusals) == 2


def test_a_retry_after_beyond_the_bound_is_not_waited_for(
    flaky: tuple[Flaky, str, Gateway],
) -> None:
    front, url, gw = flaky
    front.refusals = [(429, "3600")]
    with GatewayClient(url, gw.keys["heping-committee"]) as c:
        started = time.monotonic()
        with pytest.raises(GatewayAPIError) as err:
            c.me()
    assert time.monotonic() - started < 5
    assert err.value.status == 429 and err.value.retry_after == 3600


def test_other_errors_and_no_retry_policy_are_final(flaky: tuple[Flaky, str, Gateway]) -> None:
    front, url, gw = flaky
    front.refusals = [(503, "0")]
    with GatewayClient(url, gw.keys["heping-committee"], retry=NO_RETRY) as c:
        with pytest.raises(GatewayAPIError):
            c.me()
        assert c.me().name == "heping-committee"  # the refusal was used up by one try
        with pytest.raises(GatewayAPIError) as missing:
            c.request("nothing-here")
    assert missing.value.status == 404
    assert sum("nothing-here" in s for s in front.seen) == 1  # a 404 is never repeated


def test_a_post_refused_first_is_sent_again_and_acts_once(
    flaky: tuple[Flaky, str, Gateway],
) -> None:
    front, url, gw = flaky
    front.refusals = [(503, "0"), (503, "0")]
    dept = GatewayClient(url, gw.keys["civil-affairs"])
    with dept, pytest.raises(GatewayAPIError) as err:
        dept.add_source("bad name!", "sqlite:////nonexistent.db")
    assert err.value.status == 422
    assert [s.split(" -> ")[1] for s in front.seen] == ["503", "503", "gateway"]


def test_retry_after_header_forms() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
