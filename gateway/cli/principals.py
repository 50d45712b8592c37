"""``cdg principal add|list|revoke`` (the operator, on the local home) and
``cdg principal me|rotate-key|reissue-key|expire`` (through a running gateway, as the key's
principal)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from gateway.auth.repository import AuthRepository
from gateway.auth.service import add_principal, revoke_principal
from gateway.cli.common import emit, fail, instant, prepared
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.errors import GatewayError
from gateway.principal import KINDS
from gateway.store.engine import Store

app = typer.Typer(
    help="Principals (departments, apps, auditors) and their API keys.", no_args_is_help=True
)


def _store() -> Store:
    return Store.from_url(prepared().store_url)


@app.command("add")
def add(
    name: str,
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")],
    domain: Annotated[str, typer.Option(help="Department code, or the community an app serves")],
    role: Annotated[str, typer.Option(help="Role named in usage policies")],
    display_name: Annotated[str, typer.Option()] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a principal and print its API key (shown once)."""
    store = _store()
    try:
        with store.transaction() as session:
            row, key = add_principal(
                session, name=name, kind=kind, domain=domain, role=role, display_name=display_name
            )
            out = {
                "name": row.name,
                "kind": row.kind,
                "domain": row.domain,
                "role": row.role,
                "api_key": key,
            }
    except GatewayError as exc:
        raise fail(exc.detail) from None
    emit(out, as_json)


@app.command("list")
def listing(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List principals (never their keys)."""
    store = _store()
    with store.transaction() as session:
        rows = [
            {"name": p.name, "kind": p.kind, "domain": p.domain, "role": p.role, "active": p.active}
            for p in AuthRepository(session).all()
        ]
    emit(rows, as_json, ["name", "kind", "domain", "role", "active"])


@app.command("revoke")
def revoke(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Deactivate a principal and revoke all its API keys."""
    store = _store()
    try:
        with store.transaction() as session:
            revoke_principal(session, name)
    except GatewayError as exc:
        raise fail(exc.detail) from None
    emit({"revoked": name}, as_json)


KEY_COLUMNS = ["principal", "api_key", "prefix", "expires_at", "previous_keys_valid_until"]
ExpiresAt = Annotated[
    str | None,
    typer.Option(
        "--expires-at",
        help="When the new key stops working (RFC 3339 with zone); default: never",
        show_default=False,
    ),
]


@app.command("me")
def me(url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The principal the API key belongs to."""
    with connected(url, key, as_json) as gw:
        show(gw.me(), as_json)


@app.command("rotate-key")
def rotate_key(
    expires_at: ExpiresAt = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new API key for the key's own principal, shown once; the old one works for the
    grace period (CDG_KEY_ROTATION_GRACE_SECONDS), then stops."""
    with connected(url, key, as_json) as gw:
        show(gw.rotate_key(_instant(expires_at)), as_json)


@app.command("reissue-key")
def reissue_key(
    name: Annotated[
        str,
        typer.Argument(help="A staff principal of your department (the department itself acts)"),
    ],
    expires_at: ExpiresAt = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new API key for a principal, shown once; its earlier keys stop now."""
    with connected(url, key, as_json) as gw:
        show(gw.reissue_key(name, _instant(expires_at)), as_json)


@app.command("expire")
def expire(
    name: Annotated[str, typer.Argument(help="The principal whose keys stop")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every working API key of a staff principal stops now (its department acts)."""
    with connected(url, key, as_json) as gw:
        show(gw.expire_keys(name), as_json)


def _instant(value: str | None) -> datetime | None:
    return instant("--expires-at", value)
