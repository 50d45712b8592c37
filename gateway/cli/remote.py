"""What commands that act on a running gateway share: ``--url``, ``--key``, errors.

``--url`` defaults to ``CDG_URL`` (else http://127.0.0.1:8000) and ``--key`` to
``CDG_API_KEY``: the command acts as the principal that key belongs to, through
:class:`gateway.client.GatewayClient`, so it may do exactly what that principal may do
over HTTP. A refusal prints the gateway's error (type, reason, detail, request id) and
exits 1; no key exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from gateway.cli.common import USAGE_ERROR, fail, print_json
from gateway.cli.text import _
from gateway.client import DEFAULT_URL, GatewayAPIError, GatewayClient
from gateway.client.errors import CONNECTION_FAILED

UrlOption = Annotated[
    str,
    typer.Option(
        "--url", envvar="CDG_URL", help="Base URL of the gateway (env CDG_URL)", show_default=True
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="CDG_API_KEY",
        help="API key to act with (env CDG_API_KEY)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


@contextmanager
def connected(url: str, key: str | None, as_json: bool = False) -> Iterator[GatewayClient]:
    """A client for ``url`` acting with ``key``; a GatewayAPIError becomes exit 1."""
    if not key:
        raise fail(_("no API key: give --key or set CDG_API_KEY"), USAGE_ERROR)
    client = open_client(url, key, as_json)
    try:
        yield client
    except GatewayAPIError as exc:
        raise refused(exc, as_json) from None
    finally:
        client.close()


def open_client(url: str, key: str | None, as_json: bool) -> GatewayClient:
    """A client, or exit 2 with a message for a URL or key it cannot use."""
    try:
        return GatewayClient(url or DEFAULT_URL, key)
    except GatewayAPIError as exc:
        raise refused(exc, as_json, USAGE_ERROR) from None


def refused(exc: GatewayAPIError, as_json: bool, code: int = 1) -> typer.Exit:
    """Print what the gateway said (JSON on stderr with ``--json``); exit 1 (``code``)."""
    if as_json:
        # Plain echo: a console would wrap long lines inside the JSON strings.
        typer.echo(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2), err=True)
        return typer.Exit(code)
    head = exc.error if exc.status is None else f"{exc.status} {exc.error}"
    if exc.reason:
        head += f" ({exc.reason})"
    message = f"{head}: {exc.detail}"
    if exc.error == CONNECTION_FAILED:
        message += " " + _("(is the gateway running there? Give --url or set CDG_URL)")
    if exc.request_id:
        message += " " + _("[request id %(rid)s]", rid=exc.request_id)
    return fail(message, code)


def show(data: object, as_json: bool, columns: list[str] | None = None) -> None:
    from gateway.cli.common import emit

    emit(data, as_json, columns)


__all__ = [
    "DEFAULT_URL",
    "JsonOption",
    "KeyOption",
    "UrlOption",
    "connected",
    "print_json",
    "refused",
    "show",
]
