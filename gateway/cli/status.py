"""``cdg status``: is the gateway at --url up, and who is the key's principal."""

from __future__ import annotations

from typing import Any

from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, refused, show
from gateway.client import GatewayAPIError, GatewayClient


def status(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """The gateway answers and reaches its store (/healthz); with a key, whose key it is."""
    client = GatewayClient(url, key)
    try:
        out: dict[str, Any] = {"url": client.base_url, **client.health()}
        if key:
            out["principal"] = client.me().name
    except GatewayAPIError as exc:
        raise refused(exc, as_json) from None
    finally:
        client.close()
    show(out, as_json)
