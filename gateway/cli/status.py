"""``cdg status``: is the gateway at --url up, and who is the key's principal."""

from __future__ import annotations

from typing import Any

from gateway.cli.remote import (
    DEFAULT_URL,
    JsonOption,
    KeyOption,
    UrlOption,
    open_client,
    refused,
    show,
)
from gateway.client import GatewayAPIError


def status(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """The gateway answers and reaches its store (/healthz); with a key, whose key it is."""
    client = open_client(url, key, as_json)
    try:
        out: dict[str, Any] = {"url": client.shown_url, **client.health()}
        if key:
            out["principal"] = client.me().name
    except GatewayAPIError as exc:
        raise refused(exc, as_json) from None
    finally:
        client.close()
    show(out, as_json)
